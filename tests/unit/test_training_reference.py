"""fit against a textbook training loop written out plainly here: the same weights after the same steps.

The loop below is the math of model/mlp.py, model/losses.py and model/optim.py as their docstrings
state it, with none of their buffers, in-place updates or folded constants: a fresh array for every
value. It draws the same shuffles (one rng.permutation per epoch from default_rng(seed)) and scales
the uint8 pixels the same way, so any speed trick in the project's loop that changes the math (a
wrong bias correction, weight decay on the biases, a stale buffer) moves the final weights.
float64 agrees to rounding (rtol 1e-9); float32 to rtol 1e-4 / atol 5e-6, the loops rounding in
different orders.
"""

import math

import numpy as np
import pytest

from mnist_mlp.model import MLP
from mnist_mlp.model.explain import explain
from mnist_mlp.model.optim import make_optimizer
from mnist_mlp.model.training import TrainConfig, fit

SIZES = (784, 32, 16, 10)
N, BATCH = 100, 32  # four steps an epoch, the last of 4 images


def images(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (N, 784), dtype=np.uint8), rng.integers(0, 10, N)


def lr_at(config, step, total_steps):
    """The project's schedules: constant, or cosine from lr down to 0 over total_steps (no warm-up)."""
    if config.schedule == "constant":
        return config.lr
    progress = min(1.0, step / max(1, total_steps))
    return config.lr * 0.5 * (1 + math.cos(math.pi * progress))


def reference_fit(params, x, labels, config, dtype):
    """Weights [W_1, .., W_L], [b_1, .., b_L] after `config.epochs` epochs of plain mini-batch training."""
    weights, biases = [w.copy() for w in params[0]], [b.copy() for b in params[1]]
    rng = np.random.default_rng(config.seed)
    state = [np.zeros_like(p) for p in weights + biases]  # SGD velocity, or Adam's first moment m
    second = [np.zeros_like(p) for p in weights + biases]  # Adam's v
    ema = [p.copy() for p in weights + biases]
    steps_per_epoch = math.ceil(len(x) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    t = 0
    for _ in range(config.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), config.batch_size):
            idx = order[start : start + config.batch_size]
            a = x[idx].astype(dtype) * dtype(1 / 255)
            # forward: z_l = a_{l-1} W_l + b_l, a_l = relu(z_l), the last z the logits
            layer_inputs = []
            for layer, (w, b) in enumerate(zip(weights, biases)):
                layer_inputs.append(a)
                z = a @ w + b
                a = np.maximum(z, 0) if layer < len(weights) - 1 else z
            # softmax cross-entropy: d loss / d z = (softmax(z) - onehot(y)) / B
            p = np.exp(a - a.max(axis=1, keepdims=True))
            p = p / p.sum(axis=1, keepdims=True)
            onehot = np.eye(a.shape[1], dtype=dtype)[labels[idx]]
            delta = (p - onehot) / dtype(len(idx))
            # backward: dW_l = a_{l-1}^T d_l, db_l = sum_batch d_l, d_{l-1} = d_l W_l^T * [a_{l-1} > 0]
            grad_w, grad_b = [None] * len(weights), [None] * len(weights)
            for layer in reversed(range(len(weights))):
                grad_w[layer] = layer_inputs[layer].T @ delta
                grad_b[layer] = delta.sum(axis=0)
                if layer:
                    delta = (delta @ weights[layer].T) * (layer_inputs[layer] > 0)
            # L2 weight decay: + weight_decay * W on the weights' gradients, never the biases'
            grads = [g + dtype(config.weight_decay) * w for g, w in zip(grad_w, weights)] + grad_b
            lr = lr_at(config, t, total_steps)
            t += 1
            new = []
            for i, (param, g) in enumerate(zip(weights + biases, grads)):
                if config.optimizer == "sgd":  # v <- 0.9 v + g, p <- p - lr v
                    state[i] = dtype(0.9) * state[i] + g
                    new.append(param - dtype(lr) * state[i])
                else:  # Adam: m, v running means; p <- p - lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)
                    b1, b2, eps = 0.9, 0.999, 1e-8
                    state[i] = dtype(b1) * state[i] + dtype(1 - b1) * g
                    second[i] = dtype(b2) * second[i] + dtype(1 - b2) * g * g
                    step = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
                    new.append(param - dtype(step) * (state[i] / (np.sqrt(second[i]) + dtype(eps))))
            weights, biases = new[: len(weights)], new[len(weights) :]
            if config.ema_decay:  # shadow <- d shadow + (1 - d) params, d warming up to the decay
                d = min(config.ema_decay, (1 + t) / (10 + t))
                ema = [s - dtype(1 - d) * (s - p) for s, p in zip(ema, weights + biases)]
    if config.ema_decay:  # without a validation set the last epoch is kept, and what it keeps is the average
        weights, biases = ema[: len(weights)], ema[len(weights) :]
    return weights, biases


