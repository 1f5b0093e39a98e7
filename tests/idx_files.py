"""Writing IDX files, as MNIST stores them, for tests that need a small data folder."""

import gzip
import struct

import numpy as np

from mnist_mlp.data.idx import UNSIGNED_BYTE


def write_idx(path, array):
    """A uint8 array as an IDX file (gzip if the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, UNSIGNED_BYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())
