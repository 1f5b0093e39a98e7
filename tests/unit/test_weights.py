import json
import os
import struct
import zipfile

import numpy as np
import pytest

from mnist_mlp.model import DEFAULT_WEIGHTS, MLP, WeightsError, load_weights, save_weights


def test_round_trip_keeps_every_parameter_and_the_metadata(tmp_path):
    model = MLP(seed=7)
    path = tmp_path / "w.npz"
    save_weights(path, model, {"seed": 7, "test_accuracy": 0.98})
    loaded, meta = load_weights(path)
    np.testing.assert_array_equal(loaded.params, model.params)
    assert meta["layer_sizes"] == [784, 128, 64, 10]
    assert meta["activation"] == "relu" and meta["seed"] == 7 and meta["test_accuracy"] == 0.98
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W0", "W1", "W2", "b0", "b1", "b2", "metadata"]


def test_shipped_weights_load_and_are_small():
    model, meta = load_weights(DEFAULT_WEIGHTS)
    assert model.layer_sizes == (784, 128, 64, 10)
    assert DEFAULT_WEIGHTS.stat().st_size < 1_000_000
    for key in (
        "data_fingerprint",
        "seed",
        "epochs",
        "val_accuracy",
        "test_accuracy",
        "created_at",
        "project_version",
        "input_scaling",
    ):
        assert key in meta, key


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def valid_arrays(sizes=(4, 3, 2)):
    model = MLP(sizes)
    arrays = {"metadata": np.array(json.dumps({"layer_sizes": list(sizes), "activation": "relu"}))}
    for i, (w, b) in enumerate(zip(model.weights, model.biases)):
        arrays[f"W{i}"], arrays[f"b{i}"] = w.copy(), b.copy()
    return arrays


def test_valid_handmade_file_loads(tmp_path):
    model, _ = load_weights(write_npz(tmp_path / "ok.npz", **valid_arrays()))
    assert model.layer_sizes == (4, 3, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(W0=np.zeros((4, 4), np.float32)), r"W0 has shape \(4, 4\), expected \(4, 3\)"),
        (lambda a: a.update(b1=np.zeros(2, np.float64)), "b1 has dtype float64, expected float32"),
        (lambda a: a.update(W1=np.full((3, 2), np.nan, np.float32)), "W1 contains NaN"),
        (lambda a: a.pop("b0"), r"missing arrays \['b0'\]"),
        (lambda a: a.update(W9=np.zeros(1, np.float32)), r"unexpected arrays \['W9'\]"),
        (lambda a: a.pop("metadata"), "no 'metadata'"),
        (lambda a: a.update(metadata=np.array("{not json")), "not valid JSON"),
        (lambda a: a.update(metadata=np.array('{"layer_sizes": [4]}')), "layer_sizes"),
        (lambda a: a.update(metadata=np.array('{"layer_sizes": [4,3,2], "activation": "tanh"}')), "tanh"),
    ],
)
def test_wrong_contents_are_refused_with_the_file_and_the_fault(tmp_path, change, message):
    arrays = valid_arrays()
    change(arrays)
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(WeightsError, match=message) as caught:
        load_weights(path)
    assert str(path) in str(caught.value)


def test_pickle_inside_is_refused(tmp_path):
    arrays = valid_arrays()
    arrays["W0"] = np.array([{"evil": "object"}], dtype=object)
    path = write_npz(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(WeightsError, match="pickle"):
        load_weights(path)


def test_truncated_and_corrupt_files_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    save_weights(good, MLP((4, 3, 2)))
    content = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(content[: len(content) // 2])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(os.urandom(2000))
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    for path in (truncated, junk, empty):
        with pytest.raises(WeightsError, match="not a readable") as caught:
            load_weights(path)
        assert str(path) in str(caught.value)
    with pytest.raises(WeightsError, match="no such file"):
        load_weights(tmp_path / "missing.npz")


def test_flipped_bytes_inside_a_compressed_member_are_refused(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(path, MLP((40, 30, 2)))
    with zipfile.ZipFile(path) as npz:
        offset = npz.getinfo("W0.npy").header_offset
    raw = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", raw[offset + 26 : offset + 30])
    data_start = offset + 30 + name_length + extra_length  # past the zip local header
    raw[data_start + 50 : data_start + 66] = bytes(16)
    path.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="not a readable"):
        load_weights(path)


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    save_weights(path, MLP((4, 3, 2), seed=1))
    before = path.read_bytes()

    def killed(*_):
        raise KeyboardInterrupt  # as if the run were stopped between write and rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        save_weights(path, MLP((4, 3, 2), seed=2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


def test_saved_file_is_readable_by_others(tmp_path):
    path = tmp_path / "w.npz"
    old = os.umask(0o022)
    try:
        save_weights(path, MLP((4, 2)))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_sigmoid_network_round_trips_with_its_activation(tmp_path):
    model = MLP((784, 16, 16, 10), seed=3, activation="sigmoid")
    path = tmp_path / "sigmoid.npz"
    save_weights(path, model)
    loaded, meta = load_weights(path)
    assert meta["activation"] == loaded.activation == "sigmoid"
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


def test_what_is_not_a_regular_file_of_bounded_size_is_refused_before_it_is_read(tmp_path):
    from mnist_mlp.model.weights import MAX_WEIGHTS_BYTES, read_weights

    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)  # a plain open would wait for a writer for ever
    with pytest.raises(WeightsError, match="is not a regular file"):
        read_weights(fifo)
    with pytest.raises(WeightsError, match="is a directory"):
        read_weights(tmp_path)
    huge = tmp_path / "huge.npz"
    with open(huge, "wb") as file:
        file.truncate(MAX_WEIGHTS_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(WeightsError, match=r"huge.npz: is 64.0 MiB; the limit is 64 MiB"):
        read_weights(huge)
    with pytest.raises(WeightsError, match="no such file"):
        read_weights(tmp_path / "missing.npz")


def test_many_members_declaring_too_many_values_in_all_are_refused_before_any_is_read(tmp_path):
    """A zip bomb: each member within the per-array limit, all of them together far beyond it."""
    from mnist_mlp.model.weights import MAX_ARRAY_ELEMENTS, MAX_TOTAL_ELEMENTS

    side = int(MAX_ARRAY_ELEMENTS**0.5)
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1), np.float32))
    header["shape"] = (side, side)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(MAX_TOTAL_ELEMENTS // side**2 + 1):
            with archive.open(f"W{n}.npy", "w") as member:
                np.lib.format.write_array_header_1_0(member, header)  # no data: never read
    with pytest.raises(WeightsError, match="values in all, more than"):
        load_weights(path)
