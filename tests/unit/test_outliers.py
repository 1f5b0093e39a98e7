"""Outlier exposure: the uniform-target loss, the joined-batch gradient, the training/evaluation
split of the non-digits, and a short run that must flag more held-out outliers than plain training."""

from pathlib import Path

import numpy as np
import pytest

from mnist_mlp.data.mnist import train_val_split
from mnist_mlp.data.synth.non_digits import DIGIT_LIKE_LETTERS
from mnist_mlp.data.synth.outliers import (
    DIGIT_LIKE_SHAPES,
    EVAL_LETTER_FONT_DIRS,
    EVAL_SHAPES,
    OUTLIER_CATEGORIES,
    TRAIN_LETTER_FONT_DIRS,
    TRAIN_SHAPES,
    non_digits,
    outlier_pool,
    outliers,
)
from mnist_mlp.data.synth.render import font_files
from mnist_mlp.model import MLP
from mnist_mlp.model.calibration import calibrate, calibrated_probabilities
from mnist_mlp.model.contract import as_inputs
from mnist_mlp.model.losses import log_softmax, softmax, uniform_cross_entropy_
from mnist_mlp.model.training import TrainConfig, exposure_loss_, fit

LIBERATION = str(TRAIN_LETTER_FONT_DIRS[0])


def uniform_ce(z):
    return float(-log_softmax(z).mean(axis=1).mean())


def test_uniform_loss_is_log_c_at_uniform_and_larger_elsewhere():
    z = np.full((3, 10), 4.2)
    loss, grad = uniform_cross_entropy_(z.copy())
    assert loss == pytest.approx(np.log(10)) and np.abs(grad).max() < 1e-15
    peaked = np.random.default_rng(0).normal(0, 3, (5, 10))
    assert uniform_cross_entropy_(peaked.copy())[0] > np.log(10)


