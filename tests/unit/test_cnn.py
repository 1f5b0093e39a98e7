"""The NumPy ConvNet teacher: im2col against a direct convolution, every gradient against
central differences in float64, its file round trip, and a short run of the MLP's own loop."""

import numpy as np
import pytest

from mnist_mlp.model import MLP, WeightsError, load_weights, save_weights
from mnist_mlp.model.cnn import CHUNK, ConvNet, col2im, im2col, load_teacher, max_pool, save_teacher
from mnist_mlp.model.losses import softmax_cross_entropy_
from mnist_mlp.model.training import TrainConfig, fit
from tests.gradients import numeric_gradient


def direct_convolution(x, w, k):
    """out[b, y, x, o] = sum_{i, j, c} x[b, y + i, x + j, c] w[(i, j, c), o]: four loops' worth."""
    b, h, wd, c = x.shape
    kernel = w.reshape(k, k, c, -1)
    out = np.zeros((b, h - k + 1, wd - k + 1, kernel.shape[-1]))
    for i in range(k):
        for j in range(k):
            out += np.einsum("byxc,co->byxo", x[:, i : i + h - k + 1, j : j + wd - k + 1], kernel[i, j])
    return out


def test_im2col_product_is_the_convolution_and_col2im_its_transpose():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 3))
    w = rng.normal(size=(3 * 3 * 3, 4))
    out = (im2col(x, 3) @ w).reshape(2, 5, 4, 4)
    np.testing.assert_allclose(out, direct_convolution(x, w, 3), rtol=1e-12)
    # <im2col(x), d> = <x, col2im(d)> for every d: col2im is the adjoint the backward pass needs
    d = rng.normal(size=(2 * 5 * 4, 27))
    assert np.sum(im2col(x, 3) * d) == pytest.approx(np.sum(x * col2im(d, x.shape, 3)), rel=1e-12)


def test_max_pool_takes_each_blocks_maximum():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(max_pool(x)[0, :, :, 0], [[5, 7], [13, 15]])


def test_every_gradient_matches_central_differences_in_float64():
    rng = np.random.default_rng(0)
    model = ConvNet((2, 3), hidden=5, seed=1, dtype=np.float64)
    for b in model.biases:  # non-zero biases, so their gradients are exercised off the origin
        b[...] = rng.normal(scale=0.1, size=b.shape)
    x, y = rng.random((3, 784)), np.array([1, 4, 7])
    _, dlogits = softmax_cross_entropy_(model.forward(x, keep=True), y)
    analytic = model.backward(dlogits).copy()
    numeric = numeric_gradient(model, x, y, eps=1e-6)
    # relative error, with a floor for the few gradients near 0 where rounding dominates
    relative = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-4)
    assert relative.max() < 1e-6, f"worst relative error {relative.max():.2e} at {relative.argmax()}"
    assert model.n_weight_params == 25 * 2 + 50 * 3 + 48 * 5 + 5 * 10


def test_backward_needs_a_kept_forward():
    with pytest.raises(RuntimeError, match="forward"):
        ConvNet((2, 2), 4).backward(np.zeros((1, 10), np.float32))
    with pytest.raises(ValueError, match="positive"):
        ConvNet((0, 2), 4)


def test_saved_teacher_loads_with_its_shape_weights_and_metadata(tmp_path):
    model = ConvNet((3, 4), hidden=6, seed=2)
    save_teacher(tmp_path / "t.npz", model, {"val_accuracy": 0.5})
    loaded, info = load_teacher(tmp_path / "t.npz")
    assert (loaded.channels, loaded.hidden, info["val_accuracy"]) == ((3, 4), 6, 0.5)
    x = np.random.default_rng(0).random((2, 784), dtype=np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    np.savez(
        tmp_path / "bad.npz",
        params=model.params[:-1],
        metadata='{"architecture": "convnet", "channels": [3, 4], "hidden": 6, "classes": 10}',
    )
    with pytest.raises(ValueError, match="bad.npz: 841 parameters, the network has 842"):
        load_teacher(tmp_path / "bad.npz")


def test_a_served_weights_file_or_junk_is_no_teacher(tmp_path):
    save_weights(tmp_path / "mlp.npz", MLP((784, 4, 10)))
    with pytest.raises(ValueError, match="mlp.npz: not a ConvNet teacher"):
        load_teacher(tmp_path / "mlp.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: "):
        load_teacher(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="missing.npz: "):
        load_teacher(tmp_path / "missing.npz")


def test_the_teacher_is_never_loaded_as_served_weights(tmp_path):
    save_teacher(tmp_path / "t.npz", ConvNet((3, 4), hidden=6))
    with pytest.raises(WeightsError, match="t.npz: is a ConvNet distillation teacher"):
        load_weights(tmp_path / "t.npz")


def test_a_large_forward_without_keep_runs_in_chunks_with_the_same_answer():
    model = ConvNet((3, 4), hidden=6, seed=1)
    x = np.random.default_rng(0).random((CHUNK + 7, 784), dtype=np.float32)
    whole = model.forward(x, keep=True)  # keep: one pass over every image
    np.testing.assert_allclose(model.forward(x), whole, rtol=1e-5, atol=1e-6)


def test_the_training_loop_trains_it_on_real_digits(mnist):
    x, y = mnist[0][:2500], mnist[1][:2500]
    model = ConvNet((8, 16), hidden=64, seed=0)
    result = fit(model, x[:2000], y[:2000], TrainConfig(epochs=3, lr=3e-3), x[2000:], y[2000:])
    assert result.best_val_accuracy > 0.85
