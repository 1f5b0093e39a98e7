"""The corrections users send: their store (SQLite or PostgreSQL) and the data set read from it.

store.py     what every store does, the rows and the errors
sqlite.py    the embedded default
postgres.py  PostgreSQL (the `feedback` extra)
dataset.py   the approved corrections as a training and held-out set
"""

from .store import ACCESS, DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, POSTGRES_SCHEMES


def open_store(target, access="create", max_rows=DEFAULT_MAX_ROWS, max_bytes=DEFAULT_MAX_BYTES):
    """The store for `target`: a postgresql:// URL, else a SQLite file path."""
    if access not in ACCESS:
        raise ValueError(f"access must be one of {', '.join(ACCESS)}, got {access!r}")
    target = str(target)
    if target.startswith(POSTGRES_SCHEMES):
        from .postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(target, access, max_rows, max_bytes)
    from .sqlite import SqliteStore

    return SqliteStore(target, access, max_rows, max_bytes)
