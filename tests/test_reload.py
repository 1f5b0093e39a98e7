"""New weights without downtime: the real server under load from 8 keep-alive connections while its
weights file is replaced and reloaded (SIGHUP, and once POST /admin/reload), one corrupt file among
them. No request fails and no connection is closed, every answer names one of the good files, the
corrupt one never appears. Then the same reload in process, where its parts can be looked at."""

import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import signal
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from mnist_mlp.model import DEFAULT_WEIGHTS, load_weights, save_weights
from tests.live_server import running

CONNECTIONS = 8
TOKEN = "test-admin-token-of-32-characters"
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


def models_loaded(base):
    """The model ids /metrics reports loaded (mnist_model_info 1: the highest over the live workers)."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return set(re.findall(r'^mnist_model_info\{model_id="([^"]+)",[^}]*\} 1\.0$', text, re.MULTILINE))


def until(found, what, timeout=RELOAD_TIMEOUT_S, every=0.05):
    """What `found()` returns once it is truthy, asked every `every` s; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := found()):
        assert time.monotonic() < deadline, f"{what} not within {timeout:g} s"
        time.sleep(every)
    return result


def wait_for(base, wanted):
    """Until every worker serves `wanted`: /metrics says it alone is loaded, and a fresh connection
    is answered with it."""
    until(lambda: models_loaded(base) == {wanted} and served_model(base) == wanted, f"{wanted} served")


def wait_for_lines(path, words, count):
    """Until the server's log at `path` holds `count` lines with `words`; those lines."""

    def lines():
        found = [line for line in path.read_text().splitlines() if words in line]
        return found if len(found) >= count else None

    return until(lines, f"{count} {words!r} lines logged")


def worker_pids(proc):
    return sorted(int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split())


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
    log_path = tmp_path / "stderr.log"
    log = open(log_path, "w")  # noqa: SIM115 - read while the server runs, closed after
    env = {"MODEL_PATH": str(current), "WORKERS": "2", "ADMIN_TOKEN": TOKEN}
    with running(stderr=log, **env) as (proc, base), Load(base) as load:
        wait_for(base, model_id(good[0]))
        workers = worker_pids(proc)
        for path, trigger in [(good[1], "hup"), (corrupt, "hup"), (good[2], "hup"), (good[0], "admin")]:
            shutil.copyfile(path, tmp_path / "next.npz")
            os.replace(tmp_path / "next.npz", current)  # atomic, as a deployment should replace it
            if trigger == "hup":
                os.kill(proc.pid, signal.SIGHUP)
            else:
                assert admin_reload(base) == 202
            if path == corrupt:  # both workers try the file and refuse it
                refused = wait_for_lines(log_path, "weights refused", 2)
                assert models_loaded(base) == {model_id(good[1])}
            else:
                wait_for(base, model_id(path))
        time.sleep(0.5)
        assert worker_pids(proc) == workers  # reloaded in place: no worker was replaced
    log.close()
    seen = {status for status, _ in load.answers}
    models = {json.loads(body)["model"] for _, body in load.answers}
    print(f"{len(load.answers)} answers, models {sorted(models)}")
    assert load.failures == [] and seen == {200} and len(load.answers) > 1000
    assert models <= {model_id(p) for p in good} and model_id(corrupt) not in models
    assert len(refused) == 2 and all(str(current) in line for line in refused), refused


def test_after_a_worker_crash_metrics_report_only_the_models_live_workers_serve(tmp_path):
    good, _ = weight_files(tmp_path)
    current = tmp_path / "current.npz"
    shutil.copyfile(good[0], current)
    with running(MODEL_PATH=str(current), WORKERS="2") as (proc, base):
        wait_for(base, model_id(good[0]))
        crashed = worker_pids(proc)[0]
        os.kill(crashed, signal.SIGKILL)
        until(lambda: len(pids := worker_pids(proc)) == 2 and crashed not in pids, "a respawned worker")
        shutil.copyfile(good[1], tmp_path / "next.npz")
        os.replace(tmp_path / "next.npz", current)
        os.kill(proc.pid, signal.SIGHUP)
        wait_for(base, model_id(good[1]))  # the dead worker's gauge would keep good[0] at 1


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def wait_for(self, words):
        def found():
            return next((line for line in self.lines if words in line), None)

        return until(found, f"a {words!r} line", timeout=10, every=0.02)


def test_a_worker_swaps_its_classifier_in_place_and_keeps_it_when_the_file_is_bad(tmp_path, monkeypatch):
    """Also: a failure no one foresaw (here a MemoryError) is logged and the watcher goes on."""
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
    unforeseen = threading.Event()

    def load(path):
        if unforeseen.is_set():
            raise MemoryError
        return load_classifier(path)

    stop = reload.watch(app, state, reload.current_request(state), load)
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

        shutil.copyfile(good[2], current)
        unforeseen.set()
        reload.request_reload(state)
        assert (
            lines.wait_for("weights reload failed")
            == f"weights reload failed, still serving {second.model_id}"
        )
        assert app.extensions["classifier"] is second
        unforeseen.clear()
        (state / reload.RELOAD_REQUEST).unlink()  # as a /tmp cleaner would: asks for nothing
        time.sleep(3 * reload.POLL_S)
        assert app.extensions["classifier"] is second
        reload.request_reload(state)
        lines.wait_for(f"serving {model_id(good[2])}")
        assert sorted(f.name for f in state.iterdir()) == ["last-good.npz", reload.RELOAD_REQUEST]
    finally:
        stop.set()
