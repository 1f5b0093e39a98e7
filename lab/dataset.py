"""The lab's MNIST, loaded once at start-up: a pool to draw training sets from, and a validation set.

1,000 of MNIST's 60,000 training images (each digit in its share, drawn at random with seed 0)
are held out for validation; every run trains on a random subset of the rest, of the size
it asks for. The test set is never used: the lab chooses nothing on it.
"""

import os
from dataclasses import dataclass

import numpy as np

from ..data import DATA_DIR_ENV, load_mnist, train_val_split
from ..model.contract import as_inputs

VAL_IMAGES = 1_000  # enough to tell 90 % from 92 %, cheap enough to measure often
PROBE_IMAGES = 128  # validation images forwarded to count the dead units: half a millisecond


@dataclass(frozen=True)
class LabData:
    x_pool: np.ndarray  # uint8 (N, 784): training sets are drawn from these
    y_pool: np.ndarray  # int64 (N,)
    x_val: np.ndarray  # uint8 (VAL_IMAGES, 784)
    y_val: np.ndarray
    probe: np.ndarray  # float32 (PROBE_IMAGES, 784): network inputs, converted once
    source: str  # where the images came from, for the weights' metadata

    @classmethod
    def split(cls, x, y, source, val_images=VAL_IMAGES):
        """Hold out `val_images` of (x, y), stratified by digit."""
        x_pool, y_pool, x_val, y_val = train_val_split(x, y, val_images / len(x), seed=0)
        return cls(x_pool, y_pool, x_val, y_val, as_inputs(x_val[:PROBE_IMAGES]), source)

    def training_set(self, size, seed):
        """(x, y): `size` images of the pool, drawn at random without replacement."""
        picked = np.random.default_rng(seed).choice(len(self.x_pool), size, replace=False)
        return self.x_pool[picked], self.y_pool[picked]


def load(data_dir=None, data_home=None):
    """LabData from MNIST's IDX files in `data_dir` ($MNIST_DATA_DIR), else from OpenML."""
    x_train, y_train, _, _ = load_mnist(data_dir, data_home)
    return LabData.split(
        x_train, y_train, str(data_dir or os.environ.get(DATA_DIR_ENV) or "openml:mnist_784")
    )