CASES = {
    "adam-constant": {"schedule": "constant"},
    "adam-cosine-decay": {"schedule": "cosine", "weight_decay": 1e-2},
    "adam-ema": {"schedule": "cosine", "ema_decay": 0.9},
    "sgd-cosine-decay": {"optimizer": "sgd", "lr": 0.05, "schedule": "cosine", "weight_decay": 1e-2},
}
TOLERANCES = {np.float64: {"rtol": 1e-9, "atol": 0}, np.float32: {"rtol": 1e-4, "atol": 5e-6}}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_fit_gives_the_textbook_loops_weights(case, dtype):
    x, y = images()
    config = TrainConfig(epochs=3, batch_size=BATCH, seed=5, **CASES[case])
    model = MLP(SIZES, seed=1, dtype=dtype)
    start = ([w.copy() for w in model.weights], [b.copy() for b in model.biases])
    fit(model, x, y, config)
    weights, biases = reference_fit(start, x, y, config, dtype)
    assert not np.allclose(model.weights[0], start[0][0])  # it trained
    for ours, theirs in zip(model.weights + model.biases, weights + biases):
        assert ours.dtype == theirs.dtype == dtype
        np.testing.assert_allclose(ours, theirs, **TOLERANCES[dtype])


def test_activations_handed_out_are_copies_that_training_does_not_overwrite():
    x, y = images()
    model = MLP(SIZES, seed=1)
    inputs = x[:BATCH].astype(np.float32) / 255
    logits, hidden = model.forward_hidden(inputs)
    seen = explain(model, inputs)
    kept = [a.copy() for a in (logits, *hidden, seen.logits, *seen.hidden)]
    # the training loop's forward and backward passes over other images, same batch size
    fit(model, x, y, TrainConfig(epochs=1, batch_size=BATCH, schedule="constant"))
    model.forward(x[BATCH : 2 * BATCH].astype(np.float32) / 255, keep=True)
    for before, now in zip(kept, (logits, *hidden, seen.logits, *seen.hidden)):
        np.testing.assert_array_equal(now, before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_adam_stays_textbook_while_the_moments_of_a_silent_input_decay_past_float32s_subnormals(dtype):
    """A gradient seen once, then 0 for 800 steps: m decays as 0.9^t through 1e-38 and below.

    The optimiser flushes tiny moments to 0 (float32 subnormals are slow); the weights must not
    notice, and no float32 moment may be left subnormal."""
    model = MLP((3, 2), seed=0, dtype=dtype)
    adam = make_optimizer("adam", model, lr=1e-3)
    params = model.params.astype(np.float64)
    m, v = np.zeros_like(params), np.zeros_like(params)
    first = np.linspace(-1e-3, 2e-3, model.params.size)
    for t in range(1, 801):
        g = first if t == 1 else np.zeros_like(first)
        model.grads[...] = g
        adam.step()
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        params = params - 1e-3 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(model.params, params, **TOLERANCES[dtype])
    tiny = np.finfo(np.float32).tiny
    assert not ((adam.m != 0) & (np.abs(adam.m) < tiny)).any()
    assert np.abs(m).max() < 1e-30  # the textbook m went that far down
