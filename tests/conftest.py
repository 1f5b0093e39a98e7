"""Fixtures shared by the tests of every kind: the real MNIST files and the data itself, a small subset
of it as IDX files, and the feedback databases. Helpers that are not fixtures are in tests/machine.py."""

import numpy as np
import pytest

from tests.machine import mnist_dir_or_skip

# The IDX files' names, as mnist-train and the lab read them from --data-dir.
STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture(scope="session")
def mnist_dir():
    return mnist_dir_or_skip()


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """(x_train, y_train, x_test, y_test) as uint8 (N, 784) and int64 (N,)."""
    from mnist_mlp.data.mnist import load_idx_dir

    return load_idx_dir(mnist_dir)


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory, mnist):
    """2,000 real training and 500 test images as IDX files: a subset the CLI trains on in seconds."""
    from mnist_mlp.data.mnist.idx import write_idx

    folder = tmp_path_factory.mktemp("small-mnist")
    x_train, y_train, x_test, y_test = mnist
    for stem, array in zip(
        STEMS,
        (x_train[:2000].reshape(-1, 28, 28), y_train[:2000], x_test[:500].reshape(-1, 28, 28), y_test[:500]),
    ):
        write_idx(folder / f"{stem}.gz", array.astype(np.uint8))
    return folder


@pytest.fixture(scope="session")
def postgres():
    """The URL of a real PostgreSQL database for the session (tests/postgres_cluster.py)."""
    from tests.postgres_cluster import postgres_url

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
