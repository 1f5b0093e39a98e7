import numpy as np
import pytest

from mnist_mlp.model.losses import cross_entropy, log_softmax, softmax, softmax_cross_entropy_


def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def test_softmax_matches_the_textbook_formula_on_moderate_logits():
    z = np.random.default_rng(0).normal(size=(5, 10))
    np.testing.assert_allclose(softmax(z), naive_softmax(z), rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_softmax(z)), naive_softmax(z), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_give_finite_loss_and_gradient(dtype):
    logits = np.array([[1e4, -1e4, 0], [-1e4, 1e4, 0], [1e4, 1e4, -1e4]], dtype=dtype)
    labels = np.array([0, 0, 2])
    loss, grad = softmax_cross_entropy_(logits.copy(), labels)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    # row 0 is certain and right (0), row 1 is 2e4 nats wrong, row 2 is 2e4 nats wrong
    assert loss == pytest.approx((0 + 2e4 + (2e4 + np.log(2))) / 3, rel=1e-6)
    assert np.isfinite(softmax(logits)).all()
    assert cross_entropy(logits, labels) == pytest.approx(loss, rel=1e-6)


def test_gradient_is_softmax_minus_onehot_over_batch():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 10))
    y = rng.integers(0, 10, size=4)
    loss, grad = softmax_cross_entropy_(z.copy(), y)
    expected = naive_softmax(z)
    expected[np.arange(4), y] -= 1
    np.testing.assert_allclose(grad, expected / 4, rtol=1e-10)
    assert loss == pytest.approx(-np.log(naive_softmax(z)[np.arange(4), y]).mean())
