"""The real `mnist-lab`, started for tests that talk HTTP to it or drive its page in a browser."""

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from mnist_mlp.scripts.serving import free_port, stop


@contextlib.contextmanager
def running_lab(data_dir, timeout=60.0, **env):
    """(process, base URL) of `python -m mnist_mlp.lab --data-dir data_dir` on a free port, once it
    answers; stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_mlp.lab", "--data-dir", str(data_dir)],
        env={**_environ(), "PORT": str(port), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mnist-lab exited with status {proc.returncode}: {proc.stderr.read()}")
            try:
                with urllib.request.urlopen(base + "/api/runs", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"mnist-lab did not answer within {timeout:.0f} s")
                time.sleep(0.1)
        yield proc, base
    finally:
        stop(proc)


def _environ():
    import os

    return {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}  # the lab sets its own


def call(method, url, body=None, content_type="application/json"):
    """(status, JSON answer) of one request; HTTP errors are answers too."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_ended(base, run_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, answer = call("GET", f"{base}/api/runs/{run_id}")
        assert status == 200, answer
        if answer["state"] != "running":
            return answer
        time.sleep(0.1)
    pytest.fail(f"run {run_id} still running after {timeout} s")
