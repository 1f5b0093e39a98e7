"""The production server: `mnist-serve` as a subprocess, over real HTTP."""

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest

from mnist_mlp.model import DEFAULT_WEIGHTS
from tests import live_server
from tests.images import RENDER_KINDS, drawn_digit, encode, mnist_test_set, render


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


def test_sigterm_shuts_down_cleanly():
    with live_server.running() as (proc, _):
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_keep_alive_serves_many_requests_on_one_connection(server):
    _, base = server
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    png = encode(drawn_digit())
    for _ in range(20):
        connection.request("POST", "/predict", body=png, headers={"Content-Type": "image/png"})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["digit"] == 1
    connection.close()


def test_every_response_is_nosniff_and_logs_escape_control_characters(tmp_path):
    log = tmp_path / "access.log"
    with open(log, "w") as out, live_server.running(stdout=out, LOG_FORMAT="text") as (_, base):
        status, _ = call(base + "/nope%0aGET%20/forged%20200")
        assert status == 404
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    lines = log.read_text().splitlines()
    assert any(line.startswith("GET /nope\\nGET /forged 200 404 ") for line in lines), lines
    assert not any(line.startswith("GET /forged") for line in lines)


def test_json_logs_are_one_object_a_line_with_a_timestamp(tmp_path):
    log = tmp_path / "access.log"
    with open(log, "w") as out, live_server.running(stdout=out, LOG_FORMAT="json") as (_, base):
        call(base + "/healthz")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records, "no access-log lines on stdout"
    (health,) = [r for r in records if r.get("path") == "/healthz"]
    assert health["status"] == 200 and health["method"] == "GET" and health["time"].endswith("+00:00")


def weights_file(tmp_path, name, change):
    """A copy of the shipped weights with `change(arrays)` applied, written as .npz."""
    with np.load(DEFAULT_WEIGHTS) as npz:
        arrays = {key: npz[key] for key in npz.files}
    change(arrays)
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _metadata(arrays, **changes):
    meta = json.loads(str(arrays["metadata"]))
    arrays["metadata"] = np.array(json.dumps({**meta, **changes}))


def _huge_member(path):
    """An .npz whose W0 declares 10^12 float32 values in its .npy header, and holds none of them."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (1_000_000, 1_000_000)}
    )
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("W0.npy", header.getvalue())


def bad_settings(tmp_path):
    """(name, environment, expected start of the one error line) of every start-up fault."""
    (tmp_path / "a-file").write_text("")  # a file where the feedback database's folder should be
    fifo = tmp_path / "weights.fifo"
    os.mkfifo(fifo)
    tiny_t = weights_file(tmp_path, "tiny-t.npz", lambda a: _metadata(a, temperature=5e-324))
    loud = weights_file(tmp_path, "loud.npz", lambda a: a.update(W2=np.full_like(a["W2"], 3e38)))
    huge = weights_file(tmp_path, "huge.npz", lambda a: a.pop("W0"))
    _huge_member(huge)
    return [
        (
            "missing",
            {"MODEL_PATH": "/nonexistent/w.npz"},
            "error: cannot load weights: /nonexistent/w.npz: no such file",
        ),
        ("fifo", {"MODEL_PATH": str(fifo)}, f"error: cannot load weights: {fifo}: is not a regular file"),
        (
            "temperature",
            {"MODEL_PATH": str(tiny_t)},
            f"error: cannot load weights: {tiny_t}: metadata 'temperature'",
        ),
        (
            "overflow",
            {"MODEL_PATH": str(loud)},
            f"error: cannot load weights: {loud}: the weights can give non-finite",
        ),
        (
            "huge member",
            {"MODEL_PATH": str(huge)},
            f"error: cannot load weights: {huge}: array W0 declares shape",
        ),
        ("workers", {"WORKERS": "none"}, "error: WORKERS must be an integer from 1 to 64, got 'none'"),
        ("port range", {"PORT": "70000"}, "error: PORT must be an integer from 1 to 65535, got '70000'"),
        ("log format", {"LOG_FORMAT": "xml"}, "error: LOG_FORMAT must be one of text, json, got 'xml'"),
        (
            "admin token",
            {"ADMIN_TOKEN": "admin"},
            "error: ADMIN_TOKEN must be at least 32 characters (it has 5)",
        ),
        (
            "timeout",
            {"BODY_TIMEOUT": "nan"},
            "error: BODY_TIMEOUT must be a number from 0.001 to 3600, got 'nan'",
        ),
        (
            "feedback file",
            {"FEEDBACK_DB": str(tmp_path / "a-file" / "feedback.sqlite3")},
            f"error: FEEDBACK_DB: {tmp_path / 'a-file' / 'feedback.sqlite3'}: ",
        ),
    ]


def test_an_empty_metrics_variable_leaves_no_files_in_the_current_folder(tmp_path):
    with live_server.running(PROMETHEUS_MULTIPROC_DIR="", cwd=tmp_path) as (_, base):
        assert call(base + "/healthz")[0] == 200
    assert not list(tmp_path.iterdir())


def test_every_bad_setting_or_weights_file_stops_start_up_in_one_line_leaving_nothing(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    for name, env, message in bad_settings(tmp_path):
        proc = live_server.start({"PORT": str(live_server.free_port()), "TMPDIR": str(scratch), **env})
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 2, (name, stderr)
        assert len(stderr.strip().splitlines()) == 1 and stderr.startswith(message), (name, stderr)
        assert not list(scratch.iterdir()), (name, list(scratch.iterdir()))


def test_a_port_in_use_is_one_line_and_leaves_nothing(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = live_server.start({"PORT": str(port), "TMPDIR": str(scratch)})
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not list(scratch.iterdir())


def test_help_and_version_do_not_start_a_server():
    for flag, expected in (
        ("--help", "MODEL_PATH"),
        ("--version", "mnist-serve "),
        ("--server-help", "--backlog"),
    ):
        proc = live_server.start({"PORT": "1"}, args=[flag])
        stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0 and expected in stdout, (flag, stdout, stderr)


def test_a_server_run_by_hand_stores_no_corrections_unless_asked(tmp_path):
    """Users' drawings are kept only when the operator names a database, and start-up says which."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    env.pop("FEEDBACK_DB", None)
    port = live_server.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_mlp.service"],
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        live_server.wait_ready(proc, base)
        status, body = call(base + "/model")
        assert status == 200 and json.loads(body)["feedback"] is False
        assert call(base + "/feedback", b"{}", {"Content-Type": "application/json"})[0] == 404
    finally:
        _, stderr = live_server.stop(proc)
    assert "feedback: off (set FEEDBACK_DB" in stderr, stderr
    assert not list(tmp_path.rglob("*.sqlite3"))
