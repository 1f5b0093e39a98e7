"""The real `mnist-lab` process: start-up checks, the address it binds, and weights it hands on.

A run's saved weights must work where the project's weights work: served by the real
`mnist-serve` (MODEL_PATH) and read by `mnist-predict --weights`, ReLU and sigmoid alike.
"""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from mnist_mlp.model import load_weights
from tests import live_server
from tests.images import drawn_digit, encode
from tests.lab_server import call, running_lab, wait_until_ended
from tests.tools import run_module


def mnist_lab(*args, **env):
    return subprocess.run(
        [sys.executable, "-m", "mnist_mlp.lab", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (("--data-dir", "/nonexistent"), {}, "error: /nonexistent: no such folder"),
        ((), {"PORT": "http"}, "error: PORT must be an integer from 1 to 65535, got 'http'"),
        ((), {"PORT": "70000"}, "error: PORT must be an integer from 1 to 65535, got '70000'"),
        (
            (),
            {"HOST": "no.such.host.invalid", "PORT": "8000"},
            "error: cannot listen on no.such.host.invalid:8000",
        ),
    ],
)
def test_start_up_faults_stop_it_in_one_line(args, env, line):
    done = mnist_lab(*args, **env)
    assert done.returncode == 2
    assert done.stderr.startswith(line) and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_an_experiment_runs_without_the_page_and_says_what_went_wrong(small_mnist):
    done = subprocess.run(
        [sys.executable, "-m", "mnist_mlp.lab.experiment", "lr-10", "--data-dir", str(small_mnist)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "lr-10: Learning rate 10" and lines[1].endswith(": diverged")
    assert lines[2].startswith("  the NaN guard stopped training: loss became")
    missing = subprocess.run(
        [sys.executable, "-m", "mnist_mlp.lab.experiment", "lr-10", "--data-dir", "/nonexistent"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and missing.stderr.startswith("error: /nonexistent: no such folder")


def test_a_taken_port_fails_before_the_data_is_loaded(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # no data folder at all: the address is refused first
        done = mnist_lab("--data-dir", str(tmp_path / "absent"), PORT=str(port))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_it_binds_loopback_on_the_port_it_is_given(small_mnist):
    with running_lab(small_mnist) as (proc, base):
        status, answer = call("GET", f"{base}/api/runs")
        assert (
            status == 200 and answer["runs"] == [] and abs(answer["bounds"]["train_size"]["max"] - 1000) <= 5
        )  # 2,000 less 1,000 held out
        with urllib.request.urlopen(base + "/") as page:
            assert b'data-testid="lab-start"' in page.read()
        listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        port = base.rsplit(":", 1)[1]
        if listening:  # ss is there: the lab listens on loopback only
            lines = [line for line in listening.splitlines() if f":{port} " in line]
            assert lines and all("127.0.0.1:" in line for line in lines), lines


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_saved_weights_are_served_by_mnist_serve_and_read_by_mnist_predict(small_mnist, tmp_path, activation):
    drawing = tmp_path / "one.png"
    drawing.write_bytes(encode(drawn_digit()))
    with running_lab(small_mnist) as (_, base):
        status, answer = call("POST", f"{base}/api/runs", {"epochs": 15, "activation": activation})
        assert status == 201, answer
        run_id = answer["id"]
        ended = wait_until_ended(base, run_id)
        assert ended["state"] == "finished"
        _, lab_answer = call("POST", f"{base}/api/runs/{run_id}/predict", drawing.read_bytes(), "image/png")
        weights = tmp_path / "lab.npz"
        with urllib.request.urlopen(f"{base}/api/runs/{run_id}/weights.npz") as response:
            weights.write_bytes(response.read())
    _, meta = load_weights(weights)
    assert meta["activation"] == activation

    with live_server.running(MODEL_PATH=str(weights), WORKERS="1") as (_, served):
        with urllib.request.urlopen(served + "/model") as response:
            model = json.loads(response.read())
        assert model["architecture"]["activation"] == activation
        assert model["metadata"]["trained_by"] == "mnist-lab"
        request = urllib.request.Request(
            served + "/predict", data=drawing.read_bytes(), headers={"Content-Type": "image/png"}
        )
        with urllib.request.urlopen(request) as response:
            prediction = json.loads(response.read())
    assert prediction["digit"] == lab_answer["digit"]  # the same network, the same preprocessing

    predicted = run_module("predict", drawing, "--weights", weights)
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["digit"] == lab_answer["digit"]
