"""Reader (and writer) for the classic MNIST IDX files (LeCun et al.), raw or gzip-compressed.

Format: a big-endian header - two zero bytes, a type code (0x08 = unsigned byte), the
number of dimensions - then one big-endian uint32 per dimension, then the data. MNIST
images are 3-d (count, 28, 28), magic 2051; labels are 1-d (count,), magic 2049.
"""

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
UNSIGNED_BYTE = 0x08
# MNIST's largest file is 47 MB; an export of a full feedback store (100,000 corrections) is 78 MB.
MAX_IDX_BYTES = 1024**3


class IDXError(ValueError):
    """A file that is not a valid IDX file; the message names the file and the fault."""


def read_idx(path, expected_magic=None, max_bytes=MAX_IDX_BYTES):
    """The array stored in an IDX file (uint8), its shape read from the header.

    The header is read first and the data after it only as far as the header says (and one
    byte more, to tell trailing bytes): a gzip bomb is never decompressed past what it declares,
    and a file that declares more than `max_bytes` is refused before its data is read.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        with opener(path, "rb") as f:
            shape, header_size = _header(path, f, expected_magic)
            expected_size = header_size + int(np.prod(shape, dtype=np.int64))
            if expected_size > max_bytes:
                raise IDXError(
                    f"{path}: header says shape {shape} ({expected_size} bytes), over the limit of "
                    f"{max_bytes}"
                )
            data = f.read(expected_size - header_size + 1)
    except FileNotFoundError:
        raise IDXError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip's errors for truncated or corrupt streams
        raise IDXError(f"{path}: cannot decompress ({exc})") from None
    size = header_size + len(data)
    if size != expected_size:
        problem = "truncated" if size < expected_size else "has trailing bytes"
        found = f"file has {size}" if size < expected_size else "file has more"
        raise IDXError(f"{path}: {problem}: header says shape {shape} ({expected_size} bytes), {found}")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _header(path, f, expected_magic):
    """(shape, header size) read from the open IDX file `f`."""
    head = f.read(4)
    if len(head) < 4:
        raise IDXError(f"{path}: too short for an IDX header ({len(head)} bytes)")
    zeros, dtype_code, ndim = struct.unpack(">HBB", head)
    magic = (dtype_code << 8) | ndim
    if zeros != 0 or dtype_code != UNSIGNED_BYTE or ndim == 0:
        raise IDXError(f"{path}: bad magic number 0x{head.hex()}, not an unsigned-byte IDX file")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(f"{path}: magic number {magic}, expected {expected_magic}")
    header_size = 4 + 4 * ndim
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXError(f"{path}: header truncated ({4 + len(dims)} of {header_size} bytes)")
    return struct.unpack(f">{ndim}I", dims), header_size


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
    count, rows, cols = images.shape
    return images.reshape(count, rows * cols)  # (0, rows * cols) for a file of no images


def read_labels(path):
    labels = read_idx(path, LABELS_MAGIC)
    if labels.ndim != 1:
        raise IDXError(f"{path}: labels must be 1-d, got shape {labels.shape}")
    if labels.size and labels.max() > 9:
        raise IDXError(f"{path}: label {labels.max()} out of range 0..9")
    return labels.astype(np.int64)
