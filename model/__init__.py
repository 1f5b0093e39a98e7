"""A from-scratch NumPy MLP for MNIST: forward, backward, optimisers, `.npz` weights.

No Flask, no image I/O, no scikit-learn here: the service imports this package for
forward-only inference.
"""

from pathlib import Path

from .mlp import DEFAULT_LAYER_SIZES, MLP
from .weights import WeightsError, load_weights, save_weights

DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "mnist_mlp.npz"

__all__ = ["DEFAULT_LAYER_SIZES", "DEFAULT_WEIGHTS", "MLP", "WeightsError", "load_weights", "save_weights"]
