import math

import numpy as np
import pytest

from mnist_mlp.model import MLP
from mnist_mlp.model.optim import SGD, Adam, cosine_lr, make_optimizer


def model_with_grads(seed=0):
    model = MLP((3, 2), seed=seed, dtype=np.float64)
    model.grads[:] = np.random.default_rng(seed).normal(size=model.grads.size)
    return model


def test_adam_steps_follow_kingma_and_ba():
    model = model_with_grads()
    p0, g = model.params.copy(), model.grads.copy()
    adam = Adam(model, lr=0.01)
    adam.step()
    m, v = 0.1 * g, 0.001 * g**2
    expected = p0 - 0.01 * math.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-8)
    # first step: bias-corrected m/sqrt(v) = sign(g), so every parameter moves by ~lr
    np.testing.assert_allclose(model.params, expected, rtol=1e-6)
    np.testing.assert_allclose(np.abs(model.params - p0), 0.01, rtol=1e-4)


def test_sgd_momentum_accumulates_velocity():
    model = model_with_grads()
    p0, g = model.params.copy(), model.grads.copy()
    sgd = SGD(model, lr=0.1, momentum=0.9)
    sgd.step()
    sgd.step()
    np.testing.assert_allclose(model.params, p0 - 0.1 * g - 0.1 * (0.9 * g + g))


def test_weight_decay_touches_weights_not_biases():
    model = MLP((3, 2), seed=0, dtype=np.float64)
    model.biases[0][:] = 1.0
    model.grads[:] = 0
    p0 = model.params.copy()
    SGD(model, lr=0.1, momentum=0.0, weight_decay=0.5).step()
    np.testing.assert_allclose(model.weights[0], p0[:6].reshape(3, 2) * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(model.biases[0], 1.0)


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    assert cosine_lr(1.0, 0, 100, warmup_steps=10) == pytest.approx(0.1)
    assert cosine_lr(1.0, 9, 100, warmup_steps=10) == pytest.approx(1.0)
    assert cosine_lr(1.0, 10, 100, warmup_steps=10) == pytest.approx(1.0)
    assert cosine_lr(1.0, 55, 100, warmup_steps=10) == pytest.approx(0.5)
    assert cosine_lr(1.0, 100, 100, final_fraction=0.1) == pytest.approx(0.1)


def test_bad_optimiser_settings_are_refused():
    model = MLP((3, 2))
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop", model, 0.1)
    with pytest.raises(ValueError, match="positive"):
        Adam(model, lr=0)
    with pytest.raises(ValueError, match="weight decay"):
        SGD(model, lr=0.1, weight_decay=-1)
