"""MNIST from OpenML through scikit-learn: the default source for users.

`fetch_openml('mnist_784')` downloads once and caches under a data home
(`$SCIKIT_LEARN_DATA`, default ~/scikit_learn_data). Its 70,000 rows are the 60,000
original training images followed by the 10,000 test images, in the original order.
"""

import warnings

import numpy as np

N_TRAIN = 60_000
OFFLINE_HINT = (
    "could not download MNIST from OpenML (no network?): point at local IDX files instead, "
    "with --data-dir DIR or MNIST_DATA_DIR=DIR"
)


class DataUnavailable(RuntimeError):
    """The data cannot be had from here; the message says what to do instead."""


def fetch_openml_mnist(data_home=None, fetch=None):
    """(x_train, y_train, x_test, y_test): uint8 pixels (N, 784) and int64 labels.

    `fetch` defaults to sklearn.datasets.fetch_openml; tests pass a stand-in.
    """
    if fetch is None:
        try:
            from sklearn.datasets import fetch_openml as fetch
        except ImportError:
            raise DataUnavailable(
                "fetching MNIST from OpenML needs scikit-learn (pip install '.[train]'), "
                "or use local IDX files with --data-dir DIR"
            ) from None
    try:
        with warnings.catch_warnings():  # scikit-learn warns on every retry; the error below says it once
            warnings.simplefilter("ignore", UserWarning)
            x, y = fetch("mnist_784", version=1, as_frame=False, return_X_y=True, data_home=data_home)
    except OSError as exc:  # URLError, socket timeouts and ConnectionError are all OSErrors
        raise DataUnavailable(f"{OFFLINE_HINT} ({exc})") from None
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 784 or len(x) != len(y) or len(x) <= N_TRAIN:
        raise DataUnavailable(f"OpenML returned unexpected MNIST data of shape {x.shape}")
    x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    y = np.asarray(y).astype(np.int64)  # OpenML's labels are the strings '0'..'9'
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]
