"""The PostgreSQL back end of the feedback store (data/feedback_store.py), through psycopg 3.

For several replicas sharing one database. Needs the `feedback` extra (`psycopg[binary]`);
imported only when FEEDBACK_DB is a postgresql:// URL.

Every wait is bounded, set on each connection: connecting (CONNECT_TIMEOUT_S), waiting for a
lock another session holds (`lock_timeout`: a migration, VACUUM FULL or a backup's LOCK TABLE)
and, for the server, a statement as a whole (`statement_timeout`). They are set with
set_config after connecting rather than in the URL's `options`, which some connection poolers
refuse and which would replace the user's own. A store that only reads makes its session
read-only (`default_transaction_read_only`).
"""

import contextlib

import psycopg

from .feedback_store import Store

CONNECT_TIMEOUT_S = 2  # libpq's smallest: a database that does not answer costs a 503 soon
# Seconds a whole statement may run: the server's only; a tool's long export may take its time.
STATEMENT_TIMEOUT_S = {"create": 1.5, "serve": 1.5, "write": 0, "read": 0}  # 0: no limit
# Any constant: every worker takes the same advisory lock while it makes the schema.
SCHEMA_LOCK = 0x6D6E_6973_7466  # "mnistf"


class PostgresStore(Store):
    param = "%s"
    errors = (psycopg.Error,)
    binary = "BYTEA"
    serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url, access, max_rows, max_bytes):
        info = psycopg.conninfo.conninfo_to_dict(url)
        super().__init__(
            f"postgresql database {info.get('dbname', '?')!r} on {info.get('host', 'localhost')}",
            access,
            max_rows,
            max_bytes,
        )
        self.url = url

    def _open(self):
        db = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        try:
            db.execute(
                "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false), "
                "set_config('default_transaction_read_only', %s, false)",
                (
                    f"{round(self.wait * 1000)}ms",
                    f"{round(STATEMENT_TIMEOUT_S[self.access] * 1000)}ms",
                    "on" if self.access == "read" else "off",
                ),
            )
        except BaseException:
            db.close()
            raise
        return db

    @contextlib.contextmanager
    def _transaction(self, db, schema=False):
        with db.transaction():
            if schema:  # CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL: serialise it
                db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            yield
