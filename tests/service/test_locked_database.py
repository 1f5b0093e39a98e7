"""A locked feedback database costs /feedback a quick 503 and nothing else, on the real server.

`mnist-serve` with 2 workers stores corrections while the test process locks the database: SQLite's
write lock for 12 s, or ACCESS EXCLUSIVE on PostgreSQL's corrections table for 10 s (what a
migration, VACUUM FULL or a backup does). Meanwhile clients keep sending corrections, and probes on
fresh connections (so both workers answer some) ask for /healthz and /predict. Every probe must be
answered within 0.5 s, every correction with a JSON 503 within about 2.5 s; both workers must have
been waiting on the database (their file open, or their session waiting for the lock), and once
the lock is gone corrections are stored again.
"""

import base64
import collections
import contextlib
import http.client
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mnist_mlp.data.corrections import open_store
from mnist_mlp.data.corrections.store import Correction
from tests.feedback_db import holding_lock, query
from tests.images import drawn_digit, encode
from tests.live_server import running

PNG = encode(drawn_digit())
CORRECTION = json.dumps({"image": base64.b64encode(PNG).decode(), "label": 7}).encode()
PROBE_LIMIT_S = 0.5
FEEDBACK_LIMIT_S = 3.0  # the edge's 2.5 s deadline, and the time to send and answer
SENDERS, PROBERS = 4, 4


def exchange(port, method, path, body=None, headers=None):
    """(status, JSON body, seconds) over a fresh connection; (None, the error, seconds) if none came."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    started = time.perf_counter()
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        answer = response.status, json.loads(response.read())
    except OSError as exc:
        answer = None, repr(exc)
    finally:
        connection.close()
    return *answer, time.perf_counter() - started


def send_correction(port, method="POST", path="/feedback"):
    return exchange(port, method, path, CORRECTION, {"Content-Type": "application/json"})


def workers(proc):
    return [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]


def has_open(pid, path):
    """Whether process `pid` has the file `path` open."""
    with contextlib.suppress(OSError):
        return any(fd.readlink() == Path(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    return False


def under_lock(port, seconds, waiting, spellings=(("POST", "/feedback"),)):
    """Send corrections and probe for `seconds`; (probe results, correction results, workers seen
    waiting on the database), each result (what, status, body, seconds). `waiting()` names them.
    Each sender sends its corrections as one of `spellings` (method, path) in turn."""
    probes, corrections, seen = [], [], set()
    stop = time.monotonic() + seconds

    def sender(method, path):
        while time.monotonic() < stop:
            corrections.append(("/feedback", *send_correction(port, method, path)))

    def prober():
        while time.monotonic() < stop:
            probes.append(("/healthz", *exchange(port, "GET", "/healthz")))
            status, body, elapsed = exchange(port, "POST", "/predict", PNG, {"Content-Type": "image/png"})
            probes.append(("/predict", status, body, elapsed))
            time.sleep(0.01)  # a probe every few ms is plenty, and leaves the shared cores some room

    threads = [threading.Thread(target=sender, args=spellings[i % len(spellings)]) for i in range(SENDERS)]
    threads += [threading.Thread(target=prober) for _ in range(PROBERS)]
    for thread in threads:
        thread.start()
    while time.monotonic() < stop:
        seen |= waiting()
        time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=60)
    return probes, corrections, seen


def check(probes, corrections, seen, proc):
    for what, results in (("/healthz", probes), ("/predict", probes), ("/feedback", corrections)):
        times = [elapsed for path, *_, elapsed in results if path == what]
        print(f"\n{what}: {len(times)} answers, the slowest in {max(times, default=0) * 1000:.0f} ms", end="")
    late = [
        (what, status, round(elapsed, 3)) for what, status, _, elapsed in probes if elapsed >= PROBE_LIMIT_S
    ]
    assert not late, late
    assert len(probes) > 50 and all(status == 200 for _, status, _, _ in probes)
    assert len(corrections) >= 2 * SENDERS
    for _, status, body, elapsed in corrections:
        assert status == 503 and set(body["error"]) == {"code", "message"}, (status, body)
        assert elapsed < FEEDBACK_LIMIT_S, (body, elapsed)
    assert seen == set(workers(proc)), (seen, workers(proc))


def recovered(port, timeout=30):
    """Whether a correction is stored again within `timeout` seconds of the lock's end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if send_correction(port)[0] == 201:
            return True
        time.sleep(0.5)
    return False


def existing_store(target):
    """Make the database, its schema and one row, as the server would have."""
    store = open_store(target)
    pixels = np.zeros((28, 28), dtype=np.uint8)
    store.add(Correction(pixels, PNG, label=1, predicted=1, confidence=0.9, model="m", source="api"))
    store.close()


SERVER = {"WORKERS": "2", "FEEDBACK_RATE": "1000000", "FEEDBACK_BURST": "1000000"}


