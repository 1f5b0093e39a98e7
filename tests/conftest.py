"""Fixtures shared by the test modules: where the real MNIST files are, and the data itself."""

import os
from pathlib import Path

import pytest

from mnist_mlp.data import DATA_DIR_ENV

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason):
    """Skip a test that lacks something outside the repo; under CI=true fail it instead,
    so a broken CI machine can never pass by skipping the tests that matter."""
    if IN_CI:
        pytest.fail(f"cannot run under CI: {reason}")
    pytest.skip(reason)


def mnist_dir_or_skip():
    """The real MNIST IDX folder: $MNIST_DATA_DIR, else ../shared/mnist beside the repo.

    Outside CI a missing folder skips the test; under CI=true it fails it.
    """
    folder = Path(os.environ.get(DATA_DIR_ENV) or REPO.parent / "shared" / "mnist")
    if (
        not (folder / "t10k-labels-idx1-ubyte.gz").exists()
        and not (folder / "t10k-labels-idx1-ubyte").exists()
    ):
        skip_or_fail(f"real MNIST files not found in {folder} (set MNIST_DATA_DIR)")
    return folder


@pytest.fixture(scope="session")
def mnist_dir():
    return mnist_dir_or_skip()


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """(x_train, y_train, x_test, y_test) as uint8 (N, 784) and int64 (N,)."""
    from mnist_mlp.data import load_idx_dir

    return load_idx_dir(mnist_dir)


@pytest.fixture(scope="session")
def postgres():
    """The URL of a real PostgreSQL database for the session (tests/postgres_cluster.py)."""
    from tests.postgres_cluster import postgres_url  # imported here: it imports this module

    with postgres_url() as url:
        yield url


@pytest.fixture
def empty_postgres(postgres):
    """The session's PostgreSQL, emptied of the feedback tables after the test."""
    from tests.feedback_db import drop_tables

    yield postgres
    drop_tables(postgres)


@pytest.fixture(params=["sqlite", "postgresql"])
def feedback_db(request, tmp_path):
    """A fresh, empty feedback database of each back end: a SQLite path or a postgresql:// URL."""
    if request.param == "sqlite":
        return str(tmp_path / "feedback.sqlite3")
    return request.getfixturevalue("empty_postgres")
