"""Corrections people send (the digit they meant), kept in SQLite or PostgreSQL.

    store = open_store("feedback.sqlite3")              # a path: SQLite, the embedded default
    store = open_store("postgresql://user@host/db")     # a URL: PostgreSQL (needs the `feedback` extra)
    row_id = store.add(Correction(pixels, original, label=3, predicted=5, confidence=0.61,
                                  model="mnist-mlp-0123abcd4567", source="page"))
    store.corrections()                                 # every row, oldest first, as Stored

A correction holds the network's 28x28 uint8 input, the uploaded bytes (dropped when larger
than MAX_ORIGINAL_BYTES), the label, what the model answered and how sure it was, which
model, when, and where it came from. Nothing about the person: no address, no user agent.

The connection is opened on first use, not at construction, so a service whose database is
down still starts (and answers its other routes); every failure of the database itself is
raised as StoreUnavailable, and the next call connects afresh. The module creates its schema
and records its version in `schema_version`; a database of a newer schema is refused.
"""

import dataclasses
import datetime
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

from ..model.contract import SIDE

SCHEMA_VERSION = 1
MAX_ORIGINAL_BYTES = 256 * 1024  # a drawn digit's PNG is a few kB; a 16 MB photo is not kept whole
SOURCES = ("page", "api")
SQLITE_BUSY_TIMEOUT_S = 10.0  # several workers write one file: wait for the lock rather than fail
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
COLUMNS = (
    "created_at",
    "source",
    "label",
    "predicted",
    "confidence",
    "model",
    "shown_predicted",
    "shown_model",
    "pixels",
    "original",
)


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or refused the write; the message says why in one line."""


@dataclasses.dataclass(frozen=True)
class Correction:
    pixels: np.ndarray  # (28, 28) uint8, what the network saw
    original: bytes  # the uploaded image
    label: int  # the digit the person meant
    predicted: int  # what the model answered
    confidence: float
    model: str  # the id of the weights that answered
    source: str  # "page" or "api"
    shown_predicted: int | None = None  # what the client says it was shown, if it says
    shown_model: str | None = None

    def row(self, now):
        """The values of COLUMNS, checked."""
        pixels = np.ascontiguousarray(self.pixels, dtype=np.uint8)
        if pixels.shape != (SIDE, SIDE):
            raise ValueError(f"pixels must be {SIDE}x{SIDE}, got {pixels.shape}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        original = self.original if len(self.original) <= MAX_ORIGINAL_BYTES else None
        shown = None if self.shown_predicted is None else int(self.shown_predicted)
        return (
            now,
            self.source,
            int(self.label),
            int(self.predicted),
            float(self.confidence),
            self.model,
            shown,
            self.shown_model,
            pixels.tobytes(),
            original,
        )


@dataclasses.dataclass(frozen=True)
class Stored:
    """A correction as read back: what export, statistics and training need."""

    id: int
    pixels: np.ndarray  # (28, 28) uint8
    label: int
    predicted: int
    model: str
    source: str


def open_store(target):
    """The store for `target`: a postgresql:// URL, else a SQLite file path."""
    target = str(target)
    if target.startswith(POSTGRES_SCHEMES):
        from .feedback_postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(target)
    return SqliteStore(target)


class Store:
    """What both back ends share: the SQL, one lazily opened connection, errors made StoreUnavailable.

    A back end sets `param` (its placeholder), `errors` (its driver's exceptions), the column
    types `binary` and `serial`, and `_open()`, which returns a connection with the schema made.
    """

    param = "?"
    errors = (sqlite3.Error,)
    binary = "BLOB"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, describe):
        self.describe = describe  # for log lines: never a password
        self._connection = None
        self._lock = threading.Lock()

    def add(self, correction):
        """The new row's id."""
        row = correction.row(_now())
        places = ", ".join([self.param] * len(row))
        sql = f"INSERT INTO corrections ({', '.join(COLUMNS)}) VALUES ({places}) RETURNING id"
        return self._run(lambda db: db.execute(sql, row).fetchone()[0])

    def corrections(self):
        sql = "SELECT id, pixels, label, predicted, model, source FROM corrections ORDER BY id"
        return [_stored(*row) for row in self._run(lambda db: db.execute(sql).fetchall())]

    def close(self):
        with self._lock:
            self._drop()

    def _run(self, work):
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._open()
                return work(self._connection)
            except self.errors as exc:
                self._drop()  # the next call reconnects: the database may be back by then
                raise StoreUnavailable(f"{self.describe}: {_one_line(exc)}") from None

    def _drop(self):
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except self.errors:
                pass  # closing a connection the server already dropped

    def create_schema(self, execute):
        """The tables, once, inside the caller's transaction; a newer schema is refused."""
        execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        if found is not None and found > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.describe}: the feedback schema is version {found}; "
                f"this program reads {SCHEMA_VERSION}"
            )
        execute(
            f"""CREATE TABLE IF NOT EXISTS corrections (
                id {self.serial},
                created_at TEXT NOT NULL,
                source TEXT NOT NULL,
                label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
                predicted INTEGER NOT NULL,
                confidence REAL NOT NULL,
                model TEXT NOT NULL,
                shown_predicted INTEGER,
                shown_model TEXT,
                pixels {self.binary} NOT NULL,
                original {self.binary}
            )"""
        )
        if found is None:
            execute(f"INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION})")


class SqliteStore(Store):
    """One SQLite file in WAL mode: readers never block the writer, writers wait for each other."""

    errors = (sqlite3.Error, OSError)

    def __init__(self, path):
        super().__init__(str(path))
        self.path = Path(path)

    def _open(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: each INSERT commits on its own; the schema's transaction is explicit
        db = sqlite3.connect(
            self.path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            _wal_mode(db)
            db.execute("BEGIN IMMEDIATE")  # two workers making the schema at once: one waits
            self.create_schema(db.execute)
            db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db


def _wal_mode(db):
    """Put the file in WAL mode (it stays so). While another worker's first connection switches
    a new file too, SQLite answers "database is locked" at once, not after its busy timeout:
    try again until that timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _stored(row_id, pixels, label, predicted, model, source):
    image = np.frombuffer(bytes(pixels), dtype=np.uint8).reshape(SIDE, SIDE)
    return Stored(int(row_id), image, int(label), int(predicted), model, source)


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__
