"""Why the network answered: its logits, hidden activations and input gradients.

For an input x with logits z = f(x), the answer is d = argmax z and the runner-up r the
second largest. The explanation holds
- gradient = d z[d] / d x: which pixels, made brighter, would raise the answer's score. It is
  taken on the logit, not the probability: near p = 1 the softmax saturates and its
  gradient vanishes (Simonyan et al. 2014);
- contrast = d (z[d] - z[r]) / d x: evidence for the answer against the second choice;
- the hidden activations a_1, a_2 and the logits z.

`unit_pattern` shows what a hidden unit looks for, as a 784-number image.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class Explanation:
    """Per row of a batch of B inputs."""

    logits: np.ndarray  # (B, n_out)
    hidden: list  # [a_1 (B, n_1), ..., a_{L-1} (B, n_{L-1})]
    digit: np.ndarray  # (B,) the answer
    runner_up: np.ndarray  # (B,) the second choice
    gradient: np.ndarray  # (B, n_in) d logit[digit] / d x
    contrast: np.ndarray  # (B, n_in) d (logit[digit] - logit[runner_up]) / d x


def explain(mlp, x):
    """The Explanation of the network's answers for inputs x (B, n_in): one forward, one backward."""
    logits = mlp.forward(x, keep=True)  # (B, n_out)
    hidden = mlp.activations[1:]
    ranked = np.argsort(-logits, axis=1, kind="stable")
    digit, runner_up = ranked[:, 0], ranked[:, 1]
    rows = np.arange(len(logits))
    # two directions per row, both through the same backward pass: e_digit and e_digit - e_runner_up
    directions = np.zeros((len(logits), 2, logits.shape[1]), dtype=mlp.dtype)
    directions[rows, :, digit] = 1
    directions[rows, 1, runner_up] = -1
    gradients = mlp.input_gradients(directions)  # (B, 2, n_in)
    return Explanation(logits, hidden, digit, runner_up, gradients[:, 0], gradients[:, 1])


def unit_pattern(mlp, layer, unit):
    """What hidden unit `unit` of hidden layer `layer` (1 = first) looks for: (n_in,) weights.

    First layer: the unit's own incoming weights, W_1[:, unit]. Deeper: the weighted sum of
    the first layer's patterns, W_1 @ ... @ W_layer[:, unit], the input direction that raises
    the unit most if every unit between passes its input on with the same slope (every ReLU
    fired; sigmoids alike in their middle range). Unlike gradient ascent it needs
    no steps, no cache and no choice of starting point, and it is the same for every input.
    ValueError when the layer or the unit does not exist.
    """
    if not 1 <= layer < mlp.n_layers:
        raise ValueError(f"hidden layers are 1..{mlp.n_layers - 1}, got {layer}")
    if not 0 <= unit < mlp.layer_sizes[layer]:
        raise ValueError(f"hidden layer {layer} has units 0..{mlp.layer_sizes[layer] - 1}, got {unit}")
    pattern = mlp.weights[layer - 1][:, unit]
    for w in reversed(mlp.weights[: layer - 1]):
        pattern = w @ pattern
    return pattern