def test_a_sqlite_write_lock_held_12_s_costs_only_feedback(tmp_path):
    path = str(tmp_path / "feedback.sqlite3")
    existing_store(path)
    with running(FEEDBACK_DB=path, **SERVER) as (proc, base):
        port = int(base.rpartition(":")[2])
        with holding_lock(path, at_most=60):
            results = under_lock(port, 11.5, lambda: {pid for pid in workers(proc) if has_open(pid, path)})
        check(*results, proc)
        assert recovered(port)


def test_a_correction_spelt_otherwise_still_waits_off_the_event_loop(tmp_path):
    """Werkzeug routes `post` as POST and `//feedback` as /feedback: such a correction waits on the
    locked database in an I/O thread like any other, not on the event loop /healthz needs."""
    path = str(tmp_path / "feedback.sqlite3")
    existing_store(path)
    with running(FEEDBACK_DB=path, **SERVER) as (proc, base):
        port = int(base.rpartition(":")[2])
        spellings = (("post", "/feedback"), ("POST", "//feedback"))
        with holding_lock(path, at_most=60):
            results = under_lock(
                port, 6, lambda: {pid for pid in workers(proc) if has_open(pid, path)}, spellings
            )
        check(*results, proc)


def test_a_postgresql_table_lock_held_10_s_costs_only_feedback(empty_postgres):
    pytest.importorskip("psycopg")
    existing_store(empty_postgres)
    # sessions waiting for a lock: on the table, or on a row a session stuck on the table holds
    waiting_sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    with running(FEEDBACK_DB=empty_postgres, **SERVER) as (proc, base):
        port = int(base.rpartition(":")[2])
        peak = [0]

        def waiting():
            # a waiting session per worker: each worker's store has one connection
            peak[0] = max(peak[0], query(empty_postgres, waiting_sql)[0][0])
            return set(workers(proc)) if peak[0] >= len(workers(proc)) else set()

        with holding_lock(empty_postgres, at_most=60):
            results = under_lock(port, 9.5, waiting)
        check(*results, proc)
        assert recovered(port)


def test_a_sqlite_file_deleted_under_the_server_is_never_made_again(tmp_path):
    """mnist-serve makes the file at start-up; its workers only open it. Deleted, then a worker
    killed: the respawned worker answers 503 like the others rather than start a second file
    whose ids would clash with the first."""
    import os
    import signal

    db = tmp_path / "feedback.sqlite3"
    with running(WORKERS="2", FEEDBACK_DB=str(db)) as (proc, base):
        port = int(base.rsplit(":", 1)[1])
        assert db.is_file()  # made before any correction was sent
        assert send_correction(port)[0] == 201
        db.unlink()
        crashed = workers(proc)[0]
        os.kill(crashed, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not (len(now := workers(proc)) == 2 and crashed not in now):
            assert time.monotonic() < deadline, "no worker respawned"
            time.sleep(0.05)
        time.sleep(1)  # the new worker serving
        statuses = {send_correction(port)[0] for _ in range(20)}  # fresh connections: both workers
        assert statuses == {503} and not db.exists(), statuses


def test_the_edge_offloads_the_routes_flask_runs_whatever_their_spelling(tmp_path):
    from mnist_mlp.service import create_app
    from mnist_mlp.service.edge import Edge

    edge = Edge(create_app({"FEEDBACK_DB": str(tmp_path / "feedback.sqlite3")}), 1_000_000, 10.0)
    offloaded = [("POST", "/feedback"), ("post", "/feedback"), ("POST", "//feedback"), ("HEAD", "/metrics")]
    inline = [("POST", "/predict"), ("GET", "/feedback"), ("OPTIONS", "/feedback"), ("POST", "/feedback/")]
    found = [edge._offloaded(*request) for request in offloaded + inline]
    assert found == ["feedback.feedback"] * 3 + ["metrics.metrics"] + [None] * 4


def test_a_flood_of_corrections_on_a_locked_database_leaves_scrapes_their_threads(tmp_path):
    """Corrections and scrapes shared one worker's threads: with the database locked, 40 clients'
    corrections held them all and every GET /metrics was a 503 (server_busy)."""
    path = str(tmp_path / "feedback.sqlite3")
    existing_store(path)
    with running(FEEDBACK_DB=path, **SERVER) as (_, base):
        port = int(base.rpartition(":")[2])
        stop = time.monotonic() + 6
        scrapes = []

        def sender():
            while time.monotonic() < stop:
                send_correction(port)

        senders = [threading.Thread(target=sender) for _ in range(40)]
        with holding_lock(path, at_most=8):
            for thread in senders:
                thread.start()
            time.sleep(1)  # the threads and waiting places of corrections taken
            while time.monotonic() < stop:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                connection.request("GET", "/metrics")
                scrapes.append(connection.getresponse().status)
                connection.close()
                time.sleep(0.05)
            for thread in senders:
                thread.join(timeout=30)
        assert len(scrapes) > 20 and set(scrapes) == {200}, collections.Counter(scrapes)
