"""The SQLite back end of the feedback store (data/feedback_store.py): one file in WAL mode.

The file is private: made 0600 (SQLite gives its -wal and -shm files the database's mode),
in folders made 0700. It is made once, by the first connection of a store that may create
(the server's). Later connections open it read-write only, and before every call the path
must still name the file first opened (its device and inode): a file deleted, moved or
replaced under a running server is StoreUnavailable, never a write into a deleted file and
never a new file whose ids start again at 1. Restarting the server takes the file now there.

Reading opens the file read-only (`mode=ro`). In a folder it may not write, SQLite cannot make
the -shm file a WAL database needs; a database with no -wal file then opens `immutable=1`,
which reads the file alone, and one with a -wal file is refused in one line (its last
writes are in the -wal, which an immutable reader would skip).
"""

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from .feedback_store import Store, StoreUnavailable

FILE_MODE = 0o600
FOLDER_MODE = 0o700


class SqliteStore(Store):
    errors = (sqlite3.Error, OSError)

    def __init__(self, path, access, max_rows, max_bytes):
        super().__init__(str(path), access, max_rows, max_bytes)
        self.path = Path(path)
        self._identity = None  # (device, inode) of the file first opened

    def _open(self):
        if self.access == "read":
            return self._open_read_only()
        if self._identity is not None:
            self._check_same()  # a reconnection: to the same file, or none
        elif self.access == "create":
            self._make_file()
        before = self._current_identity()
        db = self._sqlite("rw")  # never creates
        try:
            if self._current_identity() != before:
                raise StoreUnavailable(f"{self.describe}: the file was replaced while it was being opened")
            self._identity = self._identity or before
            if self.access in ("create", "serve"):
                _wal_mode(db, self.wait)
        except BaseException:
            db.close()
            raise
        return db

    def _check_same(self):
        if self.access != "read" and self._current_identity() != self._identity:
            raise StoreUnavailable(
                f"{self.describe}: the database file was deleted, moved or replaced after it was opened; "
                "nothing is stored until the server restarts and opens the file now at that path"
            )

    def _current_identity(self):
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        return found.st_dev, found.st_ino

    @contextlib.contextmanager
    def _transaction(self, db, schema=False):
        db.execute("BEGIN IMMEDIATE")  # the write lock now: two workers making the schema, one waits
        try:
            yield
        except BaseException:
            if db.in_transaction:
                with contextlib.suppress(*self.errors):
                    db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _make_file(self):
        """The file, empty and private, unless it exists; the folders it needs, private too."""
        _make_folders(self.path.parent)
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except FileExistsError:
            pass  # made by another worker, or before: used as it is

    def _sqlite(self, mode, immutable=False):
        uri = f"{self.path.absolute().as_uri()}?mode={mode}" + ("&immutable=1" if immutable else "")
        # isolation_level=None: transactions are explicit (_transaction); timeout: SQLite's busy wait
        return sqlite3.connect(
            uri, uri=True, timeout=self.wait, isolation_level=None, check_same_thread=False
        )

    def _open_read_only(self):
        db = self._sqlite("ro")
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            if not self.path.is_file() or os.access(self.path.parent, os.W_OK):
                raise
        wal = Path(f"{self.path}-wal")
        if wal.exists() and wal.stat().st_size:
            raise StoreUnavailable(
                f"{self.describe}: a WAL database in a folder this user cannot write, with writes still in "
                f"its -wal file: copy {self.path.name} and {wal.name} to a writable folder to read them"
            )
        return self._sqlite("ro", immutable=True)


def _make_folders(folder):
    """Make `folder` and its missing parents, each FOLDER_MODE."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(mode=FOLDER_MODE, exist_ok=True)


def _wal_mode(db, wait):
    """Put the file in WAL mode (it stays so): readers never block the writer. While another
    worker's first connection switches a new file too, SQLite answers "database is locked" at
    once, not after its busy timeout: try again until that timeout."""
    deadline = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
