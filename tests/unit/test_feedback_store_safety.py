"""The store under a locked, moved, full or old database, on both back ends: bounded waits, nothing
written where it would be lost, a total cap, private files, a migrated schema."""

import contextlib
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from mnist_mlp.data.corrections import open_store
from mnist_mlp.data.corrections.store import (
    SCHEMA_VERSION,
    StoreFull,
    StoreUnavailable,
)
from tests.feedback_db import correction, holding_lock, make_version_1, query

WRITERS = 4  # request threads of one worker calling add at once
WRITE_BOUND_S = 2.0  # what a request may wait for the database before its 503
LOCK_HELD_S = 12.0  # the lock is released by then even if a write still waits (it would hang for ever)


def timed_adds(store, writers):
    """Each thread's (seconds, outcome) for one add, all started together."""
    results, start = [], threading.Barrier(writers)

    def add():
        start.wait()
        began = time.monotonic()
        try:
            outcome = store.add(correction())
        except StoreUnavailable as exc:
            outcome = exc
        results.append((time.monotonic() - began, outcome))

    threads = [threading.Thread(target=add) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_locked_database_costs_each_write_a_store_unavailable_within_2_s(feedback_db):
    store = open_store(feedback_db)
    store.add(correction())
    with holding_lock(feedback_db, at_most=LOCK_HELD_S):
        results = timed_adds(store, WRITERS)
    assert all(isinstance(outcome, StoreUnavailable) for _, outcome in results), results
    assert max(seconds for seconds, _ in results) < WRITE_BOUND_S, results
    assert store.add(correction()) > 0  # the lock gone, the same store writes again
    assert len(store.corrections()) == 2


@pytest.mark.parametrize("change", ["delete", "move", "replace"])
def test_a_sqlite_file_deleted_moved_or_replaced_is_never_written_nor_made_again(tmp_path, change):
    path = tmp_path / "feedback.sqlite3"
    store = open_store(path)
    store.add(correction())
    elsewhere = tmp_path / "elsewhere.sqlite3"
    if change == "delete":
        path.unlink()
    elif change == "move":  # with its -wal and -shm, which hold the latest writes
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").rename(f"{elsewhere}{suffix}")
    else:  # a backup put in its place
        with (
            contextlib.closing(sqlite3.connect(path)) as live,
            contextlib.closing(sqlite3.connect(elsewhere)) as copy,
        ):
            live.backup(copy)
        os.replace(elsewhere, path)
    for _ in range(2):  # and again: a failed call reconnects, but never to a new or other file
        with pytest.raises(StoreUnavailable, match="deleted, moved or replaced"):
            store.add(correction())
    if change == "delete":
        assert not path.exists()
    else:
        assert query(str(path if change == "replace" else elsewhere), "SELECT COUNT(*) FROM corrections") == [
            (1,)
        ]
    restarted = open_store(path)  # a server started afterwards uses what the path names now
    assert restarted.add(correction()) > 0


def test_the_store_stops_at_its_row_cap_with_store_full(feedback_db):
    store = open_store(feedback_db, max_rows=3)
    ids = [store.add(correction(seed=n)) for n in range(3)]
    with pytest.raises(StoreFull, match="full: 3 corrections"):
        store.add(correction())
    assert issubclass(StoreFull, StoreUnavailable)  # a service that knows only StoreUnavailable answers 503
    assert len(store.corrections()) == 3
    store.review(ids[:2], "rejected")
    assert store.prune() == (2, 2 * (784 + len(correction().original)))
    assert store.add(correction()) > 0  # pruning made room
    assert query(feedback_db, "SELECT row_count FROM store_usage") == [(2,)]


def test_the_store_stops_at_its_byte_cap(feedback_db):
    row = 784 + 1000
    store = open_store(feedback_db, max_bytes=2 * row + 800)
    store.add(correction(original=b"x" * 1000))
    store.add(correction(original=b"x" * 1000))
    with pytest.raises(StoreFull, match=f"{2 * row} bytes"):
        store.add(correction(original=b"x" * 1000))
    assert store.add(correction(original=b"x" * 9)) > 0  # what still fits is kept


def test_the_cap_holds_across_workers_writing_at_once(feedback_db):
    """Two stores (two workers) and four threads each, 80 writes for 50 places: exactly 50 rows."""
    stores = [open_store(feedback_db, max_rows=50) for _ in range(2)]
    stores[0].add(correction())
    outcomes = []

    def write(store):
        for _ in range(10):
            try:
                outcomes.append(store.add(correction()))
            except StoreFull:
                outcomes.append("full")
            except StoreUnavailable:
                outcomes.append("busy")

    threads = [threading.Thread(target=write, args=(s,)) for s in stores for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = [o for o in outcomes if isinstance(o, int)]
    assert "busy" not in outcomes and len(stored) == 49 and outcomes.count("full") == 31
    assert query(feedback_db, "SELECT COUNT(*) FROM corrections") == [(50,)]


def test_the_file_and_folders_the_store_makes_are_private(tmp_path):
    previous = os.umask(0)  # even with a permissive umask
    try:
        path = tmp_path / "made" / "for" / "feedback.sqlite3"
        store = open_store(path)
        store.add(correction())
        made = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in made} == {p.name: 0o600 for p in made}
        folders = [tmp_path / "made", tmp_path / "made" / "for"]
        assert [stat.S_IMODE(f.stat().st_mode) for f in folders] == [0o700, 0o700]
    finally:
        os.umask(previous)


def test_a_version_1_database_is_read_as_it_is_and_migrated_by_the_server(feedback_db):
    old = correction(label=4, seed=9)
    make_version_1(feedback_db, [(4, old.pixels.tobytes(), b"png")])
    rows = open_store(feedback_db, access="read").corrections()
    assert [(r.label, r.status, r.client) for r in rows] == [(4, "pending", None)]
    assert query(feedback_db, "SELECT version FROM schema_version") == [(1,)]  # reading changed nothing

    store = open_store(feedback_db)
    store.add(correction(label=2, client="0123456789abcdef"))
    assert query(feedback_db, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    rows = store.corrections()
    assert [(r.label, r.status, r.client) for r in rows] == [
        (4, "pending", None),  # reviewed like any new correction
        (2, "pending", "0123456789abcdef"),
    ]
    assert query(feedback_db, "SELECT row_count, byte_count FROM store_usage") == [
        (2, 784 + 3 + 784 + len(correction().original))
    ]


def test_reading_an_empty_file_makes_no_schema(tmp_path):
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    with pytest.raises(StoreUnavailable, match="not a feedback database"):
        open_store(empty, access="read").corrections()
    with pytest.raises(StoreUnavailable):
        open_store(tmp_path / "none.sqlite3", access="write").review([1], "approved")
    assert empty.stat().st_size == 0 and not (tmp_path / "none.sqlite3").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite3"]
