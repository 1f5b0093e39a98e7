"""New weights without downtime: the real server under load from 8 keep-alive connections while its
weights file is replaced and reloaded (SIGHUP, and once POST /admin/reload), one corrupt file among
them. No request fails and no connection is closed, every answer names one of the good files, the
corrupt one never appears. Then the same reload in process, where its parts can be looked at."""

import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import signal
import socket
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

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
    """CONNECTIONS threads asking GET /model over keep-alive connections until stopped.

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
        connection.request("GET", "/model")
        response = connection.getresponse()
        body = response.read()
        return response.status, body


def served_model(base):
    """The model a fresh connection is answered with."""
    with urllib.request.urlopen(base + "/model", timeout=10) as response:
        return json.loads(response.read())["id"]


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


def until_every_worker_started(proc, temp):
    """Until each worker of the server `proc`, whose TMPDIR is `temp`, has made its model's gauge:
    the last file a starting worker makes in the metrics folder."""
    (metrics,) = temp.glob("mnist-metrics-*")
    every_gauge = lambda: all((metrics / f"gauge_livemax_{pid}.db").exists() for pid in worker_pids(proc))  # noqa: E731
    until(every_gauge, "every worker started")


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
    models = {json.loads(body)["id"] for _, body in load.answers}
    print(f"{len(load.answers)} answers, models {sorted(models)}")
    assert load.failures == [] and seen == {200} and len(load.answers) > 1000
    assert models <= {model_id(p) for p in good} and model_id(corrupt) not in models
    assert len(refused) == 2 and all(str(current) in line for line in refused), refused


def test_after_a_worker_crash_metrics_report_only_the_models_live_workers_serve(tmp_path):
    good, _ = weight_files(tmp_path)
    current, temp = tmp_path / "current.npz", tmp_path / "tmp"
    temp.mkdir()
    shutil.copyfile(good[0], current)
    with running(MODEL_PATH=str(current), WORKERS="2", TMPDIR=str(temp)) as (proc, base):
        wait_for(base, model_id(good[0]))
        # both workers up before one is killed: with the other still starting, none would listen
        until_every_worker_started(proc, temp)
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
    """Also: a failure no one foresaw (here a MemoryError) is logged and the watcher goes on; the
    worker is not ready while it loads; a worker started while the file is bad serves the last
    good weights, and without any it does not start."""
    from mnist_mlp.service import StartupError, worker
    from mnist_mlp.service.config import load_settings
    from mnist_mlp.service.shared import Shared

    lines = Lines()
    monkeypatch.setattr(worker.log, "handlers", [lines])
    monkeypatch.setattr(worker.log, "level", logging.INFO)

    good, corrupt = weight_files(tmp_path)
    current = tmp_path / "current.npz"
    shutil.copyfile(good[0], current)
    settings = load_settings({"MODEL_PATH": str(current)})
    memory = Shared()
    app, life = worker.start(settings, memory)
    unforeseen, loading, release = threading.Event(), threading.Event(), threading.Event()
    load_classifier = worker.load_classifier

    def load(path):
        if unforeseen.is_set():
            raise MemoryError
        loading.set()
        release.wait(10)
        return load_classifier(path)

    monkeypatch.setattr(worker, "load_classifier", load)
    release.set()
    stop = life.watch()
    client = app.test_client()
    try:
        first = app.extensions["classifier"]
        assert first.model_id == model_id(good[0]) and memory.last_good() == good[0].read_bytes()

        shutil.copyfile(good[1], current)
        release.clear()
        memory.request_reload()
        assert loading.wait(10)
        assert client.get("/readyz").status_code == 503 and client.get("/v2/health/ready").status_code == 503
        release.set()
        line = lines.wait_for("weights reloaded")
        second = app.extensions["classifier"]
        assert second.model_id == model_id(good[1]) and client.get("/readyz").status_code == 200
        assert line == f"weights reloaded: serving {second.model_id} (was {first.model_id})"
        metrics = client.get("/metrics").get_data(as_text=True)
        assert f'model_id="{first.model_id}",sha256="{first.sha256}"}} 0.0' in metrics
        assert f'model_id="{second.model_id}",sha256="{second.sha256}"}} 1.0' in metrics
        assert client.get("/readyz").json["model"] == second.model_id

        shutil.copyfile(corrupt, current)
        memory.request_reload()
        line = lines.wait_for("weights refused")
        assert line.startswith(
            f"weights refused, still serving {second.model_id}: cannot load weights: {current}:"
        )
        assert app.extensions["classifier"] is second
        assert memory.last_good() == good[1].read_bytes()

        shutil.copyfile(good[2], current)
        unforeseen.set()
        memory.request_reload()
        assert (
            lines.wait_for("weights reload failed")
            == f"weights reload failed, still serving {second.model_id}"
        )
        assert app.extensions["classifier"] is second
        unforeseen.clear()
        memory.request_reload()
        lines.wait_for(f"serving {model_id(good[2])}")
    finally:
        stop.set()

    shutil.copyfile(corrupt, current)  # a worker respawned now serves the last good weights
    respawned, _ = worker.start(settings, memory)
    assert respawned.extensions["classifier"].model_id == model_id(good[2])
    assert lines.wait_for("weights refused, serving the last ones that loaded").endswith(
        f"cannot load weights: {current}: not a readable .npz file, truncated or corrupt "
        "(File is not a zip file)"
    )
    with pytest.raises(StartupError, match="cannot load weights"):
        worker.start(settings, Shared())  # nothing loaded before: nothing to fall back on


def test_a_reload_asked_for_while_a_worker_starts_is_not_missed(tmp_path, monkeypatch):
    from mnist_mlp.service import worker
    from mnist_mlp.service.config import load_settings
    from mnist_mlp.service.shared import Shared

    good, _ = weight_files(tmp_path)
    current = tmp_path / "current.npz"
    shutil.copyfile(good[0], current)
    memory = Shared()
    load_classifier = worker.load_classifier

    def load_then_replace(path):  # the file replaced and SIGHUP sent while the worker loads
        loaded = load_classifier(path)
        if not memory.last_good():
            shutil.copyfile(good[1], current)
            memory.request_reload()
        return loaded

    monkeypatch.setattr(worker, "load_classifier", load_then_replace)
    app, life = worker.start(load_settings({"MODEL_PATH": str(current)}), memory)
    stop = life.watch()
    try:
        until(
            lambda: app.extensions["classifier"].model_id == model_id(good[1]), "the second file served", 10
        )
    finally:
        stop.set()


@contextlib.contextmanager
def serving_a_copy(weights, current, temp, log_path):
    """(process, base URL) of a 2-worker server on `current`, a copy of `weights`, once it serves
    it: its TMPDIR is the new folder `temp`, its stderr goes to `log_path`."""
    temp.mkdir()
    shutil.copyfile(weights, current)
    with open(log_path, "w") as log:
        env = {"MODEL_PATH": str(current), "WORKERS": "2", "TMPDIR": str(temp)}
        with running(stderr=log, **env) as (proc, base):
            wait_for(base, model_id(weights))
            yield proc, base


def test_a_cleaned_temp_folder_and_a_bad_file_do_not_stop_a_server_whose_worker_crashed(tmp_path):
    """Everything the server made in $TMPDIR removed (a /tmp cleaner), MODEL_PATH replaced by a
    bad file, then a worker killed: the new worker serves the last good weights, saying why in
    one line that names the real cause, and the server goes on (no crash loop), reloads included."""
    good, corrupt = weight_files(tmp_path)
    current, temp, log_path = tmp_path / "current.npz", tmp_path / "tmp", tmp_path / "stderr.log"
    with serving_a_copy(good[0], current, temp, log_path) as (proc, base):
        until_every_worker_started(proc, temp)  # the cleaning below happens to a running server
        shutil.copyfile(corrupt, current)
        for made in temp.iterdir():
            shutil.rmtree(made)
        crashed = worker_pids(proc)[0]
        os.kill(crashed, signal.SIGKILL)
        until(lambda: len(pids := worker_pids(proc)) == 2 and crashed not in pids, "a respawned worker")
        (line,) = wait_for_lines(log_path, "serving the last ones that loaded", 1)
        assert f"cannot load weights: {current}: not a readable .npz file, truncated or corrupt" in line
        time.sleep(7)  # granian calls it a crash loop when a worker fails again within 5.5 s
        assert proc.poll() is None
        assert {served_model(base) for _ in range(40)} == {model_id(good[0])}  # both workers
        shutil.copyfile(good[1], current)
        os.kill(proc.pid, signal.SIGHUP)
        wait_for(base, model_id(good[1]))


def test_a_huge_weights_file_is_refused_before_it_is_read(tmp_path):
    """A 2 GiB (sparse) MODEL_PATH: refused from its size, nothing copied, no worker grows."""
    good, _ = weight_files(tmp_path)
    current, temp, log_path = tmp_path / "current.npz", tmp_path / "tmp", tmp_path / "stderr.log"
    with serving_a_copy(good[0], current, temp, log_path) as (proc, base):
        with open(tmp_path / "huge.npz", "wb") as huge:
            huge.truncate(2 * 2**30)
        os.replace(tmp_path / "huge.npz", current)
        os.kill(proc.pid, signal.SIGHUP)
        refused = wait_for_lines(log_path, "weights refused", 2)
        assert all(line.endswith(f"{current}: is 2048.0 MiB; the limit is 64 MiB") for line in refused)
        assert served_model(base) == model_id(good[0])
        written = sum(f.stat().st_size for f in temp.rglob("*") if f.is_file())
        assert written < 2**20, written  # the metrics files alone
        for pid in worker_pids(proc):
            peak = next(
                line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if "VmHWM" in line
            )
            assert int(peak.split()[1]) < 400 * 1024, peak  # kB: far below the file's 2 GiB


def test_a_stopping_worker_is_not_ready(tmp_path):
    """After SIGTERM the worker finishes what it accepted: a /readyz among that is a 503."""
    with running(WORKERS="1") as (proc, base):
        port = urllib.parse.urlsplit(base).port
        # a body that never completes keeps the worker draining; a request head not yet ended
        # is accepted, and answered once it ends
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 99\r\n\r\n1"
        )
        probe = socket.create_connection(("127.0.0.1", port))
        probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGTERM)
        time.sleep(0.5)
        probe.sendall(b"\r\n")
        probe.settimeout(5)
        answer = probe.recv(4096).decode()
        slow.close()
        probe.close()
    assert answer.startswith("HTTP/1.1 503") and '"status":"not ready"' in answer, answer
