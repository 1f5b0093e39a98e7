"""New weights in place: each worker swaps its classifier while it goes on serving.

`mnist-serve` gives its workers a private folder ($MNIST_SERVE_STATE_DIR). A reload is asked for
by replacing the file `reload-requested` in it with a new token: the `mnist-serve` process does
that on SIGHUP (service/__main__.py), and POST /admin/reload does it too. Each worker's watcher
thread reads the token every POLL_S seconds; when it has changed, the worker loads MODEL_PATH
as at start-up (service/last_good.py: a snapshot, validated and warmed up) and swaps the new
classifier in. A request in flight finishes with the classifier it started with.

Why not granian's own SIGHUP, which starts new workers and stops the old ones: an old worker told
to stop at once closes each connection it has accepted but not yet read a request from (hyper's
HTTP/1 graceful shutdown) and every idle keep-alive connection, so a client whose connection
landed there gets no answer.
"""

import logging
import os
import secrets
import threading
from pathlib import Path

from .config import StartupError
from .last_good import load_latest

log = logging.getLogger(__name__)

RELOAD_REQUEST = "reload-requested"
POLL_S = 0.2


def request_reload(folder):
    """Ask every worker serving from `folder` to load MODEL_PATH again."""
    draft = Path(folder) / f".{RELOAD_REQUEST}-{os.getpid()}-{threading.get_ident()}"
    draft.write_text(secrets.token_hex(8))
    os.replace(draft, Path(folder) / RELOAD_REQUEST)  # atomic: a watcher reads the old token or the new


def current_request(folder):
    """The token of the last reload asked for in `folder`; None before the first, or unreadable."""
    try:
        return (Path(folder) / RELOAD_REQUEST).read_text()
    except (OSError, UnicodeDecodeError):
        return None


def watch(app, folder, seen, load_classifier):
    """Start this worker's watcher, a daemon thread that reloads whenever the token differs from
    `seen`; the event it returns stops it."""
    stopping = threading.Event()

    def run():
        nonlocal seen
        while not stopping.wait(POLL_S):
            token = current_request(folder)
            if token is None or token == seen:  # no token (a /tmp cleaner took it) asks for nothing
                continue
            seen = token
            try:
                _reload(app, Path(folder), load_classifier)
            except Exception:  # a dead watcher would leave this worker on its old weights for good
                log.exception(
                    "weights reload failed, still serving %s", app.extensions["classifier"].model_id
                )

    threading.Thread(target=run, name="weights-reload", daemon=True).start()
    return stopping


def _reload(app, folder, load_classifier):
    from . import metrics  # imported by create_app already, with the metrics storage chosen

    old = app.extensions["classifier"]
    try:
        new = load_latest(folder, load_classifier)
    except StartupError as exc:
        log.error("weights refused, still serving %s: %s", old.model_id, exc)
        return
    app.extensions["classifier"] = new
    metrics.show_model(new, replacing=old)
    log.info("weights reloaded: serving %s (was %s)", new.model_id, old.model_id)
