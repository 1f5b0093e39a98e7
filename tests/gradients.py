"""The gradient a network's backward pass must match: central differences of the loss."""

import numpy as np

from mnist_mlp.model.losses import cross_entropy


def numeric_gradient(model, x, y, eps=1e-6):
    """d cross_entropy / d params by central differences, one parameter at a time (small models only)."""
    grads = np.empty_like(model.params)
    for i in range(model.params.size):
        saved = model.params[i]
        model.params[i] = saved + eps
        up = cross_entropy(model.forward(x), y)
        model.params[i] = saved - eps
        down = cross_entropy(model.forward(x), y)
        model.params[i] = saved
        grads[i] = (up - down) / (2 * eps)
    return grads
