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
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .atomic_file import write_atomically
from .mlp import ACTIVATIONS, MLP

FORMAT = "mnist-mlp-npz/1"
MAX_ARRAY_ELEMENTS = 16 * 2**20  # per weight matrix: 64 MiB of float32, far above 784 x 128
MAX_TOTAL_ELEMENTS = 2 * MAX_ARRAY_ELEMENTS  # over all the arrays of one file
MAX_WEIGHTS_BYTES = 64 * 2**20  # of the file itself; the shipped one is about 0.4 MiB
MAX_METADATA_CHARS = 2**20
OUTPUT = "softmax"


class WeightsError(ValueError):
    """A weights file that cannot be used; the message names the file and the problem."""


def save_weights(path, model, metadata=None):
    """Write `model` and `metadata` to `path` atomically: a run killed at any moment leaves
    either the old file or the new one (atomic_file.write_atomically)."""
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
    write_atomically(path, buffer.getvalue())
    return meta


def read_weights(path, limit=MAX_WEIGHTS_BYTES):
    """The bytes of the weights file at `path`; WeightsError naming it unless it is a regular
    file of at most `limit` bytes.

    The file is opened without blocking (a plain open of a FIFO would wait for a writer) and
    read once: what is checked, hashed and loaded are the same bytes, even if the file is
    replaced meanwhile.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file") from None
    except PermissionError:
        raise WeightsError(f"{path}: permission denied") from None
    except OSError as exc:
        raise WeightsError(f"{path}: cannot open ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise WeightsError(f"{path}: is a directory, not a weights file")
        if not stat.S_ISREG(info.st_mode):
            raise WeightsError(f"{path}: is not a regular file (a FIFO, socket or device)")
        data = b""
        if info.st_size <= limit:
            with open(fd, "rb", closefd=False) as file:
                data = file.read(limit + 1)  # a buffered read loops until it has them or the end
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    size = max(info.st_size, len(data))  # the file may have grown while it was read
    if size > limit:
        raise WeightsError(f"{path}: is {size / 2**20:.1f} MiB; the limit is {limit / 2**20:g} MiB")
    return data


def load_weights(path):
    """(MLP, metadata) from an `.npz` file; WeightsError naming the file and the fault otherwise."""
    return parse_weights(read_weights(path), path)


def parse_weights(data, name):
    """(MLP, metadata) from the bytes of an `.npz`; WeightsError naming `name` and the fault otherwise.

    Nothing is allocated before every member's .npy header has declared a float32 array of
    bounded size (or the bounded metadata string), and all of them together a bounded
    number of values: a hostile file cannot claim terabytes, nor hide a zip bomb in many
    small members.
    """

    def fail(problem):
        return WeightsError(f"{name}: {problem}")

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # np.load would take a non-zip file for a pickle
            declared = sum(_check_member_header(archive, member, fail) for member in archive.infolist())
        if declared > MAX_TOTAL_ELEMENTS:
            raise fail(f"its arrays declare {declared} values in all, more than {MAX_TOTAL_ELEMENTS}")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
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
    for key, shape in expected.items():
        array = arrays[key]
        if array.dtype != np.float32:
            raise fail(f"array {key} has dtype {array.dtype}, expected float32")
        if array.shape != shape:
            raise fail(f"array {key} has shape {array.shape}, expected {shape}")
        if not np.isfinite(array).all():
            raise fail(f"array {key} contains NaN or infinite values")

    # every weight and bias is set below: no random initialisation (nor numpy.random) is needed
    model = MLP(sizes, activation=meta.get("activation", "relu"), init="zeros")
    for layer in range(model.n_layers):
        model.weights[layer][...] = arrays[f"W{layer}"]
        model.biases[layer][...] = arrays[f"b{layer}"]
    return model, meta


def _check_member_header(archive, member, fail):
    """The number of values the member's .npy header declares; WeightsError unless it declares
    an array this format allows."""
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
        return 0
    if dtype != np.float32:
        raise fail(f"array {name} has dtype {dtype}, expected float32")
    if len(shape) not in (1, 2):
        raise fail(f"array {name} has shape {shape}, expected a matrix or a vector")
    if math.prod(shape) > MAX_ARRAY_ELEMENTS:
        raise fail(f"array {name} declares shape {shape}, more than {MAX_ARRAY_ELEMENTS} values")
    return math.prod(shape)


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
    if meta.get("architecture") == "convnet":
        raise fail("is a ConvNet distillation teacher, a training-time tool that is never served")
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
