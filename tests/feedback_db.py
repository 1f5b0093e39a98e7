"""Reading a feedback database directly, SQLite or PostgreSQL, to check what the store wrote; and a
correction to store."""

import contextlib
import sqlite3
import threading

import numpy as np

from mnist_mlp.data.corrections.store import Correction


def query(target, sql):
    """The rows `sql` answers (None for a statement without rows in PostgreSQL)."""
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as db:
            cursor = db.execute(sql)
            return cursor.fetchall() if cursor.description else None
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as db:
        return db.execute(sql).fetchall()


def columns(target):
    """(name,) of each column of the corrections table."""
    if target.startswith("postgresql://"):
        return query(
            target, "SELECT column_name FROM information_schema.columns WHERE table_name = 'corrections'"
        )
    return [(row[1],) for row in query(target, "PRAGMA table_info(corrections)")]


def drop_tables(target):
    """Remove every table the store makes (a PostgreSQL database shared by the tests)."""
    query(target, "DROP TABLE IF EXISTS corrections, schema_version, store_usage")


@contextlib.contextmanager
def holding_lock(target, at_most):
    """Another session holding the strongest lock on the database while the block runs, and never
    longer than `at_most` seconds: SQLite's BEGIN EXCLUSIVE, PostgreSQL's ACCESS EXCLUSIVE lock on
    the table (what a migration or VACUUM FULL takes)."""
    locked, done = threading.Event(), threading.Event()

    def hold():
        if target.startswith("postgresql://"):
            import psycopg

            with psycopg.connect(target) as db:  # not autocommit: the lock lasts until the rollback
                db.execute("LOCK TABLE corrections IN ACCESS EXCLUSIVE MODE")
                locked.set()
                done.wait(at_most)
                db.rollback()
            return
        with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as db:
            db.execute("BEGIN EXCLUSIVE")
            locked.set()
            done.wait(at_most)
            db.execute("ROLLBACK")

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        yield
    finally:
        done.set()
        holder.join()


def make_version_1(target, rows):
    """A database as the first schema made it, holding `rows` of (label, pixels, original) as given
    (a test may give values the store would refuse: another program could have written them)."""
    postgres = target.startswith("postgresql://")
    serial = (
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    binary = "BYTEA" if postgres else "BLOB"
    query(target, "CREATE TABLE schema_version (version INTEGER NOT NULL)")
    query(target, "INSERT INTO schema_version (version) VALUES (1)")
    query(
        target,
        f"""CREATE TABLE corrections (
            id {serial}, created_at TEXT NOT NULL, source TEXT NOT NULL,
            label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9), predicted INTEGER NOT NULL,
            confidence REAL NOT NULL, model TEXT NOT NULL, shown_predicted INTEGER, shown_model TEXT,
            pixels {binary} NOT NULL, original {binary})""",
    )
    for label, pixels, original in rows:
        insert(target, label, pixels, original)


def insert(
    target,
    label,
    pixels,
    original=None,
    predicted=5,
    created_at="2026-01-01T00:00:00.000+00:00",
    source="api",
    model="m",
):
    """One row written as another program might, bypassing the store's checks."""
    sql = (
        "INSERT INTO corrections (created_at, source, label, predicted, confidence, model, pixels, original) "
        "VALUES ({p}, {p}, {p}, {p}, 0.5, {p}, {p}, {p})"
    )
    values = (created_at, source, label, predicted, model, pixels, original)
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as db:
            db.execute(sql.format(p="%s"), values)
        return
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as db:
        db.execute(sql.format(p="?"), values)


def correction(label=3, seed=0, original=b"\x89PNG...", **changes):
    pixels = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    fields = dict(
        pixels=pixels,
        original=original,
        label=label,
        predicted=5,
        confidence=0.61,
        model="mnist-mlp-0123abcd4567",
        source="page",
    )
    return Correction(**{**fields, **changes})
