"""What the tests need from the machine: where the checkout is, the real MNIST files, and the rule
that a missing tool skips a test on a contributor's machine but fails it under CI=true."""

import os
from pathlib import Path

import pytest

from mnist_mlp.data.mnist import DATA_DIR_ENV, IDX_FILES

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

    Outside CI a folder without all four IDX files (the names `data.mnist` reads) skips the test;
    under CI=true it fails it.
    """
    folder = Path(os.environ.get(DATA_DIR_ENV) or REPO.parent / "shared" / "mnist")
    missing = [
        stem
        for stem in IDX_FILES.values()
        if not (folder / f"{stem}.gz").exists() and not (folder / stem).exists()
    ]
    if missing:
        skip_or_fail(f"real MNIST files missing in {folder}: {', '.join(missing)} (set MNIST_DATA_DIR)")
    return folder


def mark_folder(items, conftest, marker):
    """Give `marker` to every collected test under the folder of `conftest` (its __file__)."""
    folder = Path(conftest).parent
    for item in items:
        if item.path.is_relative_to(folder):
            item.add_marker(marker)
