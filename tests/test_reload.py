"""New weights without downtime: the real server under load from 8 keep-alive connections while its
weights file is replaced and reloaded (SIGHUP, and once POST /admin/reload), one corrupt file among
them. No request fails and no connection is closed, every answer names one of the good files, the
corrupt one never appears. Then the same reload in process, where its parts can be looked at."""

import hashlib
import http.client
import json
import logging
import os
import shutil
import signal
import threading
import time
import urllib.parse
import urllib.request

from mnist_mlp.model import DEFAULT_WEIGHTS, load_weights, save_weights
from tests.live_server import running

CONNECTIONS = 8
TOKEN = "test-admin-token"
RELOAD_TIMEOUT_S = 30.0


def model_id(path):
    return "mnist-mlp-" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def weight_files(folder):
    """Three good files of distinct ids (the same network, different metadata) and a corrupt one."""
    model, metadata = load_weights(DEFAULT_WEIGHTS)
    good = []
    for n in range(3):
        good.append(folder / f"good{n}.npz")
        save_weights(good[-1], model, {**metadata, "variant": n})
    corrupt = folder / "corrupt.npz"
    corrupt.write_bytes(good[0].read_bytes()[:5000])  # a copy cut short
    return good, corrupt


class Load:
    """CONNECTIONS threads asking GET /readyz over keep-alive connections until stopped.

    Each keeps one connection for the whole run: a reload happens inside the workers, so
    no connection may be closed under a client, and any error is a failed request.
    """

    def __init__(self, base):
        address = urllib.parse.urlsplit(base)
        self.host, self.port = address.hostname, address.port
        self.answers, self.failures = [], []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(CONNECTIONS)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _run(self):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        while not self.stopping.is_set():
            try:
                self.answers.append(self._ask(connection))
            except Exception as exc:
                self.failures.append(repr(exc))
                connection.close()
                connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.close()

    @staticmethod
    def _ask(connection):
        connection.request("GET", "/readyz")
        response = connection.getresponse()
        body = response.read()
        return response.status, body


def served_model(base):
    """The model a fresh connection is answered with."""
    with urllib.request.urlopen(base + "/readyz", timeout=10) as response:
        return json.loads(response.read())["model"]


def wait_for(base, wanted):
    """Until 20 fresh connections in a row are answered by `wanted` (both workers switched)."""
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    streak = 0
    while streak < 20:
        assert time.monotonic() < deadline, f"{wanted} not served within {RELOAD_TIMEOUT_S:g} s"
        streak = streak + 1 if served_model(base) == wanted else 0
        time.sleep(0.02)


def admin_reload(base):
    address = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("POST", "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    status = connection.getresponse().status
    connection.close()
    return status


def test_reloads_under_load_fail_nothing_and_refuse_the_corrupt_file(tmp_path):
    good, corrupt = weight_files(tmp_path)
    current = tmp_path / "current.npz"
    shutil.copyfile(good[0], current)
    log = open(tmp_path / "stderr.log", "w")  # noqa: SIM115 - read after the server stops
    env = {"MODEL_PATH": str(current), "WORKERS": "2", "ADMIN_TOKEN": TOKEN}
    with running(stderr=log, **env) as (proc, base), Load(base) as load:
        wait_for(base, model_id(good[0]))
        for path, trigger in [(good[1], "hup"), (corrupt, "hup"), (good[2], "hup"), (good[0], "admin")]:
            shutil.copyfile(path, tmp_path / "next.npz")
            os.replace(tmp_path / "next.npz", current)  # atomic, as a deployment should replace it
            if trigger == "hup":
                os.kill(proc.pid, signal.SIGHUP)
            else:
                assert admin_reload(base) == 202
            if path == corrupt:
                time.sleep(2)  # both workers have tried the file and refused it
                assert served_model(base) == model_id(good[1])
            else:
                wait_for(base, model_id(path))
        time.sleep(0.5)
    log.close()
    seen = {status for status, _ in load.answers}
    models = {json.loads(body)["model"] for _, body in load.answers}
    print(f"{len(load.answers)} answers, models {sorted(models)}")
    assert load.failures == [] and seen == {200} and len(load.answers) > 1000
    assert models <= {model_id(p) for p in good} and model_id(corrupt) not in models
    lines = (tmp_path / "stderr.log").read_text().splitlines()
    assert not [line for line in lines if "Respawning" in line]  # the workers were never replaced
    refused = [line for line in lines if "weights refused" in line]
    assert len(refused) == 2 and all(str(current) in line for line in refused), refused


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def wait_for(self, words):
        deadline = time.monotonic() + 10
        while not any(words in line for line in self.lines):
            assert time.monotonic() < deadline, f"no {words!r} line within 10 s"
            time.sleep(0.02)
        return next(line for line in self.lines if words in line)


def test_a_worker_swaps_its_classifier_in_place_and_keeps_it_when_the_file_is_bad(tmp_path, monkeypatch):
    from mnist_mlp.service import create_app, load_classifier, reload
    from mnist_mlp.service.last_good import build_app

    lines = Lines()
    monkeypatch.setattr(reload.log, "handlers", [lines])
    monkeypatch.setattr(reload.log, "level", logging.INFO)

    good, corrupt = weight_files(tmp_path)
    state, current = tmp_path / "state", tmp_path / "current.npz"
    state.mkdir()
    shutil.copyfile(good[0], current)
    monkeypatch.setenv("MNIST_SERVE_STATE_DIR", str(state))
    monkeypatch.setenv("MODEL_PATH", str(current))
    app = build_app(create_app)
    stop = reload.watch(app, state, reload.current_request(state), load_classifier)
    try:
        first = app.extensions["classifier"]
        assert first.model_id == model_id(good[0]) and (state / "last-good.npz").exists()

        shutil.copyfile(good[1], current)
        reload.request_reload(state)
        line = lines.wait_for("weights reloaded")
        second = app.extensions["classifier"]
        assert second.model_id == model_id(good[1])
        assert line == f"weights reloaded: serving {second.model_id} (was {first.model_id})"
        metrics = app.test_client().get("/metrics").get_data(as_text=True)
        assert f'model_id="{first.model_id}",sha256="{first.sha256}"}} 0.0' in metrics
        assert f'model_id="{second.model_id}",sha256="{second.sha256}"}} 1.0' in metrics
        answer = app.test_client().get("/readyz").json
        assert answer["model"] == second.model_id

        shutil.copyfile(corrupt, current)
        reload.request_reload(state)
        line = lines.wait_for("weights refused")
        assert line.startswith(
            f"weights refused, still serving {second.model_id}: cannot load weights: {current}:"
        )
        assert app.extensions["classifier"] is second
        assert model_id(state / "last-good.npz") == second.model_id
    finally:
        stop.set()
