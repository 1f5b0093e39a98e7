"""The life of a worker: its weights from start-up to shutdown.

`mnist-serve` (service/__main__.py) is one master process supervising WORKERS worker processes,
which granian forks from it. Before granian starts, the master makes the memory it shares with
every worker (service/shared.py): the reload token, which the master changes on SIGHUP and
POST /admin/reload changes too, and the last good weights, the bytes of the last weights file
a worker loaded. It is memory, not a file: a /tmp cleaner cannot take it away.

A worker's life is `serve()`, which granian calls in each worker for the app to serve:
1. Load. MODEL_PATH is read once (at most MAX_WEIGHTS_BYTES), validated and warmed up
   (`load_classifier`), then published as the last good weights. A worker started again after
   a crash while MODEL_PATH is a bad file serves the last good weights instead, with one line
   saying so: a worker that failed to start would be respawned at once, and a few quick
   failures in a row make granian stop the whole server as a crash loop.
2. Serve. A watcher thread looks at the reload token every POLL_S seconds; when it has
   changed, the worker loads MODEL_PATH again as in 1 and swaps the new classifier in. A
   request in flight finishes with the classifier it started with; /readyz answers 503 while
   the worker loads.
3. Stop. On SIGTERM granian stops accepting connections and finishes the requests it has;
   /readyz answers 503 from then on.

Why not granian's own SIGHUP, which starts new workers and stops the old ones: a stopping
worker at once closes each connection it has accepted but not yet read a request from
(hyper's HTTP/1 graceful shutdown) and every idle keep-alive connection, so a client whose
connection landed there would get no answer.
"""

import gc
import logging
import signal
import sys
import threading

import numpy as np

from ..data.feedback_store import StoreUnavailable
from ..data.preprocess import preprocess
from ..data.preview import png_bytes
from ..model import Classifier, WeightsError
from ..model.weights import read_weights
from .config import StartupError, load_settings
from .shared import this_server

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often a worker looks at the reload token


def load_classifier(path):
    """(classifier, the file's bytes) for the weights file at `path`; StartupError saying why not."""
    try:
        data = read_weights(path)
    except WeightsError as exc:
        raise StartupError(f"cannot load weights: {exc}") from None
    return classifier_of(data, path), data


def classifier_of(data, name):
    """The classifier of the bytes of a weights file, warmed up; StartupError naming `name` if refused."""
    try:
        classifier = Classifier.from_bytes(data, name)
    except WeightsError as exc:
        raise StartupError(f"cannot load weights: {exc}") from None
    _warm_up(classifier)
    return classifier


def _warm_up(classifier):
    """One prediction, so that Pillow's plugins and NumPy's code paths load now: otherwise each
    worker's first request would pay about 100 ms of lazy imports."""
    page = np.full((28, 28), 255, dtype=np.uint8)
    page[4:25, 13:16] = 0  # a dark stroke on white, as the page draws
    classifier.answers(preprocess(png_bytes(page))[None, :])


def check_start_up():
    """What a short-lived child of the `mnist-serve` master does before any worker starts: build
    the app once, so that a setting or weights file that cannot work stops start-up (StartupError),
    and make the feedback database, which the workers then only open ("serve" access). A SQLite
    file that cannot be made stops start-up too; a PostgreSQL server that is down does not: one
    line says so, and /feedback answers 503 until it is back."""
    from .app import create_app

    app = create_app()
    store = app.extensions["feedback"]
    if store is None:
        return
    try:
        store.prepare()
    except StoreUnavailable as exc:
        if "://" not in app.config["FEEDBACK_DB"]:
            raise StartupError(f"FEEDBACK_DB: {exc}") from None
        print(
            f"warning: the feedback database is unavailable ({exc}); /feedback answers 503 until it is back",
            file=sys.stderr,
        )
    finally:
        store.close()


