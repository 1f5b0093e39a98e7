import gzip
import tracemalloc
import urllib.error

import numpy as np
import pytest

import mnist_mlp.data.mnist as data
from mnist_mlp.data.mnist import (
    DataUnavailable,
    IDXError,
    fingerprint,
    load_idx_dir,
    load_mnist,
    train_val_split,
)
from mnist_mlp.data.mnist.idx import read_idx, read_images, read_labels, write_idx
from mnist_mlp.data.mnist.openml import fetch_openml_mnist


def make_idx_dir(folder, n_train=30, n_test=10, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, array in arrays.items():
        write_idx(folder / f"{stem}{suffix}", array)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    arrays = make_idx_dir(tmp_path, gz=gz)
    x_train, y_train, x_test, y_test = load_idx_dir(tmp_path)
    assert x_train.shape == (30, 784) and x_train.dtype == np.uint8
    assert y_train.dtype == np.int64 and x_test.shape == (10, 784)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"].reshape(30, 784))
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])


def test_environment_variable_selects_the_folder(tmp_path, monkeypatch):
    make_idx_dir(tmp_path)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert len(load_mnist()[0]) == 30


def header(magic, *dims):
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (header(2051, 2, 2, 2) + bytes(7), "truncated"),
        (header(2051, 2, 2, 2) + bytes(9), "trailing bytes"),
        (header(2049, 3) + bytes(3), "expected 2051"),
        (header(0x0D03, 1, 1, 1) + bytes(4), "bad magic"),
        (b"\x00\x00", "too short"),
        (header(2051, 2)[:6], "header truncated"),
    ],
)
def test_malformed_idx_files_are_reported(tmp_path, content, message):
    path = tmp_path / "images"
    path.write_bytes(content)
    with pytest.raises(IDXError, match=message) as caught:
        read_images(path)
    assert str(path) in str(caught.value)


