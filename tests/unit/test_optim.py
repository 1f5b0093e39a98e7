import math

import numpy as np
import pytest

from mnist_mlp.model import MLP
from mnist_mlp.model.optim import SGD, Adam, WeightAverage, cosine_lr, make_optimizer
from mnist_mlp.model.training import TrainConfig, evaluate, fit


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


def test_weight_average_follows_the_warmed_up_exponential_average():
    model = MLP((3, 2), seed=0, dtype=np.float64)
    average = WeightAverage(model, decay=0.9)
    expected = model.params.copy()
    for t in range(1, 40):
        model.params[:] = np.random.default_rng(t).normal(size=model.params.size)
        average.update()
        d = min(0.9, (1 + t) / (10 + t))
        expected = d * expected + (1 - d) * model.params
    np.testing.assert_allclose(average.shadow, expected, rtol=1e-12)
    raw, shadow = model.params.copy(), average.shadow.copy()
    average.swap()
    np.testing.assert_array_equal(model.params, shadow)
    average.swap()
    np.testing.assert_array_equal(model.params, raw)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, 1.0)


def test_fit_with_an_average_ends_with_the_average_of_its_own_trajectory():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (400, 784), dtype=np.uint8)
    y = (x[:, :392].sum(axis=1) > x[:, 392:].sum(axis=1)).astype(int)
    plain = MLP((784, 8, 2), seed=0)
    trajectory = []

    class Recorder:  # a progress bar, updated after every step: it sees every step's weights
        def update(self, _):
            trajectory.append(plain.params.copy())

        def set_postfix_str(self, _):
            pass

        def close(self):
            pass

    config = TrainConfig(epochs=2, batch_size=50, lr=1e-2, seed=0)
    fit(plain, x, y, config, progress=lambda total: Recorder())
    averaged = MLP((784, 8, 2), seed=0)
    expected = averaged.params.astype(np.float64)
    fit(averaged, x, y, TrainConfig(**{**vars(config), "ema_decay": 0.9}))
    for t, params in enumerate(trajectory, 1):
        d = min(0.9, (1 + t) / (10 + t))
        expected = d * expected + (1 - d) * params
    np.testing.assert_allclose(averaged.params, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(averaged.params, plain.params, rtol=1e-3, atol=1e-4)
    # with a validation set, the average is what is validated and kept
    kept = MLP((784, 8, 2), seed=0)
    result = fit(kept, x, y, TrainConfig(**{**vars(config), "ema_decay": 0.9}), x[:200], y[:200])
    assert evaluate(kept, x[:200], y[:200]) == (
        result.history[result.best_epoch - 1]["val_loss"],
        result.best_val_accuracy,
    )
