"""The real production server, `python -m service`, started for tests that talk HTTP to it."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import REPO


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(stdout=subprocess.PIPE, stderr=subprocess.PIPE, **env):
    """`python -m service` with `env` added to this process's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "service"],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=stdout,
        stderr=stderr,
        text=True,
    )


@contextlib.contextmanager
def running(timeout=20.0, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **env):
    """(process, base URL) of a server on a free port, ready (/readyz 200); stopped afterwards."""
    port = free_port()
    proc = start(stdout=stdout, stderr=stderr, PORT=str(port), **env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while not _ready(base):
            if proc.poll() is not None:
                pytest.fail(f"the server exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                pytest.fail(f"the server was not ready within {timeout:.0f} s")
            time.sleep(0.05)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _ready(base):
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False
