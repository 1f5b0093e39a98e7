"""Each worker's weights, with a fallback: a reload to a bad file keeps the weights that last loaded.

`mnist-serve` gives its workers a private folder ($MNIST_LAST_GOOD_DIR). A worker first copies
MODEL_PATH there (a snapshot: the operator may replace the file again while it loads), builds
the app from the snapshot, and if that works keeps it as `last-good.npz`. If it does not (a
corrupt, truncated or wrong file), the worker prints one line saying so and builds the app from
`last-good.npz` instead: a worker that failed to start would make granian respawn it at once, and
a few quick failures in a row make granian stop the whole server as a crash loop.
"""

import os
import shutil
import stat
import sys
from pathlib import Path

from .config import StartupError, load_settings

LAST_GOOD_ENV = "MNIST_LAST_GOOD_DIR"
LAST_GOOD = "last-good.npz"


def build_app(create_app):
    """The app for this worker: MODEL_PATH's weights if they load, else the last ones that did."""
    folder = os.environ.get(LAST_GOOD_ENV)
    if not folder:
        return create_app()
    given = load_settings()["MODEL_PATH"]
    snapshot = Path(folder) / f"loading-{os.getpid()}.npz"
    try:
        _copy_regular_file(given, snapshot)
        app = create_app({"MODEL_PATH": str(snapshot)})
    except StartupError as exc:
        snapshot.unlink(missing_ok=True)
        last_good = Path(folder) / LAST_GOOD
        if not last_good.exists():
            raise  # nothing loaded before: the master's start-up check has said why
        reason = str(exc).replace(str(snapshot), given)
        print(
            f"error: weights refused, serving the last ones that loaded: {reason}",
            file=sys.stderr,
            flush=True,
        )
        return create_app({"MODEL_PATH": str(last_good)})
    os.replace(
        snapshot, Path(folder) / LAST_GOOD
    )  # atomic: another worker reads a whole file or the older one
    return app


def _copy_regular_file(source, target):
    """Copy `source`; StartupError if it is missing or not a regular file (reading a FIFO would hang)."""
    try:
        if not stat.S_ISREG(os.stat(source).st_mode):
            raise StartupError(f"cannot load weights: {source} is not a regular file")
        shutil.copyfile(source, target)
    except OSError as exc:
        raise StartupError(f"cannot load weights: {source}: {exc.strerror or exc}") from None
