"""The classifier's finiteness check rests on `logit_bound`: it must bound |logits| for every input
in [0, 1], for ReLU and for sigmoid hidden layers alike."""

import numpy as np
import pytest

from mnist_mlp.model import MLP, Classifier, save_weights
from mnist_mlp.model.classifier import logit_bound


def extreme_inputs(n_in, rng):
    """Corners of the input cube [0, 1]^n and random points inside it."""
    return np.vstack(
        [np.zeros(n_in), np.ones(n_in), rng.integers(0, 2, (200, n_in)), rng.random((200, n_in))]
    )


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("scale", [1e-4, 1.0, 50.0])
def test_the_bound_holds_for_every_input(activation, scale):
    rng = np.random.default_rng(1)
    model = MLP((30, 12, 8, 5), seed=2, dtype=np.float64, activation=activation)
    model.params *= scale
    for b in model.biases:
        b[...] = rng.normal(scale=scale, size=b.shape)
    largest = np.abs(model.forward(extreme_inputs(30, rng))).max()
    assert largest <= logit_bound(model)


def test_sigmoid_outputs_near_one_half_are_bounded_even_when_the_weights_before_are_tiny():
    # sigmoid(0) = 1/2 whatever the (tiny) first layer: the ReLU rule would carry its bound of ~0
    # on and claim logits of ~0, while every logit here is 8 * 1/2 = 4.
    model = MLP((30, 8, 5), dtype=np.float64, activation="sigmoid")
    model.weights[0][...] = 1e-12
    model.weights[1][...] = 1.0
    logits = model.forward(np.ones((1, 30)))
    assert logits == pytest.approx(np.full((1, 5), 4.0), rel=1e-9)
    assert logit_bound(model) >= 4.0


def test_a_sigmoid_network_loads_into_the_classifier(tmp_path):
    path = tmp_path / "sigmoid.npz"
    save_weights(path, MLP((784, 20, 20, 10), seed=0, activation="sigmoid"))
    classifier = Classifier(path)
    answers = classifier.answers(np.random.default_rng(0).random((3, 784)))
    assert classifier.mlp.activation == "sigmoid"
    assert all(abs(sum(a["probabilities"]) - 1) < 1e-4 for a in answers)
