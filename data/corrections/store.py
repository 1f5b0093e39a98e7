"""Corrections people send (the digit they meant), kept in SQLite or PostgreSQL: what every store
does (Store), the rows (Correction, Stored) and the errors. A store is opened with
`mnist_mlp.data.corrections.open_store`:

    store = open_store("feedback.sqlite3")              # a path: SQLite, the embedded default
    store = open_store("postgresql://user@host/db")     # a URL: PostgreSQL (needs the `feedback` extra)
    row_id = store.add(Correction(pixels, original, label=3, predicted=5, confidence=0.61,
                                  model="mnist-mlp-0123abcd4567", source="page", client="9f86d081884c7d65"))
    store.corrections(("approved",))                    # rows, oldest first, as Stored
    store.review([4, 5], "rejected")                    # what a person decided

A correction holds the network's 28x28 uint8 input, the uploaded bytes (dropped when larger
than MAX_ORIGINAL_BYTES), the label, what the model answered and how sure it was, which
model, when, where it came from, a pseudonymous key of the client (chosen by the service,
never its address) and its review status. Every field is checked before the database sees
it (InvalidCorrection), and every row read back is checked too (BadRow).

Access decides what a store may do to the database:
- "create" (a server): makes the file and schema on first use, or brings an older schema up to
  date; short waits, so that a locked database costs a request a 503 within about 2 s;
- "serve" (each worker of `mnist-serve`, whose start-up made the file): as "create", but a SQLite
  file that is gone is never made again, so a worker respawned after it was deleted cannot start
  a second file whose ids clash with the first;
- "write" (the review tools): an existing database only, its schema brought up to date;
- "read" (export, stats, training): changes nothing, makes nothing; a read-only file reads.

The connection is opened on first use, so a service whose database is down still starts;
every failure of the database itself is StoreUnavailable, and the next call connects afresh.
A total cap on rows and bytes answers StoreFull (a StoreUnavailable) once reached.
"""

import dataclasses
import datetime
import math
import re
import threading

import numpy as np

from ...model.contract import CLASSES, SIDE

SCHEMA_VERSION = 2
SOURCES = ("page", "api")
STATUSES = ("pending", "approved", "rejected")
ACCESS = ("create", "serve", "write", "read")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# What one row may hold: 784 pixel bytes, the original up to 256 KiB, short ASCII ids.
MAX_ORIGINAL_BYTES = 256 * 1024  # a drawn digit's PNG is a few kB; a 16 MB photo is not kept whole
MAX_MODEL_ID = 100  # characters of `model` and `shown_model`
MODEL_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_MODEL_ID}}}")  # printable ASCII, no spaces
CLIENT_KEY = re.compile(r"[0-9a-f]{16}")  # the service's keyed hash of an address, never the address
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?([+-]\d\d:\d\d|Z)?")  # as _now writes it
# The whole store: at 2 kB a drawing, 100,000 corrections are 200 MB; a flood of large uploads
# stops at 1 GiB. Reached, writes answer StoreFull until rows are pruned or the caps raised.
DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_BYTES = 1024**3

