"""A from-scratch NumPy MLP for MNIST: the network, its training, its `.npz` weights, its answers.

NumPy only: no Flask, no image I/O, no scikit-learn (but for `estimator`, the optional
scikit-learn wrapper). Every other layer of the project imports this one.
"""

from pathlib import Path

from .classifier import Classifier
from .mlp import DEFAULT_LAYER_SIZES, MLP
from .weights import WeightsError, load_weights, save_weights

DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "mnist_mlp.npz"

__all__ = [
    "DEFAULT_LAYER_SIZES",
    "DEFAULT_WEIGHTS",
    "MLP",
    "Classifier",
    "WeightsError",
    "load_weights",
    "save_weights",
]
