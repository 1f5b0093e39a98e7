"""The PostgreSQL back end of the feedback store (data/feedback_store.py), through psycopg 3.

For several replicas sharing one database. Needs the `feedback` extra (`psycopg[binary]`);
imported only when FEEDBACK_DB is a postgresql:// URL.
"""

import psycopg

from .feedback_store import Store

CONNECT_TIMEOUT_S = 5  # a database that does not answer: 503 soon, not a request hanging
# Any constant: every worker takes the same advisory lock while it makes the schema.
SCHEMA_LOCK = 0x6D6E_6973_7466  # "mnistf"


class PostgresStore(Store):
    param = "%s"
    errors = (psycopg.Error,)
    binary = "BYTEA"
    serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url):
        info = psycopg.conninfo.conninfo_to_dict(url)
        super().__init__(
            f"postgresql database {info.get('dbname', '?')!r} on {info.get('host', 'localhost')}"
        )
        self.url = url

    def _open(self):
        db = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        try:
            with db.transaction():
                # CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL: serialise it
                db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                self.create_schema(db.execute)
        except BaseException:
            db.close()
            raise
        return db
