"""Memory the `mnist-serve` master shares with every worker it forks: the reload token and the
last good weights (service/worker.py says how the workers use them).

It is an anonymous in-memory file (a memfd), made by the master before granian forks the
workers, which inherit its descriptor: no path on disk, so a /tmp cleaner cannot take it
away, and nothing beyond the bytes written is allocated. Every access is a positional
read or write (pread, pwrite), so the processes never share a file offset.

    [token: 8 bytes][length of the last good weights: 8 bytes, 0 for none][their bytes]

Standard library only: the master imports this module and stays small (no NumPy, no Flask).
"""

import contextlib
import fcntl
import os
import secrets
import struct

TOKEN_BYTES = 8
LENGTH = struct.Struct("=Q")
DATA_AT = TOKEN_BYTES + LENGTH.size

_this_server = None  # made by the master (share), inherited by the workers it forks


def share():
    """Make this server's Shared memory: the master calls it once, before granian forks a worker."""
    global _this_server
    _this_server = Shared()
    return _this_server


def this_server():
    """This server's Shared memory; None outside mnist-serve (`flask run`, a test's app)."""
    return _this_server


class Shared:
    def __init__(self):
        self._fd = os.memfd_create("mnist-serve")
        os.pwrite(self._fd, bytes(DATA_AT), 0)

    def token(self):
        """Bytes that change whenever a reload is asked for."""
        return os.pread(self._fd, TOKEN_BYTES, 0)

    def request_reload(self):
        """Ask every worker to load MODEL_PATH again. A fresh random token, not a count: two
        requests at the same moment still change it, with no lock."""
        os.pwrite(self._fd, secrets.token_bytes(TOKEN_BYTES), 0)

    def publish(self, data):
        """Keep `data`, the bytes of weights that loaded, as the last good weights."""
        with self._locked(fcntl.LOCK_EX):
            os.ftruncate(self._fd, DATA_AT + len(data))
            os.pwrite(self._fd, data, DATA_AT)
            os.pwrite(self._fd, LENGTH.pack(len(data)), TOKEN_BYTES)

    def last_good(self):
        """The bytes of the last good weights, or None before any loaded."""
        with self._locked(fcntl.LOCK_SH):
            (length,) = LENGTH.unpack(os.pread(self._fd, LENGTH.size, TOKEN_BYTES))
            return os.pread(self._fd, length, DATA_AT) if length else None

    @contextlib.contextmanager
    def _locked(self, kind):
        # POSIX record locks: they keep processes apart (within one, a single thread writes)
        fcntl.lockf(self._fd, kind)
        try:
            yield
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