def test_count_comes_from_the_header(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(header(2049, 3) + bytes([1, 2, 3]))
    np.testing.assert_array_equal(read_labels(path), [1, 2, 3])
    path.write_bytes(header(2049, 2) + bytes([1, 12]))
    with pytest.raises(IDXError, match="out of range"):
        read_labels(path)


def test_truncated_gzip_is_reported(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(header(2051, 1, 28, 28) + bytes(784))[:-20])
    with pytest.raises(IDXError, match="cannot decompress"):
        read_idx(path)


def test_a_corrupt_gzip_stream_is_reported(tmp_path):
    """Flipped bytes inside the deflate data make zlib, not gzip, raise: still one IDXError."""
    path = tmp_path / "labels.gz"
    labels = np.random.default_rng(0).integers(0, 10, 5000, dtype=np.uint8)
    packed = bytearray(gzip.compress(header(2049, 5000) + labels.tobytes()))
    packed[100:400] = bytes(b ^ 0xFF for b in packed[100:400])  # "invalid distance too far back"
    path.write_bytes(bytes(packed))
    with pytest.raises(IDXError, match="cannot decompress") as caught:
        read_labels(path)
    assert str(path) in str(caught.value)


def test_a_file_of_no_images_reads_as_an_empty_batch(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(header(2051, 0, 28, 28))
    assert read_images(path).shape == (0, 784)


def test_a_gzip_bomb_is_never_decompressed_past_its_header(tmp_path):
    """2 MB of gzip holding 2 GB took 4.6 GB to refuse: the data is now read only as far as the
    header declares, and a header declaring more than the limit is refused before any of it."""
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as f:
        f.write(header(2051, 2, 2, 2) + bytes(8))
        for _ in range(64):
            f.write(bytes(1 << 20))  # 64 MiB the header does not declare
    tracemalloc.start()
    try:
        with pytest.raises(IDXError, match="trailing bytes"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak
    path.write_bytes(gzip.compress(header(2051, 10, 28, 28)))  # declares 7,856 bytes, holds none
    with pytest.raises(IDXError, match="over the limit of 1000"):
        read_idx(path, max_bytes=1000)


def test_missing_files_and_folders_are_reported(tmp_path):
    with pytest.raises(DataUnavailable, match="no such folder"):
        load_idx_dir(tmp_path / "nope")
    make_idx_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataUnavailable, match="missing t10k-labels"):
        load_idx_dir(tmp_path)


@pytest.mark.parametrize(
    ("stem", "array", "message"),
    [
        ("t10k-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8), "test set has 0 images but 10"),
        ("train-images-idx3-ubyte", np.zeros((30, 10, 10), np.uint8), "train images have 100 pixels"),
    ],
)
def test_a_folder_of_other_images_is_refused_when_loaded(tmp_path, stem, array, message):
    make_idx_dir(tmp_path)
    write_idx(tmp_path / f"{stem}.gz", array)
    with pytest.raises(DataUnavailable, match=message):
        load_idx_dir(tmp_path)


def test_a_folder_of_no_images_is_refused(tmp_path):
    make_idx_dir(tmp_path, n_test=0)
    with pytest.raises(DataUnavailable, match="test set has no images"):
        load_idx_dir(tmp_path)


def test_real_files_have_the_documented_counts(mnist):
    x_train, y_train, x_test, y_test = mnist
    assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert np.bincount(y_train).min() > 5000 and set(np.unique(y_test)) == set(range(10))


class FakeFetch:
    """Stands in for sklearn.datasets.fetch_openml: OpenML's shapes and types, small data."""

    def __init__(self, error=None):
        self.error = error
        self.calls = []

    def __call__(self, name, **kwargs):
        self.calls.append((name, kwargs))
        if self.error:
            raise self.error
        # OpenML gives float64; float32 keeps this stand-in at 220 MB, and the code path is the same
        x = np.tile(np.arange(70_000, dtype=np.float32)[:, None] % 256, (1, 784))
        y = np.array([str(i % 10) for i in range(70_000)], dtype=object)  # labels are strings there
        return x, y


def test_openml_path_splits_60000_10000_in_order_with_integer_labels(tmp_path):
    fetch = FakeFetch()
    x_train, y_train, x_test, y_test = fetch_openml_mnist(data_home=tmp_path, fetch=fetch)
    assert fetch.calls == [
        ("mnist_784", {"version": 1, "as_frame": False, "return_X_y": True, "data_home": tmp_path})
    ]
    assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert x_test[0, 0] == 60_000 % 256 and y_test[0] == 0 and y_train[7] == 7


def test_default_source_is_openml(monkeypatch):
    fetch = FakeFetch()
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr("sklearn.datasets.fetch_openml", fetch)
    assert len(load_mnist()[0]) == 60_000 and fetch.calls


def test_offline_gives_one_clear_line(monkeypatch):
    fetch = FakeFetch(urllib.error.URLError("[Errno -2] Name or service not known"))
    with pytest.raises(DataUnavailable) as caught:
        fetch_openml_mnist(fetch=fetch)
    message = str(caught.value)
    assert "\n" not in message and "no network" in message and "--data-dir" in message


def test_validation_split_is_stratified_disjoint_and_seeded():
    x = np.arange(1000)[:, None]
    y = np.repeat(np.arange(10), 100)
    x_tr, y_tr, x_val, y_val = train_val_split(x, y, 0.1, seed=0)
    assert len(x_val) == 100 and np.bincount(y_val).tolist() == [10] * 10
    assert not set(x_tr[:, 0]) & set(x_val[:, 0]) and len(x_tr) + len(x_val) == 1000
    np.testing.assert_array_equal(train_val_split(x, y, 0.1, seed=0)[2], x_val)
    assert not np.array_equal(train_val_split(x, y, 0.1, seed=1)[2], x_val)


def test_fingerprint_tells_data_apart():
    x = np.zeros((2, 3), np.uint8)
    y = np.array([0, 1])
    assert fingerprint(x, y) == fingerprint(x.copy(), y.copy())
    assert fingerprint(x, y) != fingerprint(x, y[::-1])
