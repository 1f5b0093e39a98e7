"""Each worker's weights, with a fallback: the last copy of MODEL_PATH that loaded.

A worker loads a snapshot of MODEL_PATH copied into the server's private folder
($MNIST_SERVE_STATE_DIR), since the operator may replace the file again while it loads. A
snapshot that loads becomes `last-good.npz`. A worker (re)started by granian while MODEL_PATH is
a bad file serves `last-good.npz` instead, with one line saying so: a worker that failed to
start would be respawned at once, and a few quick failures in a row make granian stop the whole
server as a crash loop.
"""

import os
import shutil
import stat
import sys
from pathlib import Path

from .config import STATE_DIR_ENV, StartupError, load_settings

LAST_GOOD = "last-good.npz"


def build_app(create_app):
    """The app for this worker: MODEL_PATH's weights if they load, else the last ones that did."""
    folder = os.environ.get(STATE_DIR_ENV)
    if not folder:
        return create_app()
    try:
        return load_latest(Path(folder), lambda snapshot: create_app({"MODEL_PATH": str(snapshot)}))
    except StartupError as exc:
        last_good = Path(folder) / LAST_GOOD
        if not last_good.exists():
            raise  # nothing loaded before: the master's start-up check has said why
        print(f"error: weights refused, serving the last ones that loaded: {exc}", file=sys.stderr)
        return create_app({"MODEL_PATH": str(last_good)})


def load_latest(folder, load):
    """load(snapshot) of a copy of MODEL_PATH, kept as the last good one if that works.

    StartupError naming MODEL_PATH if the file is missing, not a regular file, or refused by `load`.
    """
    given = load_settings()["MODEL_PATH"]
    snapshot = folder / f"loading-{os.getpid()}.npz"
    try:
        _copy_regular_file(given, snapshot)
        loaded = load(snapshot)
        os.replace(snapshot, folder / LAST_GOOD)  # atomic: another worker reads a whole file or the older one
    except StartupError as exc:
        raise StartupError(str(exc).replace(str(snapshot), given)) from None
    finally:
        snapshot.unlink(missing_ok=True)  # gone already when it became the last good copy
    return loaded


def _copy_regular_file(source, target):
    """Copy `source`; StartupError if it is missing or not a regular file (reading a FIFO would hang)."""
    try:
        if not stat.S_ISREG(os.stat(source).st_mode):
            raise StartupError(f"cannot load weights: {source} is not a regular file")
        shutil.copyfile(source, target)
    except OSError as exc:
        raise StartupError(f"cannot load weights: {source}: {exc.strerror or exc}") from None