# Seconds to wait. The server must answer within about 2 s: a request thread waits at most
# THREAD_WAIT_S for another one using the same connection, then DATABASE_WAIT_S for a lock in
# the database. A person running a tool can wait longer for a lock (a backup, a VACUUM).
THREAD_WAIT_S = 0.5
DATABASE_WAIT_S = {"create": 1.0, "serve": 1.0, "write": 10.0, "read": 10.0}

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
    "client",
    "status",
)


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or refused the write; the message says why in one line."""


class StoreFull(StoreUnavailable):
    """The store holds its maximum of rows or bytes: nothing more is kept until some are pruned."""


class InvalidCorrection(ValueError):
    """A field of a Correction is not what the store accepts; the message names it."""


class UnknownCorrections(ValueError):
    """Ids named for review that the store does not hold; nothing was changed."""


class BadRow(ValueError):
    """A row read back is not one this store writes (edited by hand, or by another program)."""


@dataclasses.dataclass(frozen=True)
class Correction:
    pixels: np.ndarray  # (28, 28) uint8, what the network saw
    original: bytes = dataclasses.field(repr=False)  # the uploaded image
    label: int  # the digit the person meant
    predicted: int  # what the model answered
    confidence: float
    model: str  # the id of the weights that answered
    source: str  # "page" or "api"
    shown_predicted: int | None = None  # what the client says it was shown, if it says
    shown_model: str | None = None
    client: str | None = None  # 16 hex digits: a keyed hash of the client's address, never the address

    def row(self, now):
        """The values of COLUMNS; InvalidCorrection naming the first field that is not accepted."""
        pixels = self.pixels
        if not (isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.shape == (SIDE, SIDE)):
            raise InvalidCorrection(f"pixels must be a {SIDE}x{SIDE} uint8 array")
        if not isinstance(self.original, bytes):
            raise InvalidCorrection("original must be bytes")
        _check(_is_digit(self.label), "label", "a digit 0-9")
        _check(_is_digit(self.predicted), "predicted", "a digit 0-9")
        _check(self.shown_predicted is None or _is_digit(self.shown_predicted), "shown_predicted", "a digit")
        confidence = self.confidence
        _check(
            isinstance(confidence, float | int) and not isinstance(confidence, bool) and 0 <= confidence <= 1,
            "confidence",
            "a number from 0 to 1",
        )
        _check(self.source in SOURCES, "source", f"one of {', '.join(SOURCES)}")
        _check(_is_model_id(self.model), "model", f"1 to {MAX_MODEL_ID} printable ASCII characters")
        _check(self.shown_model is None or _is_model_id(self.shown_model), "shown_model", "a model id")
        _check(self.client is None or _matches(CLIENT_KEY, self.client), "client", "16 lowercase hex digits")
        original = self.original if len(self.original) <= MAX_ORIGINAL_BYTES else None
        return (
            now,
            self.source,
            self.label,
            self.predicted,
            round(float(confidence), 6),  # as the service answers it; PostgreSQL's REAL holds it
            self.model,
            self.shown_predicted,
            self.shown_model,
            np.ascontiguousarray(pixels).tobytes(),
            original,
            self.client,
            "pending",
        )


def _check(ok, name, what):
    if not ok:
        raise InvalidCorrection(f"{name} must be {what}")


def _is_digit(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < CLASSES


def _matches(pattern, value):
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _is_model_id(value):
    return _matches(MODEL_ID, value)


def stored_bytes(pixels, original):
    """What a row counts against the byte cap: its pixels and the original kept."""
    return len(pixels) + (len(original) if original is not None else 0)


@dataclasses.dataclass(frozen=True)
class Stored:
    """A correction as read back: what export, statistics, review and training need."""

    id: int
    created_at: str
    source: str
    label: int
    predicted: int
    confidence: float
    model: str
    client: str | None
    status: str
    pixels: np.ndarray = dataclasses.field(repr=False)  # (28, 28) uint8


# A version-1 database's table; MIGRATIONS bring it to SCHEMA_VERSION.
CORRECTIONS_V1 = """CREATE TABLE IF NOT EXISTS corrections (
    id {serial},
    created_at TEXT NOT NULL,
    source TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    predicted INTEGER NOT NULL,
    confidence REAL NOT NULL,
    model TEXT NOT NULL,
    shown_predicted INTEGER,
    shown_model TEXT,
    pixels {binary} NOT NULL,
    original {binary}
)"""
ROW_BYTES = "LENGTH(pixels) + COALESCE(LENGTH(original), 0)"
MIGRATIONS = {
    2: (
        "ALTER TABLE corrections ADD COLUMN client TEXT",
        "ALTER TABLE corrections ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'",
        "ALTER TABLE corrections ADD COLUMN reviewed_at TEXT",
        "CREATE INDEX corrections_status ON corrections (status)",
        # One row: what the caps are checked against, kept in step by every insert and prune.
        "CREATE TABLE store_usage (row_count BIGINT NOT NULL, byte_count BIGINT NOT NULL)",
        f"INSERT INTO store_usage SELECT COUNT(*), COALESCE(SUM({ROW_BYTES}), 0) FROM corrections",
    ),
}
# What a version-1 database lacks reads as: no client, not reviewed.
READ_COLUMNS = {
    1: "id, created_at, source, label, predicted, confidence, model, NULL AS client, "
    "'pending' AS status, pixels",
    2: "id, created_at, source, label, predicted, confidence, model, client, status, pixels",
}
ID_CHUNK = 500  # ids per IN (...) list


class Store:
    """What both back ends share: the SQL, one lazily opened connection, errors made StoreUnavailable.

    A back end sets `param` (its placeholder), `errors` (its driver's exceptions), the column
    types `binary` and `serial`, `_open()` (a connection), `_transaction(db)` (a context that
    commits or rolls back, holding the schema lock when `schema` is true) and may check the
    database is still the one it opened in `_check_same()`.
    """

    param = "?"
    binary = "BLOB"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, describe, access, max_rows, max_bytes):
        self.describe = describe  # for log lines: never a password
        self.access = access
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.wait = DATABASE_WAIT_S[access]
        self.version = None  # the schema version, once connected
        self._connection = None
        self._lock = threading.Lock()

    def prepare(self):
        """Connect now (and make or update the schema unless reading): StoreUnavailable if it cannot."""
        self._run(lambda db: None)

    def add(self, correction):
        """The new row's id; StoreFull when the caps are reached."""
        self._writable()
        row = correction.row(_now())
        size = stored_bytes(row[COLUMNS.index("pixels")], row[COLUMNS.index("original")])
        p = self.param
        reserve = (
            f"UPDATE store_usage SET row_count = row_count + 1, byte_count = byte_count + {p} "
            f"WHERE row_count < {p} AND byte_count + {p} <= {p}"
        )
        insert = (
            f"INSERT INTO corrections ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join([p] * len(row))}) RETURNING id"
        )

        def work(db):
            with self._transaction(db):
                if db.execute(reserve, (size, self.max_rows, size, self.max_bytes)).rowcount != 1:
                    rows, stored = db.execute("SELECT row_count, byte_count FROM store_usage").fetchone()
                    raise StoreFull(
                        f"{self.describe}: the feedback store is full: {rows} corrections and {stored} bytes "
                        f"stored, at most {self.max_rows} and {self.max_bytes} bytes"
                    )
                return db.execute(insert, row).fetchone()[0]

        return self._run(work)

    def corrections(self, statuses=STATUSES):
        """The rows of these review statuses, oldest first; BadRow naming the first odd one."""
        places = ", ".join([self.param] * len(statuses))

        def work(db):
            sql = (
                f"SELECT * FROM (SELECT {READ_COLUMNS[self.version]} FROM corrections) AS c "
                f"WHERE status IN ({places}) ORDER BY id"
            )
            return db.execute(sql, tuple(statuses)).fetchall()

        return [_stored(self.describe, row) for row in self._run(work)]

    def review(self, ids, status):
        """Mark the corrections `ids` approved, rejected or pending again; all of them or none.

        UnknownCorrections naming the ids that are not in the store.
        """
        self._writable()
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        ids = sorted(set(ids))

        def work(db):
            with self._transaction(db):
                found = set()
                for chunk in _chunks(ids):
                    sql = f"SELECT id FROM corrections WHERE {self._among(chunk)}"
                    found |= {row[0] for row in db.execute(sql, chunk)}
                missing = [i for i in ids if i not in found]
                if missing:
                    shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
                    raise UnknownCorrections(
                        f"{self.describe}: no correction with id {shown}; nothing changed"
                    )
                set_status = f"UPDATE corrections SET status = {self.param}, reviewed_at = {self.param}"
                for chunk in _chunks(ids):
                    db.execute(f"{set_status} WHERE {self._among(chunk)}", (status, _now(), *chunk))
            return len(ids)

        return self._run(work)

    def prune(self):
        """Delete the rejected corrections: (rows deleted, bytes freed under the cap)."""
        self._writable()

        def work(db):
            with self._transaction(db):
                rejected = "FROM corrections WHERE status = 'rejected'"
                measure = f"SELECT COUNT(*), COALESCE(SUM({ROW_BYTES}), 0) {rejected}"
                rows, size = db.execute(measure).fetchone()
                db.execute(f"DELETE {rejected}")
                db.execute(
                    "UPDATE store_usage SET row_count = row_count - "
                    f"{self.param}, byte_count = byte_count - {self.param}",
                    (rows, size),
                )
            return int(rows), int(size)

        return self._run(work)

    def close(self):
        with self._lock:
            self._drop()

    def _among(self, chunk):
        return f"id IN ({', '.join([self.param] * len(chunk))})"

    def _writable(self):
        if self.access == "read":
            raise StoreUnavailable(f"{self.describe}: opened for reading only")

    def _run(self, work):
        if not self._lock.acquire(timeout=THREAD_WAIT_S):
            raise StoreUnavailable(f"{self.describe}: busy: another call has been waiting on the database")
        try:
            if self._connection is None:
                self._connection = self._connect()
            self._check_same()
            return work(self._connection)
        except StoreFull:
            raise  # the database is fine: keep the connection
        except self.errors as exc:
            self._drop()  # the next call reconnects: the database may be back by then
            raise StoreUnavailable(f"{self.describe}: {_one_line(exc)}") from None
        except StoreUnavailable:
            self._drop()
            raise
        finally:
            self._lock.release()

    def _connect(self):
        db = self._open()
        try:
            self.version = self._read_version(db) if self.access in ("write", "read") else None
            if self.access != "read":  # the server makes the schema; a review tool only updates it
                with self._transaction(db, schema=True):
                    self.version = self._make_schema(db)
        except BaseException:
            db.close()
            raise
        return db

    def _check_same(self):
        """StoreUnavailable when the database is no longer the one connected to (a back end's check)."""

    def _drop(self):
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except self.errors:
                pass  # closing a connection the server already dropped

    def _read_version(self, db):
        try:
            found = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        except self.errors as exc:
            raise StoreUnavailable(f"{self.describe}: not a feedback database ({_one_line(exc)})") from None
        return self._known(found)

    def _known(self, found):
        if found is None or not 1 <= found <= SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.describe}: the feedback schema is version {found}; "
                f"this program reads 1 to {SCHEMA_VERSION}"
            )
        return found

    def _make_schema(self, db):
        """The tables made, or migrated to SCHEMA_VERSION, inside the caller's transaction: the version."""
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        if found is None:
            db.execute(CORRECTIONS_V1.format(serial=self.serial, binary=self.binary))
            db.execute("INSERT INTO schema_version (version) VALUES (1)")
            found = 1
        for version in range(self._known(found) + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                db.execute(statement)
            db.execute(f"UPDATE schema_version SET version = {version}")
        return SCHEMA_VERSION


def _chunks(ids):
    return [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]


def _stored(describe, row):
    """A Stored from a row of READ_COLUMNS, each value checked: BadRow naming the row and field."""
    row_id, created_at, source, label, predicted, confidence, model, client, status, pixels = row

    def check(ok, name, value, what):
        if not ok:
            raise BadRow(f"{describe}: row {row_id}: {name} is {_short(value)}, not {what}")

    check(isinstance(row_id, int), "id", row_id, "an integer")
    check(_is_digit(label), "label", label, "a digit 0-9")
    check(_is_digit(predicted), "predicted", predicted, "a digit 0-9")
    number = isinstance(confidence, float | int) and math.isfinite(confidence)
    check(number, "confidence", confidence, "a number")
    check(isinstance(pixels, bytes) and len(pixels) == SIDE * SIDE, "pixels", pixels, f"{SIDE * SIDE} bytes")
    # The text fields are printed by the review tools: checked as strictly as they are written, so
    # that a forged row cannot carry a terminal's control sequences (erasing the lines above it).
    check(_matches(TIMESTAMP, created_at), "created_at", created_at, "an ISO 8601 time")
    check(source in SOURCES, "source", source, " or ".join(SOURCES))
    check(_is_model_id(model), "model", model, f"1 to {MAX_MODEL_ID} printable ASCII characters")
    check(client is None or _matches(CLIENT_KEY, client), "client", client, "16 lowercase hex digits")
    check(status in STATUSES, "status", status, " or ".join(STATUSES))
    image = np.frombuffer(bytes(pixels), dtype=np.uint8).reshape(SIDE, SIDE)
    return Stored(
        row_id, created_at, source, label, predicted, float(confidence), model, client, status, image
    )


def _short(value):
    if isinstance(value, bytes | memoryview):
        return f"{len(value)} bytes"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__
