"""A scikit-learn estimator around the NumPy MLP, for `clone`, `Pipeline`, `cross_val_score`.

Needs scikit-learn (the `train` extra); the core `mnist_mlp.model.MLP` does not.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .contract import as_inputs
from .losses import softmax
from .mlp import MLP
from .training import TrainConfig, fit

# kept as given when X has one of these; anything else (lists, ints) becomes the first
INPUT_DTYPES = (np.float32, np.float64, np.uint8)


class NumpyMLPClassifier(ClassifierMixin, BaseEstimator):
    """784-128-64-10 by default; X holds pixels in [0, 1] (floats) or 0..255 (uint8)."""

    def __init__(
        self,
        hidden_layer_sizes=(128, 64),
        epochs=10,
        batch_size=128,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        schedule="cosine",
        random_state=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=INPUT_DTYPES)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        sizes = (X.shape[1], *self.hidden_layer_sizes, len(self.classes_))
        self.model_ = MLP(sizes, seed=self.random_state)
        config = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            lr=self.lr,
            weight_decay=self.weight_decay,
            schedule=self.schedule,
            seed=self.random_state,
        )
        result = fit(self.model_, X, y_index, config)
        if result.diverged:
            raise ValueError(f"training diverged: {result.diverged}")
        self.history_ = result.history
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=INPUT_DTYPES, reset=False)
        return softmax(self.model_.forward(as_inputs(X)))

    def predict(self, X):
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
