"""A token bucket per client, in this worker's memory only, bounded in size and in cost.

Each client may make `burst` requests at once and `rate` a second after that. Clients are named by
their key (service/clients.py), never their address, and are kept in least-recently-seen order:
each request moves its client to the end, and past `capacity` clients the one seen longest ago is
forgotten. Its bucket has had the longest to refill, so forgetting it (a full bucket again) changes
nothing unless more than `capacity` clients arrive within burst / rate seconds (10,000 in 20 s at
the defaults). Each call costs the same whatever the number of clients: a few dictionary operations,
never a scan. With several workers each has its own buckets, so a client gets up to WORKERS times the
rate: a bound against floods, not an exact quota.
"""

import threading
import time
from collections import OrderedDict

MAX_CLIENTS = 10_000  # buckets kept at most: about 2 MB


class RateLimiter:
    def __init__(self, rate, burst, clock=time.monotonic, capacity=MAX_CLIENTS):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.capacity = capacity
        self._buckets = OrderedDict()  # client -> (tokens, when they were counted), least recently seen first
        self._lock = threading.Lock()

    def wait(self, client, take=True):
        """0.0 if `client` may go ahead now (with `take`, a token is taken), else the seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            allowed = tokens >= 1
            self._buckets[client] = (tokens - 1 if allowed and take else tokens, now)
            if len(self._buckets) > self.capacity:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1 - tokens) / self.rate
