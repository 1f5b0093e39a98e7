"""The real production server, `mnist-serve`, started for tests that talk HTTP to it."""

import contextlib
import subprocess

import pytest

from mnist_mlp.scripts.serving import ServerFailed, free_port, start, stop, wait_ready

__all__ = ["free_port", "running", "start", "stop"]


@contextlib.contextmanager
def running(timeout=20.0, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **env):
    """(process, base URL) of a server on a free port, ready (/readyz 200); stopped afterwards."""
    port = free_port()
    proc = start({"PORT": str(port), **env}, stdout=stdout, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(proc, base, timeout)
        except ServerFailed as exc:
            pytest.fail(str(exc))
        yield proc, base
    finally:
        stop(proc)
