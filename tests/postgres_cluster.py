"""A throwaway PostgreSQL cluster for the feedback tests, or the one $FEEDBACK_TEST_POSTGRES_URL names.

Debian's `postgresql` package provides initdb and pg_ctl (on PATH, or in /usr/lib/postgresql/N/bin).
The cluster lives in a temporary folder, listens on a Unix socket only, trusts local connections
and is stopped and removed afterwards. PostgreSQL refuses to run as root, so under root (CI)
its commands run as the unprivileged `postgres` user. Without PostgreSQL the tests skip, but
under CI=true they fail (conftest.skip_or_fail).
"""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.machine import skip_or_fail

URL_ENV = "FEEDBACK_TEST_POSTGRES_URL"
UNPRIVILEGED = "postgres"


def server_binaries():
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@contextlib.contextmanager
def postgres_url():
    """A postgresql:// URL of an empty database, for the duration of the block."""
    if os.environ.get(URL_ENV):
        yield os.environ[URL_ENV]
        return
    binaries = server_binaries()
    if binaries is None:
        skip_or_fail("PostgreSQL's initdb not found (apt-get install postgresql), nor $" + URL_ENV)
    folder = Path(tempfile.mkdtemp(prefix="mnist-pg-"))  # short: a socket path has ~100 bytes
    data = str(folder / "data")
    try:
        as_user = _as_unprivileged(folder)
        try:
            _run(as_user, binaries / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
            options = f"-k {folder} -c listen_addresses='' -c fsync=off"
            _run(as_user, binaries / "pg_ctl", "-D", data, "-o", options, "-l", folder / "log", "-w", "start")
        except subprocess.CalledProcessError as exc:
            skip_or_fail(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace').strip()}")
        try:
            yield f"postgresql://postgres@/postgres?host={folder}"
        finally:
            _run(as_user, binaries / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(as_user, *argv):
    subprocess.run([*as_user, *map(str, argv)], check=True, capture_output=True, timeout=60)


def _as_unprivileged(folder):
    """The command prefix that runs PostgreSQL's programs as a user it accepts."""
    if os.geteuid() != 0:
        return []
    shutil.chown(folder, UNPRIVILEGED)
    return ["runuser", "-u", UNPRIVILEGED, "--"]
