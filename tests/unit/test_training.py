"""fit's on_step hook: called after every step with the step's gradients, and able to stop a run."""

import math

import numpy as np

from mnist_mlp.model import MLP
from mnist_mlp.model.training import TrainConfig, fit


def blobs(n=300, seed=0):
    """Ten separable clusters of 20-pixel inputs: a few steps learn them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    centres = rng.random((10, 20))
    return (centres[labels] + rng.normal(0, 0.05, (n, 20))).astype(np.float32), labels


def test_on_step_sees_every_step_with_its_gradients_and_a_plain_run_is_unchanged():
    x, y = blobs()
    config = TrainConfig(epochs=3, batch_size=64, seed=1)
    calls = []

    def watch(step, epoch, loss, model):
        calls.append((step, epoch, loss, [float(np.linalg.norm(g)) for g in model.grad_weights]))

    watched, plain = MLP((20, 16, 10), seed=0), MLP((20, 16, 10), seed=0)
    result = fit(watched, x, y, config, x[:50], y[:50], on_step=watch)
    reference = fit(plain, x, y, config, x[:50], y[:50])
    steps_per_epoch = math.ceil(len(x) / config.batch_size)
    assert [c[0] for c in calls] == list(range(1, 3 * steps_per_epoch + 1))
    assert [c[1] for c in calls] == [1 + (s - 1) // steps_per_epoch for s in range(1, len(calls) + 1)]
    assert all(norms[0] > 0 and np.isfinite(loss) for _, _, loss, norms in calls)
    assert calls[-1][2] < calls[0][2]  # the batch loss fell
    np.testing.assert_array_equal(watched.params, plain.params)  # watching changes nothing
    untimed = [
        [{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in (result, reference)
    ]
    assert untimed[0] == untimed[1] and not result.stopped


def test_a_true_answer_stops_between_steps_and_the_partial_epoch_is_validated():
    x, y = blobs()
    config = TrainConfig(epochs=5, batch_size=32, seed=1)
    steps_per_epoch = math.ceil(len(x) / config.batch_size)
    stop_at = steps_per_epoch + 4  # the 4th step of epoch 2
    seen = []

    def stop(step, epoch, loss, model):
        seen.append(step)
        return step == stop_at

    model = MLP((20, 16, 10), seed=0)
    result = fit(model, x, y, config, x[:50], y[:50], on_step=stop)
    assert seen[-1] == stop_at and len(seen) == stop_at
    assert result.stopped == f"stopped after step {stop_at} in epoch 2"
    assert not result.diverged
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert all("val_accuracy" in h for h in result.history)
    assert result.best_epoch in (1, 2)


def test_divergence_is_reported_before_on_step_sees_the_bad_step():
    x, y = blobs()
    seen = []
    model = MLP((20, 16, 10), seed=0)
    result = fit(model, x, y, TrainConfig(epochs=2, lr=1e4), on_step=lambda step, *_: seen.append(step))
    assert result.diverged.startswith("loss became") and not result.stopped
    bad_step = int(result.diverged.split("at step ")[1].split()[0])
    assert seen == list(range(1, bad_step))
    assert np.isfinite(model.params).all()