def serve():
    """granian's factory, run in each worker: the app behind the HTTP edge, its weights kept up to date."""
    from . import logs
    from .edge import Edge

    _stop_signals_default()
    settings = load_settings()
    app, worker = start(settings, this_server())
    logs.configure(settings["LOG_FORMAT"])
    if worker.shared is not None:
        worker.watch()
    # The app's long-lived objects (modules, Flask, NumPy, the weights) leave the garbage
    # collector's view: each collection then scans only what requests allocate.
    gc.freeze()
    return Edge(
        app,
        settings["MAX_CONTENT_LENGTH"],
        settings["BODY_TIMEOUT"],
        settings["LOG_FORMAT"],
        on_start=worker.mark_stopping_on_signal,
    )


def start(settings, shared):
    """(app, Worker) of a worker starting: MODEL_PATH's weights, else the last good ones in `shared`."""
    from .app import create_app

    token = (
        shared.token() if shared is not None else None
    )  # before loading: a reload asked for meanwhile is not missed
    classifier = _first_classifier(settings["MODEL_PATH"], shared)
    app = create_app(settings, classifier, feedback_access="serve" if shared is not None else "create")
    return app, Worker(app, shared, token)


def _stop_signals_default():
    """A forked worker inherits the master's handlers, which only set a flag in this copy of the
    master: a SIGTERM while the app loads would be lost and the worker would serve on until
    killed. Until granian installs the worker's own handlers, the default applies: a worker
    that has accepted nothing yet simply ends."""
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, signal.SIG_DFL)


def _first_classifier(path, shared):
    """MODEL_PATH's classifier, published as the last good weights; the last good ones if it is refused."""
    try:
        classifier, data = load_classifier(path)
    except StartupError as exc:
        last_good = shared.last_good() if shared is not None else None
        if last_good is None:
            raise  # nothing loaded before: the master's start-up check has said why
        log.error("weights refused, serving the last ones that loaded: %s", exc)
        return classifier_of(last_good, "the last good weights")
    if shared is not None:
        shared.publish(data)
    return classifier


class Worker:
    """One worker's weights, kept up to date from `shared`, and whether it is ready for traffic."""

    def __init__(self, app, shared, token=None):
        self.app = app
        self.shared = shared
        self.token = token  # the reload token of the weights it serves
        self.loading = False
        self.stopping = False
        app.extensions["worker"] = self

    @property
    def ready(self):
        return not (self.loading or self.stopping)

    def request_reload(self):
        """Ask every worker of this server to load MODEL_PATH again; False outside mnist-serve."""
        if self.shared is None:
            return False
        self.shared.request_reload()
        return True

    def watch(self):
        """Start the watcher, a daemon thread that reloads whenever the reload token changes;
        the event it returns stops it."""
        stop = threading.Event()

        def run():
            while not stop.wait(POLL_S):
                token = self.shared.token()
                if token == self.token:
                    continue
                self.token = token
                try:
                    self.reload()
                except Exception:  # a dead watcher would leave this worker on its old weights for good
                    log.exception("weights reload failed, still serving %s", self.classifier.model_id)

        threading.Thread(target=run, name="weights-reload", daemon=True).start()
        return stop

    @property
    def classifier(self):
        return self.app.extensions["classifier"]

    def reload(self):
        """Load MODEL_PATH and swap it in; on a refusal, one line and the old weights go on serving."""
        from . import metrics  # imported by create_app already, with the metrics storage chosen

        old = self.classifier
        self.loading = True
        try:
            new, data = load_classifier(self.app.config["MODEL_PATH"])
        except StartupError as exc:
            log.error("weights refused, still serving %s: %s", old.model_id, exc)
            return
        finally:
            self.loading = False
        self.app.extensions["classifier"] = new
        self.shared.publish(data)
        metrics.show_model(new, replacing=old)
        log.info("weights reloaded: serving %s (was %s)", new.model_id, old.model_id)

    def mark_stopping_on_signal(self):
        """From SIGTERM (or SIGINT) on, this worker is not ready.

        Called once the worker serves, after granian has given the event loop its own signal
        handlers. Those run from the loop (asyncio's wakeup file descriptor), whatever Python
        handler is installed; the one installed here marks the worker and calls the one before it.
        """
        for stop in (signal.SIGTERM, signal.SIGINT):
            before = signal.getsignal(stop)

            def handler(signum, frame, before=before):
                self.stopping = True
                if callable(before):
                    before(signum, frame)

            signal.signal(stop, handler)
