"""Reader (and writer) for the classic MNIST IDX files (LeCun et al.), raw or gzip-compressed.

Format: a big-endian header - two zero bytes, a type code (0x08 = unsigned byte), the
number of dimensions - then one big-endian uint32 per dimension, then the data. MNIST
images are 3-d (count, 28, 28), magic 2051; labels are 1-d (count,), magic 2049.
"""

import gzip
import struct
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
UNSIGNED_BYTE = 0x08


class IDXError(ValueError):
    """A file that is not a valid IDX file; the message names the file and the fault."""


def read_idx(path, expected_magic=None):
    """The array stored in an IDX file (uint8), its shape read from the header."""
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        with opener(path, "rb") as f:
            content = f.read()
    except FileNotFoundError:
        raise IDXError(f"{path}: no such file") from None
    except (OSError, EOFError) as exc:  # gzip raises these for truncated or corrupt streams
        raise IDXError(f"{path}: cannot decompress ({exc})") from None

    if len(content) < 4:
        raise IDXError(f"{path}: too short for an IDX header ({len(content)} bytes)")
    zeros, dtype_code, ndim = struct.unpack(">HBB", content[:4])
    magic = (dtype_code << 8) | ndim
    if zeros != 0 or dtype_code != UNSIGNED_BYTE or ndim == 0:
        raise IDXError(f"{path}: bad magic number 0x{content[:4].hex()}, not an unsigned-byte IDX file")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(f"{path}: magic number {magic}, expected {expected_magic}")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise IDXError(f"{path}: header truncated ({len(content)} of {header_size} bytes)")
    shape = struct.unpack(f">{ndim}I", content[4:header_size])
    expected_size = header_size + int(np.prod(shape, dtype=np.int64))
    if len(content) != expected_size:
        problem = "truncated" if len(content) < expected_size else "has trailing bytes"
        raise IDXError(
            f"{path}: {problem}: header says shape {shape} ({expected_size} bytes), file has {len(content)}"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape)


def write_idx(path, array):
    """A uint8 array as an IDX file (gzip if the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, UNSIGNED_BYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def read_images(path):
    """Images as (count, rows * cols) uint8, one flattened image per row."""
    images = read_idx(path, IMAGES_MAGIC)
    if images.ndim != 3:
        raise IDXError(f"{path}: images must be 3-d (count, rows, cols), got shape {images.shape}")
    return images.reshape(len(images), -1)


def read_labels(path):
    labels = read_idx(path, LABELS_MAGIC)
    if labels.ndim != 1:
        raise IDXError(f"{path}: labels must be 1-d, got shape {labels.shape}")
    if labels.size and labels.max() > 9:
        raise IDXError(f"{path}: label {labels.max()} out of range 0..9")
    return labels.astype(np.int64)
