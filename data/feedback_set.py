"""Corrections as a data set: read from a feedback database or an export, and curated for training.

    found = load_corrections("feedback.sqlite3")   # approved ones; or a postgresql:// URL, an export folder
    kept, report = curate(found, per_source=100)   # one per near-identical image, a cap per client
    write_corrections(folder, images, labels)      # feedback-images-idx3-ubyte, ...-labels-idx1-ubyte

Images are (N, 784) uint8, the network's own 28x28 inputs (white digit on black), as MNIST's.

Why curate: corrections come from anyone. The same image sent 400 times with a wrong label
would weigh as 400 digits, and copies of it on both sides of a held-out split would make the
held-out accuracy approve it. So images that are the same drawing (equal on a coarse, inked
or not, 14x14 grid: re-encoded, slightly noisy or re-sent copies) count once, and not at all
when their labels disagree; and each client key (the service's pseudonym of an address)
contributes at most `per_source` corrections, its oldest.
"""

import collections
import dataclasses
from pathlib import Path

import numpy as np

from ..model.contract import INPUTS, SIDE
from .feedback_store import POSTGRES_SCHEMES, open_store
from .idx import read_images, read_labels, write_idx

IMAGES_FILE = "feedback-images-idx3-ubyte"
LABELS_FILE = "feedback-labels-idx1-ubyte"
COARSE = 14  # side of the grid near-duplicates are compared on: 2x2 blocks of the 28x28 input
INKED = 128  # a block is inked when its mean pixel reaches half of full ink


class NoCorrections(ValueError):
    """The place named holds no feedback database or export; the message says which."""


@dataclasses.dataclass(frozen=True)
class Corrections:
    images: np.ndarray  # (N, 784) uint8, oldest first
    labels: np.ndarray  # (N,) int64
    ids: np.ndarray  # (N,) int64: the database's ids, or 1..N in an export
    clients: tuple  # N of str | None: who sent each (None: not known)

    def __len__(self):
        return len(self.labels)

    def take(self, index):
        index = np.asarray(index, dtype=np.int64)
        return Corrections(
            self.images[index], self.labels[index], self.ids[index], tuple(self.clients[i] for i in index)
        )


def is_database(target):
    return str(target).startswith(POSTGRES_SCHEMES) or Path(target).is_file()


def load_corrections(target, statuses=("approved",)):
    """The Corrections of a database (those of these review statuses) or of an export folder (all)."""
    if is_database(target):
        rows = open_store(target, access="read").corrections(statuses)
        images = np.array([row.pixels.reshape(-1) for row in rows], dtype=np.uint8).reshape(len(rows), INPUTS)
        labels = np.array([row.label for row in rows], dtype=np.int64)
        ids = np.array([row.id for row in rows], dtype=np.int64)
        return Corrections(images, labels, ids, tuple(row.client for row in rows))
    folder = Path(target)
    if not (folder / IMAGES_FILE).is_file():
        raise NoCorrections(f"{target}: neither a feedback database nor a folder with {IMAGES_FILE}")
    images, labels = read_images(folder / IMAGES_FILE), read_labels(folder / LABELS_FILE)
    if len(images) != len(labels):
        raise NoCorrections(f"{target}: {len(images)} images but {len(labels)} labels")
    ids = np.arange(1, len(labels) + 1, dtype=np.int64)
    return Corrections(images.reshape(len(images), -1), labels.astype(np.int64), ids, (None,) * len(labels))


def near_duplicate_groups(images):
    """Row indices grouped by near-identical image, each group and the groups in first-seen order."""
    blocks = images.reshape(-1, COARSE, SIDE // COARSE, COARSE, SIDE // COARSE).mean(axis=(2, 4))
    keys = np.packbits(blocks.reshape(len(images), -1) >= INKED, axis=1)  # (N, 25) bytes
    groups = collections.defaultdict(list)
    for index, key in enumerate(keys):
        groups[key.tobytes()].append(index)
    return list(groups.values())


def curate(found, per_source):
    """(kept Corrections, what was dropped and why): one correction per group of near-identical
    images (the oldest; none when their labels disagree), then at most `per_source` per client."""
    keep, duplicates, conflicting = [], 0, 0
    for group in near_duplicate_groups(found.images):
        if len(set(found.labels[group].tolist())) > 1:
            conflicting += len(group)
        else:
            keep.append(group[0])
            duplicates += len(group) - 1
    sent = collections.Counter()
    capped = []
    for index in sorted(keep):
        client = found.clients[index]
        sent[client] += 1
        if client is None or sent[client] <= per_source:
            capped.append(index)
    report = {
        "found": len(found),
        "near_duplicates": duplicates,
        "conflicting_labels": conflicting,
        "over_source_cap": len(keep) - len(capped),
        "kept": len(capped),
    }
    return found.take(capped), report


def write_corrections(folder, images, labels):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / IMAGES_FILE, np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28))
    write_idx(folder / LABELS_FILE, labels)
