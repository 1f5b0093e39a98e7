"""Soft targets: the soft cross-entropy, label smoothing and Hinton et al.'s distillation loss,
each checked against finite differences in float64, and the loop's use of a teacher."""

import numpy as np
import pytest

from mnist_mlp.model import MLP
from mnist_mlp.model.distill import distillation_loss_
from mnist_mlp.model.losses import log_softmax, smoothed_targets, soft_cross_entropy_, softmax
from mnist_mlp.model.training import TrainConfig, fit


def numeric_gradient(f, z, eps=1e-6):
    grad = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = eps
        grad[index] = (f(z + step) - f(z - step)) / (2 * eps)
    return grad


def hinton_loss(z, y, t, temperature, alpha):
    """The textbook formula, no tricks: alpha T^2 CE(q, p_T) + (1 - alpha) CE(y, p)."""
    q = softmax(t / temperature)
    soft = -(q * log_softmax(z / temperature)).sum(axis=1).mean()
    hard = -log_softmax(z)[np.arange(len(y)), y].mean()
    return alpha * temperature**2 * soft + (1 - alpha) * hard


def test_soft_cross_entropy_gradient_matches_finite_differences_float64():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (5, 10))
    q = softmax(rng.normal(0, 3, (5, 10)))
    loss, grad = soft_cross_entropy_(z.copy(), q, weight=0.3)
    assert loss == pytest.approx(-(q * log_softmax(z)).sum(axis=1).mean(), rel=1e-12)
    numeric = numeric_gradient(lambda v: -(q * log_softmax(v)).sum(axis=1).mean(), z)
    np.testing.assert_allclose(grad, 0.3 * numeric, rtol=1e-6, atol=1e-10)


def test_soft_cross_entropy_to_a_one_hot_is_the_plain_cross_entropy():
    z = np.random.default_rng(1).normal(0, 2, (4, 10))
    y = np.array([3, 0, 9, 3])
    loss, _ = soft_cross_entropy_(z.copy(), smoothed_targets(y, 10, 0.0, np.float64))
    assert loss == pytest.approx(-log_softmax(z)[np.arange(4), y].mean(), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_cross_entropy_is_finite_on_extreme_logits(dtype):
    z = np.array([[1e4, -1e4, 0], [-1e4, 1e4, 0]], dtype=dtype)
    q = np.array([[1, 0, 0], [0.5, 0.5, 0]], dtype=dtype)
    loss, grad = soft_cross_entropy_(z, q)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx((0 + 0.5 * 2e4) / 2, rel=1e-6)


def test_smoothed_targets_are_distributions_with_the_label_on_top():
    q = smoothed_targets(np.array([2, 7]), 10, 0.1)
    np.testing.assert_allclose(q.sum(axis=1), 1, rtol=1e-6)
    assert (
        q[0, 2] == pytest.approx(0.91) and q[0, 0] == pytest.approx(0.01) and q[1, 7] == pytest.approx(0.91)
    )


@pytest.mark.parametrize(("temperature", "alpha"), [(1.0, 0.5), (4.0, 0.9), (2.5, 1.0)])
def test_distillation_gradient_matches_finite_differences_float64(temperature, alpha):
    rng = np.random.default_rng(2)
    z, t = rng.normal(0, 2, (6, 10)), rng.normal(0, 4, (6, 10))
    y = rng.integers(0, 10, 6)
    hard, kl, grad = distillation_loss_(z.copy(), y, t, temperature, alpha)
    assert hard == pytest.approx(-log_softmax(z)[np.arange(6), y].mean(), rel=1e-12)
    q = softmax(t / temperature)
    expected_kl = (q * (np.log(q) - log_softmax(z / temperature))).sum(axis=1).mean()
    assert kl == pytest.approx(expected_kl, rel=1e-10)
    numeric = numeric_gradient(lambda v: hinton_loss(v, y, t, temperature, alpha), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_a_student_equal_to_its_teacher_has_zero_kl_and_only_the_hard_gradient():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, (4, 10))
    y = rng.integers(0, 10, 4)
    _, kl, grad = distillation_loss_(z.copy(), y, z.copy(), 3.0, 0.8)
    assert abs(kl) < 1e-12
    hard = softmax(z)
    hard[np.arange(4), y] -= 1
    np.testing.assert_allclose(grad, 0.2 * hard / 4, atol=1e-15)


def test_fit_with_alpha_zero_trains_exactly_as_without_a_teacher():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (300, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 300)
    asked = []

    def teacher(inputs):
        asked.append(inputs.shape)
        return rng.normal(size=(len(inputs), 10)).astype(np.float32)

    config = TrainConfig(epochs=2, batch_size=64, seed=1, distill_alpha=0.0)
    plain, taught = MLP((784, 16, 10), seed=2), MLP((784, 16, 10), seed=2)
    fit(plain, x, y, config)
    result = fit(taught, x, y, config, teacher=teacher)
    np.testing.assert_allclose(taught.params, plain.params, rtol=1e-6, atol=1e-7)
    assert asked[0] == (64, 784) and len(asked) == 2 * 5  # every batch, digits only
    assert result.history[-1]["train_distill_kl"] > 0


def test_a_student_learns_the_teachers_labels_from_soft_targets_alone():
    """With alpha = 1 the true labels are never used: a student taught by a teacher that answers
    "is the left half brighter" where the labels are noise must fit the teacher, not the labels."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (1000, 784), dtype=np.uint8)
    left = x.reshape(-1, 28, 28)[:, :, :14].sum(axis=(1, 2)) > x.reshape(-1, 28, 28)[:, :, 14:].sum(
        axis=(1, 2)
    )
    noise = rng.integers(0, 10, len(x))

    def teacher(inputs):
        images = inputs.reshape(-1, 28, 28)
        brighter = images[:, :, :14].sum(axis=(1, 2)) > images[:, :, 14:].sum(axis=(1, 2))
        logits = np.zeros((len(inputs), 10), np.float32)
        logits[np.arange(len(inputs)), brighter.astype(int)] = 5.0
        return logits

    config = TrainConfig(epochs=30, lr=3e-3, seed=0, distill_alpha=1.0, distill_temperature=2.0)
    model = MLP((784, 32, 10), seed=0)
    fit(model, x, noise, config, teacher=teacher)
    predicted = model.predict(x / np.float32(255))
    assert (predicted == left).mean() > 0.9 and (predicted == noise).mean() < 0.2


def test_label_smoothing_and_a_teacher_are_refused_together():
    x = np.zeros((10, 784), np.uint8)
    with pytest.raises(ValueError, match="label smoothing"):
        fit(MLP((784, 4, 10)), x, np.zeros(10, int), TrainConfig(label_smoothing=0.1), teacher=lambda v: v)
