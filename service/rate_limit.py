"""A token bucket per client address, in this worker's memory only.

Each client may make `burst` requests at once and `rate` a second after that. The addresses
live only in this dictionary, for as long as their bucket is not full again; they are never
stored or logged. With several workers each has its own buckets, so a client gets up to
WORKERS times the rate: a bound against floods, not an exact quota.
"""

import threading
import time

MAX_CLIENTS = 10_000  # beyond this many addresses at once, the full buckets are forgotten


class RateLimiter:
    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets = {}  # address -> (tokens, when they were counted)
        self._lock = threading.Lock()

    def wait(self, client):
        """0.0 if `client` may go ahead now (and a token is taken), else the seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._forget_full(now)
            return 0.0

    def _forget_full(self, now):
        """A full bucket is the same as no bucket: drop those."""
        self._buckets = {
            client: (tokens, then)
            for client, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self.rate < self.burst
        }