def test_uniform_loss_gradient_matches_finite_differences_float64():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, (4, 10))
    weight = 0.7
    loss, grad = uniform_cross_entropy_(z.copy(), weight)
    assert loss == pytest.approx(uniform_ce(z), rel=1e-12)
    np.testing.assert_allclose(grad, weight * (softmax(z) - 0.1) / len(z), rtol=1e-12)
    eps, numeric = 1e-6, np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = eps
        numeric[index] = (uniform_ce(z + step) - uniform_ce(z - step)) / (2 * eps)
    np.testing.assert_allclose(grad, weight * numeric, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_loss_is_finite_on_extreme_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    loss, grad = uniform_cross_entropy_(z.copy())
    assert np.isfinite(loss) and np.isfinite(grad).all()
    # row 0: logsumexp = 1e4, mean = 0; row 1: log 3
    assert loss == pytest.approx((1e4 + np.log(3)) / 2, rel=1e-6)


def test_joined_batch_gradient_matches_finite_differences_of_the_whole_loss():
    """CE(digits) + lambda * uniform CE(outliers) through a small float64 MLP: the loop's one
    backward pass over the joined batch gives d loss / d params."""
    rng = np.random.default_rng(2)
    model = MLP((6, 5, 4, 3), seed=3, dtype=np.float64)
    digits, labels = rng.normal(size=(4, 6)), rng.integers(0, 3, 4)
    others = rng.normal(size=(3, 6))
    weight = 0.5
    joined = np.concatenate([digits, others])

    def total(params):
        saved = model.params.copy()
        model.params[...] = params
        z = model.forward(joined)
        model.params[...] = saved
        ce = float(-log_softmax(z[:4])[np.arange(4), labels].mean())
        return ce + weight * uniform_ce(z[4:])

    logits = model.forward(joined, keep=True)
    loss, outlier_loss, dlogits = exposure_loss_(logits, labels, weight)
    analytic = model.backward(dlogits).copy()
    assert loss + weight * outlier_loss == pytest.approx(total(model.params), rel=1e-12)
    eps, numeric = 1e-6, np.zeros_like(analytic)
    for i in range(len(analytic)):
        step = np.zeros_like(analytic)
        step[i] = eps
        numeric[i] = (total(model.params + step) - total(model.params - step)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-9)


# ---------------------------------------------------------------- the split


def test_training_outliers_share_no_font_shape_or_seed_stream_with_the_evaluation_set():
    train = outliers(40, seed=0, split="train")
    val = outliers(40, seed=0, split="val")
    evaluation = non_digits(40, seed=0)
    assert not set(TRAIN_SHAPES) & set(EVAL_SHAPES)
    assert not set(TRAIN_SHAPES) & set(DIGIT_LIKE_SHAPES)

    def fonts(samples, category):
        return {s.detail.split()[1] for s in samples if s.category == category}

    training_fonts = fonts(train + val, "letters") | fonts(train + val, "symbols")
    assert all(f.startswith("Liberation") or f == "pillow-default" for f in training_fonts)
    assert "pillow-default" in training_fonts
    evaluation_fonts = fonts(evaluation, "letters") | fonts(evaluation, "digit_like_letters")
    assert not evaluation_fonts & training_fonts
    if font_files(EVAL_LETTER_FONT_DIRS)["regular"]:  # DejaVu installed (CI)
        assert not any(f.startswith("Liberation") for f in evaluation_fonts)
    shape_names = {s.detail.split()[0] for s in train + val if s.category == "shapes"}
    assert shape_names == set(TRAIN_SHAPES)
    assert {s.detail.split()[0] for s in evaluation if s.category == "shapes"} <= set(EVAL_SHAPES)
    # no digit-like material is ever trained on
    assert {s.category for s in train} == set(OUTLIER_CATEGORIES)
    chars = {s.detail.split()[0] for s in train if s.category in ("letters", "symbols")}
    assert not chars & set(DIGIT_LIKE_LETTERS + "0123456789")
    # noise and scribbles: same generators, other seed streams -> no image in common
    pages = {
        split: {np.asarray(s.image).tobytes() for s in samples if s.category in ("noise", "scribbles")}
        for split, samples in (("train", train), ("val", val), ("eval", evaluation))
    }
    assert not pages["train"] & pages["eval"] and not pages["val"] & pages["eval"]
    assert not pages["train"] & pages["val"]


def test_liberation_fonts_are_kept_out_of_the_evaluation_letters():
    evaluation = font_files(EVAL_LETTER_FONT_DIRS)
    training = font_files(TRAIN_LETTER_FONT_DIRS)
    assert all(LIBERATION not in p for group in evaluation.values() for p in group)
    assert all(Path(p).parent == Path(LIBERATION) for group in training.values() for p in group)


def test_outlier_pool_is_mnist_like_uint8_and_drops_what_preprocessing_refuses():
    x, kinds = outlier_pool(8, seed=0, split="val")
    assert x.dtype == np.uint8 and x.shape == (len(kinds), 784)
    assert len(kinds) <= 8 * len(OUTLIER_CATEGORIES)
    assert set(kinds) <= set(OUTLIER_CATEGORIES) and (kinds == "letters").sum() == 8
    assert (x.max(axis=1) > 0).all()  # never a blank frame: those were refused
    assert (x[kinds == "letters"].max(axis=1) == 255).all()  # stroke cores stretched to 1
    with pytest.raises(ValueError, match="split"):
        outliers(1, split="test")


# ---------------------------------------------------------------- training


def test_empty_outlier_pool_trains_exactly_as_without(mnist):
    x, y = mnist[0][:600], mnist[1][:600]
    config = TrainConfig(epochs=1, batch_size=64, seed=5)
    plain, empty = MLP(seed=1), MLP(seed=1)
    fit(plain, x, y, config)
    fit(empty, x, y, config, outliers=np.zeros((0, 784), np.uint8))
    np.testing.assert_array_equal(plain.params, empty.params)


def test_a_short_outlier_exposure_run_flags_more_held_out_outliers(mnist):
    x_all, y_all = mnist[0][:3000], mnist[1][:3000]
    x, y, x_val, y_val = train_val_split(x_all, y_all, 0.2, 0)
    pool, _ = outlier_pool(60, seed=0, split="train")
    held_out, _ = outlier_pool(30, seed=0, split="val")
    config = TrainConfig(epochs=4, lr=3e-3, seed=0, outlier_weight=0.5, outlier_batch=32)
    flagged = {}
    for name, extra in (("plain", None), ("exposed", pool)):
        model = MLP(seed=0)
        result = fit(model, x, y, config, x_val, y_val, outliers=extra)
        assert result.best_val_accuracy > 0.85
        assert ("train_outlier_loss" in result.history[-1]) == (extra is not None)
        cal = calibrate(model.forward(as_inputs(x_val)), y_val, 0.05)
        confidence = calibrated_probabilities(model.forward(as_inputs(held_out)), cal["temperature"]).max(1)
        flagged[name] = float((confidence < cal["uncertain_threshold"]).mean())
    assert flagged["exposed"] > flagged["plain"] + 0.2, flagged
