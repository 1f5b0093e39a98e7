"""Corrections as a data set: read from a feedback database or from the IDX files exported from one.

    images, labels = load_corrections("feedback.sqlite3")   # or a postgresql:// URL, or an export folder
    write_corrections(folder, images, labels)              # feedback-images-idx3-ubyte, ...-labels-idx1-ubyte

Images are (N, 784) uint8, the network's own 28x28 inputs (white digit on black), as MNIST's.
"""

from pathlib import Path

import numpy as np

from .feedback_store import POSTGRES_SCHEMES, open_store
from .idx import read_images, read_labels, write_idx

IMAGES_FILE = "feedback-images-idx3-ubyte"
LABELS_FILE = "feedback-labels-idx1-ubyte"


class NoCorrections(ValueError):
    """The place named holds no feedback database or export; the message says which."""


def is_database(target):
    return str(target).startswith(POSTGRES_SCHEMES) or Path(target).is_file()


def load_corrections(target):
    """(images (N, 784) uint8, labels (N,) int64) from a database or an export folder."""
    if is_database(target):
        rows = open_store(target).corrections()
        images = np.array([row.pixels.reshape(-1) for row in rows], dtype=np.uint8).reshape(len(rows), -1)
        return images, np.array([row.label for row in rows], dtype=np.int64)
    folder = Path(target)
    if not (folder / IMAGES_FILE).is_file():
        raise NoCorrections(f"{target}: neither a feedback database nor a folder with {IMAGES_FILE}")
    images, labels = read_images(folder / IMAGES_FILE), read_labels(folder / LABELS_FILE)
    if len(images) != len(labels):
        raise NoCorrections(f"{target}: {len(images)} images but {len(labels)} labels")
    return images, labels


def write_corrections(folder, images, labels):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / IMAGES_FILE, np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28))
    write_idx(folder / LABELS_FILE, labels)
