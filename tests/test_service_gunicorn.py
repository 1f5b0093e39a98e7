"""The production server: `mnist-serve` as a subprocess, over real HTTP."""

import json
import signal
import urllib.error
import urllib.request

import numpy as np
import pytest

from tests import live_server
from tests.service_fixtures import RENDER_KINDS, drawn_digit, encode, mnist_test_set, render


def call(url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    metrics = tmp_path_factory.mktemp("metrics")
    with live_server.running(WORKERS="2", PROMETHEUS_MULTIPROC_DIR=str(metrics)) as (proc, base):
        yield proc, base


def test_predict_health_and_metrics_over_http(server):
    _, base = server
    png = encode(drawn_digit())
    for _ in range(8):  # several connections: both workers answer some
        status, body = call(base + "/predict", png, {"Content-Type": "image/png"})
        assert status == 200 and json.loads(body)["digit"] == 1
    assert call(base + "/healthz")[0] == 200
    assert call(base + "/v2/health/ready")[0] == 200
    status, body = call(base + "/predict", b"junk", {"Content-Type": "image/png"})
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_image"
    metrics = call(base + "/metrics")[1].decode()
    # The count covers every worker, whichever one answers the scrape.
    counted = {
        'mnist_http_requests_total{method="POST",route="/predict",status="200"}': 8,
        'mnist_predictions_total{digit="1"}': 8,  # its counter is made before the workers fork
        'mnist_predictions_total{digit="7"}': 0,
    }
    for series, count in counted.items():
        line = next(row for row in metrics.splitlines() if row.startswith(series))
        assert float(line.split()[-1]) == count, line
    assert "mnist_model_info{" in metrics


def test_rerendered_mnist_over_http(server):
    _, base = server
    x_test, y_test = mnist_test_set()
    rng = np.random.default_rng(7)
    idx = rng.choice(len(x_test), 40, replace=False)
    correct = 0
    for n, i in enumerate(idx):
        status, body = call(
            base + "/predict",
            render(x_test[i], RENDER_KINDS[n % 4], rng),
            {"Content-Type": "application/octet-stream"},
        )
        assert status == 200
        correct += json.loads(body)["digit"] == y_test[i]
    assert correct >= 36  # a sample of 40: the 1,000-image check runs in-process in test_preprocess


def test_sigterm_shuts_down_cleanly(server):
    proc, _ = server
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MODEL_PATH": "/nonexistent/w.npz"},
            "error: cannot load weights: /nonexistent/w.npz: no such file",
        ),
        ({"WORKERS": "none"}, "error: WORKERS must be a positive integer, got 'none'"),
    ],
)
def test_bad_configuration_is_one_line_and_nonzero(env, message):
    proc = live_server.start({"PORT": str(live_server.free_port()), **env})
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert stderr.strip() == message
