"""The feedback store against both real back ends: SQLite files and a real PostgreSQL cluster."""

import multiprocessing
import threading

import numpy as np
import pytest

from mnist_mlp.data.corrections import open_store
from mnist_mlp.data.corrections.store import (
    MAX_ORIGINAL_BYTES,
    SCHEMA_VERSION,
    StoreUnavailable,
)
from tests.feedback_db import columns, correction, query


def test_a_correction_reads_back_as_it_was_stored(feedback_db):
    store = open_store(feedback_db)
    first = store.add(correction(label=3, seed=1))
    second = store.add(correction(label=7, seed=2, source="api", model="other"))
    rows = store.corrections()
    assert [r.id for r in rows] == [first, second] and first != second
    assert [(r.label, r.predicted, r.model, r.source) for r in rows] == [
        (3, 5, "mnist-mlp-0123abcd4567", "page"),
        (7, 5, "other", "api"),
    ]
    np.testing.assert_array_equal(rows[0].pixels, correction(seed=1).pixels)
    np.testing.assert_array_equal(rows[1].pixels, correction(seed=2).pixels)
    store.close()


def test_the_schema_is_versioned_and_made_once(feedback_db):
    open_store(feedback_db).add(correction())
    again = open_store(feedback_db)  # a second worker opening the same database
    again.add(correction())
    assert len(again.corrections()) == 2
    assert query(feedback_db, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_newer_schema_is_refused(feedback_db):
    open_store(feedback_db).add(correction())
    query(feedback_db, f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreUnavailable, match=f"schema is version {SCHEMA_VERSION + 1}"):
        open_store(feedback_db).add(correction())


def test_a_large_original_is_dropped_but_the_input_kept(feedback_db):
    store = open_store(feedback_db)
    store.add(correction(original=b"x" * (MAX_ORIGINAL_BYTES + 1)))
    store.add(correction(original=b"small"))
    assert query(feedback_db, "SELECT original FROM corrections ORDER BY id") == [(None,), (b"small",)]


def test_nothing_about_the_person_is_a_column(feedback_db):
    """`client` is the service's keyed hash of the address (16 hex digits), never the address."""
    open_store(feedback_db).add(correction())
    names = {name for (name,) in columns(feedback_db)}
    assert names == {
        "id", "created_at", "source", "label", "predicted", "confidence", "model",
        "shown_predicted", "shown_model", "pixels", "original", "client", "status", "reviewed_at",
    }  # fmt: skip


def test_bad_values_are_refused_before_the_database(feedback_db):
    store = open_store(feedback_db)
    with pytest.raises(ValueError, match="28x28"):
        store.add(correction(pixels=np.zeros((27, 28), np.uint8)))
    with pytest.raises(ValueError, match="source"):
        store.add(correction(source="email"))


def test_threads_sharing_a_store_lose_nothing(feedback_db):
    store = open_store(feedback_db)
    ids = []

    def write(n):
        ids.extend(store.add(correction(seed=n)) for _ in range(25))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == [r.id for r in store.corrections()] and len(set(ids)) == 100


def _first_write(path, start, results):
    start.wait()
    try:
        open_store(path).add(correction())
        results.put("stored")
    except StoreUnavailable as exc:
        results.put(str(exc))


def test_two_workers_making_a_new_sqlite_file_at_once_both_store(tmp_path):
    """Switching a new file to WAL mode at the same moment made one of them fail at once."""
    context = multiprocessing.get_context("fork")
    outcomes = []
    for n in range(40):
        start, results = context.Barrier(2), context.Queue()
        workers = [
            context.Process(target=_first_write, args=(tmp_path / f"{n}.sqlite3", start, results))
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        outcomes += [results.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join()
    assert set(outcomes) == {"stored"}, [o for o in outcomes if o != "stored"][:3]


def test_an_unreachable_sqlite_file_is_unavailable_not_a_crash(tmp_path):
    (tmp_path / "a-file").write_text("")
    store = open_store(tmp_path / "a-file" / "feedback.sqlite3")  # its folder cannot be made
    with pytest.raises(StoreUnavailable, match="a-file"):
        store.add(correction())


def test_an_unreachable_postgres_is_unavailable_and_recovers(empty_postgres, tmp_path):
    store = open_store(f"postgresql://postgres@/postgres?host={tmp_path}")  # no server there
    with pytest.raises(StoreUnavailable, match="postgresql database 'postgres'"):
        store.add(correction())
    store.url = empty_postgres  # the database comes back: the next call reconnects
    assert store.add(correction()) > 0
