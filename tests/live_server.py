"""The real production server, `mnist-serve`, started for tests that talk HTTP to it."""

import contextlib
import subprocess

import pytest

from mnist_mlp.scripts.serving import ServerFailed, free_port, start, stop, wait_ready

__all__ = ["free_port", "running", "start", "stop", "wait_ready"]


@contextlib.contextmanager
def running(timeout=20.0, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=None, **env):
    """(process, base URL) of a server on a free port, ready (/readyz 200); stopped afterwards.

    Its access log goes nowhere unless `stdout` is given: a pipe nobody reads fills up and
    then blocks every worker's next log line. Feedback is off unless FEEDBACK_DB is given,
    so no test writes into the user's data folder.
    """
    port = free_port()
    proc = start({"PORT": str(port), "FEEDBACK_DB": "", **env}, stdout=stdout, stderr=stderr, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(proc, base, timeout)
        except ServerFailed as exc:
            pytest.fail(str(exc))
        yield proc, base
    finally:
        stop(proc)
