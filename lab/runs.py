"""Training runs on background threads: one or two at a time, the finished ones kept up to a few.

A Run trains its own MLP with model/training.py's `fit` on a thread of its own; the page
reads its state and its history while it trains, tries its current weights on a drawing
and downloads them. States: running, then finished, diverged (the NaN guard stopped it),
stopped (asked to) or failed (an error; the message says which).
"""

import itertools
import logging
import threading
import time

from ..model import MLP
from ..model.training import TrainConfig, fit
from .history import History

log = logging.getLogger(__name__)

MAX_RUNNING = 2  # the machine's two cores, one BLAS thread each (lab/__main__.py)
MAX_KEPT = 8  # runs answered at all; beyond, the oldest finished one is forgotten


class Busy(RuntimeError):
    """MAX_RUNNING runs are training already."""


class UnknownRun(LookupError):
    """No run has that id, or no longer."""


class Run:
    def __init__(self, run_id, settings, data):
        self.id = run_id
        self.settings = settings
        self.data = data
        self.model = MLP(
            settings.layer_sizes, seed=settings.seed, init=settings.init, activation=settings.activation
        )
        self.initial_first_layer = self.model.weights[0].copy()  # what it learned = now - this
        self.state = "running"
        self.message = "training"
        self.created = time.time()
        self.training_set = data.training_set(settings.train_size, settings.seed)  # dropped once trained
        self.history = History(data, *self.training_set)
        self.thread = threading.Thread(target=self._train, name=f"lab-run-{run_id}", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        """Ask the run to stop after its current step."""
        self.history.stop.set()

    def snapshot(self):
        """A copy of the network as it is now, for a prediction or a picture while it trains."""
        copy = MLP(self.settings.layer_sizes, activation=self.settings.activation)
        copy.params[...] = self.model.params
        return copy

    def _train(self):
        settings = self.settings
        try:
            config = TrainConfig(
                epochs=settings.epochs,
                batch_size=settings.batch_size,
                optimizer=settings.optimizer,
                lr=settings.lr,
                seed=settings.seed,
            )
            result = fit(self.model, *self.training_set, config, on_step=self.history)
            self.history.finish(self.model)
        except Exception as exc:  # reported as the run's state; the lab goes on serving
            log.exception("run %s failed", self.id)
            self._end("failed", f"training failed: {type(exc).__name__}: {exc}")
            return
        finally:
            self.training_set = None
        if result.diverged:
            self._end(
                "diverged",
                f"the NaN guard stopped training: {result.diverged}; the weights are the last good ones",
            )
        elif result.stopped:
            self._end("stopped", f"{result.stopped}, as asked")
        else:
            self._end("finished", f"finished {settings.epochs} epochs, {self.history.step} steps")

    def _end(self, state, message):
        self.message = message
        self.state = state  # last: a reader that sees the final state sees its message


class Runs:
    """The runs the lab knows, newest last."""

    def __init__(self, data, max_running=MAX_RUNNING, max_kept=MAX_KEPT):
        self.data = data
        self.max_running = max_running
        self.max_kept = max_kept
        self.lock = threading.Lock()
        self.runs = {}  # id -> Run, in creation order
        self.ids = itertools.count(1)

    def start(self, settings):
        with self.lock:
            running = sum(run.state == "running" for run in self.runs.values())
            if running >= self.max_running:
                raise Busy(
                    f"{running} runs are training already, the most the lab trains at once; "
                    "stop one or wait for it to finish"
                )
            self._forget_old()
            run = Run(str(next(self.ids)), settings, self.data)
            self.runs[run.id] = run
        return run.start()

    def get(self, run_id):
        with self.lock:
            run = self.runs.get(run_id)
        if run is None:
            raise UnknownRun(f"no run {run_id!r}; the lab keeps the last {self.max_kept} runs")
        return run

    def all(self):
        with self.lock:
            return list(self.runs.values())

    def _forget_old(self):
        """Room for one more run: the oldest ended runs go first."""
        ended = [run_id for run_id, run in self.runs.items() if run.state != "running"]
        while len(self.runs) >= self.max_kept and ended:
            del self.runs[ended.pop(0)]
