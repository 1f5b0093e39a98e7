"""MNIST for training and evaluation: OpenML by default, local IDX files offline.

    x_train, y_train, x_test, y_test = load_mnist(data_dir)   # uint8 (N, 784), int64 (N,)

`data_dir` (or $MNIST_DATA_DIR) selects the IDX files; without either, OpenML is used.
"""

import hashlib
import os
from pathlib import Path

import numpy as np

from ...model.contract import INPUTS, SIDE
from .idx import IDXError, read_images, read_labels
from .openml import DataUnavailable, fetch_openml_mnist

DATA_DIR_ENV = "MNIST_DATA_DIR"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

__all__ = [
    "DATA_DIR_ENV",
    "DataUnavailable",
    "IDXError",
    "fingerprint",
    "load_mnist",
    "load_idx_dir",
    "train_val_split",
]


def load_mnist(data_dir=None, data_home=None):
    """(x_train, y_train, x_test, y_test) from `data_dir`, $MNIST_DATA_DIR, or OpenML."""
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    if data_dir:
        return load_idx_dir(data_dir)
    return fetch_openml_mnist(data_home=data_home)


def load_idx_dir(data_dir):
    """The four MNIST IDX files from a folder, each either raw or with a .gz suffix."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataUnavailable(f"{data_dir}: no such folder (expected the four MNIST IDX files there)")
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [data_dir / f"{stem}.gz", data_dir / stem]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise DataUnavailable(f"{data_dir}: missing {stem}.gz (or {stem})")
        arrays[key] = read_images(path) if key.startswith("x") else read_labels(path)
    for split in ("train", "test"):
        (n_images, pixels), n_labels = arrays[f"x_{split}"].shape, len(arrays[f"y_{split}"])
        if n_images != n_labels:
            raise DataUnavailable(f"{data_dir}: {split} set has {n_images} images but {n_labels} labels")
        if not n_images:
            raise DataUnavailable(f"{data_dir}: {split} set has no images")
        if pixels != INPUTS:
            raise DataUnavailable(f"{data_dir}: {split} images have {pixels} pixels, not {SIDE}x{SIDE}")
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def train_val_split(x, y, val_fraction, seed=0):
    """(x_train, y_train, x_val, y_val): a random, per-class stratified hold-out of the training data."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"validation fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    val_idx = []
    for digit in np.unique(y):
        members = np.flatnonzero(y == digit)
        val_idx.append(rng.choice(members, size=round(len(members) * val_fraction), replace=False))
    val_mask = np.zeros(len(y), dtype=bool)
    val_mask[np.concatenate(val_idx)] = True
    return x[~val_mask], y[~val_mask], x[val_mask], y[val_mask]


def fingerprint(x, y):
    """A short sha256 over pixels and labels: which data a model was trained on."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(x).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]
