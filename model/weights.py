"""Saving and loading MLP weights as `.npz`: plain arrays, never pickle.

Layout: `W0, b0, W1, b1, ...` (float32, W_l of shape (n_in, n_out)) and `metadata`, a
0-d unicode array holding JSON (layer sizes, activation, input scaling, data fingerprint,
training settings, accuracies, created-at, project version, and anything else given).
"""

import io
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .mlp import ACTIVATIONS, MLP

FORMAT = "mnist-mlp-npz/1"
MAX_ARRAY_ELEMENTS = 16 * 2**20  # per weight matrix: 64 MiB of float32, far above 784 x 128
MAX_METADATA_CHARS = 2**20
OUTPUT = "softmax"


class WeightsError(ValueError):
    """A weights file that cannot be used; the message names the file and the problem."""


def save_weights(path, model, metadata=None):
    """Write `model` and `metadata` to `path` atomically.

    The bytes go to a temporary file in the same folder, are fsync'ed, then renamed over
    `path`: a run killed at any moment leaves either the old file or the new one.
    """
    path = Path(path)
    meta = {
        "format": FORMAT,
        "layer_sizes": list(model.layer_sizes),
        "activation": model.activation,
        "output": OUTPUT,
        **(metadata or {}),
    }
    arrays = {"metadata": np.array(json.dumps(meta, sort_keys=True))}
    for layer, (w, b) in enumerate(zip(model.weights, model.biases)):
        arrays[f"W{layer}"] = np.asarray(w, dtype=np.float32)
        arrays[f"b{layer}"] = np.asarray(b, dtype=np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            os.fchmod(
                tmp.fileno(), 0o666 & ~_umask()
            )  # mkstemp's 0600 would hide the file from a server user
            tmp.write(buffer.getvalue())
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return meta


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_weights(path):
    """(MLP, metadata) from an `.npz`; WeightsError naming the file and the fault otherwise.

    Nothing is allocated before the file is known to be a regular file whose members
    declare (in their .npy headers) float32 arrays of bounded size and a bounded metadata
    string: a hostile file cannot hang the reader (a FIFO) or claim terabytes.
    """
    path = Path(path)

    def fail(problem):
        return WeightsError(f"{path}: {problem}")

    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise fail("is a directory, not a weights file")
        if not stat.S_ISREG(mode):
            raise fail("is not a regular file (a FIFO, socket or device)")
        with zipfile.ZipFile(path) as archive:  # np.load would take a non-zip file for a pickle
            for member in archive.infolist():
                _check_member_header(archive, member, fail)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise fail("no such file") from None
    except PermissionError:
        raise fail("permission denied") from None
    except ValueError as exc:
        if isinstance(exc, WeightsError):
            raise
        if "pickle" in str(exc):
            raise fail("contains pickled objects, which are refused (allow_pickle=False)") from None
        raise fail(f"not a readable .npz file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise fail(f"not a readable .npz file, truncated or corrupt ({exc})") from None

    meta = _metadata(arrays, fail)
    sizes = meta["layer_sizes"]
    expected = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        expected[f"W{layer}"] = (n_in, n_out)
        expected[f"b{layer}"] = (n_out,)
    missing = sorted(set(expected) - set(arrays))
    if missing:
        raise fail(f"missing arrays {missing} for layer sizes {sizes}")
    extra = sorted(set(arrays) - set(expected) - {"metadata"})
    if extra:
        raise fail(f"unexpected arrays {extra} for layer sizes {sizes}")
    for name, shape in expected.items():
        array = arrays[name]
        if array.dtype != np.float32:
            raise fail(f"array {name} has dtype {array.dtype}, expected float32")
        if array.shape != shape:
            raise fail(f"array {name} has shape {array.shape}, expected {shape}")
        if not np.isfinite(array).all():
            raise fail(f"array {name} contains NaN or infinite values")

    model = MLP(sizes, activation=meta.get("activation", "relu"))
    for layer in range(model.n_layers):
        model.weights[layer][...] = arrays[f"W{layer}"]
        model.biases[layer][...] = arrays[f"b{layer}"]
    return model, meta


def _check_member_header(archive, member, fail):
    """WeightsError unless the member's .npy header declares an array this format allows."""
    name = member.filename.removesuffix(".npy")
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise fail(f"member {name} has .npy format version {version}, not 1.0 or 2.0")
    if name == "metadata":
        if dtype.kind != "U" or shape != () or dtype.itemsize > 4 * MAX_METADATA_CHARS:
            raise fail(f"'metadata' must be a JSON string of at most {MAX_METADATA_CHARS} characters")
        return
    if dtype != np.float32:
        raise fail(f"array {name} has dtype {dtype}, expected float32")
    if len(shape) not in (1, 2):
        raise fail(f"array {name} has shape {shape}, expected a matrix or a vector")
    if math.prod(shape) > MAX_ARRAY_ELEMENTS:
        raise fail(f"array {name} declares shape {shape}, more than {MAX_ARRAY_ELEMENTS} values")


def _metadata(arrays, fail):
    if "metadata" not in arrays:
        raise fail("has no 'metadata' array; not a weights file written by this project")
    raw = arrays["metadata"]
    if raw.dtype.kind != "U" or raw.shape != ():
        raise fail("'metadata' must be a JSON string")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise fail(f"'metadata' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise fail("'metadata' must be a JSON object")
    sizes = meta.get("layer_sizes")
    if not (
        isinstance(sizes, list)
        and len(sizes) >= 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes)
    ):
        raise fail(f"metadata 'layer_sizes' must be a list of two or more positive integers, got {sizes!r}")
    if meta.get("activation", "relu") not in ACTIVATIONS:
        supported = " or ".join(map(repr, ACTIVATIONS))
        raise fail(f"activation {meta['activation']!r} is not supported (only {supported})")
    return meta
