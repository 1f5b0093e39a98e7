"""Start `mnist-serve` as its own process on a free loopback port and wait until it is ready.

Used by the service benchmark and the tests that talk HTTP to the real server.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

SERVE = [sys.executable, "-m", "mnist_mlp.service"]


class ServerFailed(RuntimeError):
    """The server exited or was not ready in time; the message says which."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(env=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, args=(), cwd=None):
    """The server process, with `env` added to this process's environment."""
    return subprocess.Popen(
        [*SERVE, *args],
        env={**os.environ, **(env or {})},
        stdout=stdout,
        stderr=stderr,
        text=True,
        cwd=cwd,
        start_new_session=True,  # its workers too can then be stopped as one process group
    )


def wait_ready(proc, base, timeout=30.0):
    """Seconds until `base`/readyz answered 200; ServerFailed if the process exits or time runs out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise ServerFailed(f"the server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    raise ServerFailed(f"the server was not ready within {timeout:.0f} s")


def stop(proc, timeout=10):
    """SIGTERM, then SIGKILL to the whole process group if it has not exited within `timeout`
    seconds; what it printed (workers left behind would hold its output pipes open)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # any worker that outlived its master
