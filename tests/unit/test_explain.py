"""The explanation's input gradients against central finite differences, and the unit patterns."""

import numpy as np
import pytest

from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.model import DEFAULT_WEIGHTS, MLP, load_weights
from mnist_mlp.model.explain import explain, unit_pattern
from tests.images import drawn_digit, encode

STEP = 1e-6  # the network is piecewise linear: a small step seldom crosses a ReLU's kink
MAX_RELATIVE_ERROR = 1e-6


def as_float64(model):
    copy = MLP(model.layer_sizes, dtype=np.float64, activation=model.activation)
    copy.params[...] = model.params
    return copy


def shipped_float64():
    model, _ = load_weights(DEFAULT_WEIGHTS)
    return as_float64(model)


def logit_finite_differences(model, x, weights):
    """Central differences of (weights . logits) for one input x (n_in,), one pixel at a time."""
    steps = np.eye(x.size) * STEP
    up = model.forward(x + steps) @ weights
    down = model.forward(x - steps) @ weights
    return (up - down) / (2 * STEP)


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b))


def inputs(rng):
    """Digit-like inputs: uniform noise would switch off most of the shipped network's units."""
    drawn = preprocess(encode(drawn_digit())).astype(np.float64)
    noisy = np.clip(drawn + rng.normal(0, 0.1, drawn.size), 0, 1)
    shifted = np.roll(drawn.reshape(28, 28), (2, -3), axis=(0, 1)).ravel()
    return [drawn, noisy, shifted]


@pytest.mark.parametrize("model_name", ["random", "sigmoid", "shipped"])
def test_input_gradients_equal_central_finite_differences(model_name):
    rng = np.random.default_rng(3)
    if model_name == "shipped":
        model = shipped_float64()
    else:
        model = MLP(seed=11, dtype=np.float64, activation="sigmoid" if model_name == "sigmoid" else "relu")
    if model_name != "shipped":
        for b in model.biases:  # nonzero biases, so the ReLUs' gates are not all set by the weights alone
            b[...] = rng.normal(0, 0.1, b.shape)
    batch = np.stack(inputs(rng))
    why = explain(model, batch)
    assert (np.abs(why.gradient).max(axis=1) > 0.01).all()  # not a network switched off
    for row, x in enumerate(batch):
        digit, runner_up = why.digit[row], why.runner_up[row]
        for_digit = logit_finite_differences(model, x, np.eye(10)[digit])
        against = logit_finite_differences(model, x, np.eye(10)[digit] - np.eye(10)[runner_up])
        assert relative_error(why.gradient[row], for_digit) < MAX_RELATIVE_ERROR
        assert relative_error(why.contrast[row], against) < MAX_RELATIVE_ERROR


def test_contrast_is_the_difference_of_the_two_logit_gradients():
    model = shipped_float64()
    batch = np.stack(inputs(np.random.default_rng(4)))
    why = explain(model, batch)
    model.forward(batch, keep=True)
    one_hot = np.eye(10)
    both = model.input_gradients(np.stack([one_hot[why.digit], one_hot[why.runner_up]], axis=1))
    np.testing.assert_allclose(why.gradient, both[:, 0], rtol=1e-12)
    np.testing.assert_allclose(why.contrast, both[:, 0] - both[:, 1], rtol=1e-9, atol=1e-12)


def test_explain_names_the_answer_the_runner_up_and_every_layer():
    model = shipped_float64()
    batch = np.stack(inputs(np.random.default_rng(5)))
    why = explain(model, batch)
    logits = model.forward(batch)
    np.testing.assert_array_equal(why.logits, logits)
    np.testing.assert_array_equal(why.digit, logits.argmax(axis=1))
    masked = logits.copy()
    masked[np.arange(len(batch)), why.digit] = -np.inf
    np.testing.assert_array_equal(why.runner_up, masked.argmax(axis=1))
    _, hidden = model.forward_hidden(batch)
    assert [h.shape for h in why.hidden] == [(3, 128), (3, 64)]
    for got, expected in zip(why.hidden, hidden):
        np.testing.assert_array_equal(got, expected)


def test_input_gradients_leave_the_parameter_gradients_alone():
    model = MLP(seed=2)
    model.grads[...] = 7
    model.forward(np.ones((1, 784)), keep=True)
    model.input_gradients(np.ones((1, 1, 10)))
    assert (model.grads == 7).all()
    with pytest.raises(RuntimeError):
        model.input_gradients(np.ones((1, 1, 10)))


def test_unit_patterns_are_first_layer_weights_and_their_weighted_sums():
    model = shipped_float64()
    np.testing.assert_array_equal(unit_pattern(model, 1, 5), model.weights[0][:, 5])
    np.testing.assert_allclose(unit_pattern(model, 2, 9), model.weights[0] @ model.weights[1][:, 9])
    for layer, unit in [(0, 0), (3, 0), (1, 128), (2, 64), (1, -1)]:
        with pytest.raises(ValueError):
            unit_pattern(model, layer, unit)
