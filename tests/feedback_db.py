"""Reading a feedback database directly, SQLite or PostgreSQL, to check what the store wrote."""

import contextlib
import sqlite3


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
