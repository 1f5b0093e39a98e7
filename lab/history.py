"""A run's history: the points the page draws, recorded by fit's on_step hook within a time budget.

Every point holds the step, the epoch, the mean batch loss since the previous point, each
weight layer's gradient norm and each hidden layer's share of dead units; some also hold
the loss and accuracy of the current weights on training and validation images
("measured" points). Views cost time the training does not get, so they are paced by what
they cost: after a point that took t seconds of the training thread's CPU, the next waits
until the thread has spent t / POINT_SHARE more, and after a measurement, its CPU time /
MEASURE_SHARE. CPU time, not wall time: on a busy machine the thread gets part of a core,
and wall-clock pacing would give the views a larger share of what it gets. Step 1 and the
last step are always recorded and measured.

The points stay bounded: at MAX_POINTS every other one is dropped (the last is kept) and
the pace halves: from then on, two points are twice as far apart, in CPU time and in steps.
"""

import math
import threading
import time

from ..model.training import evaluate
from .views import dead_unit_shares, gradient_norms

POINT_SHARE = 0.01  # of the training thread's CPU time, for the points
MEASURE_SHARE = 0.025  # for the measurements, more: the accuracy curves need them
MAX_GAP = 250  # steps between two points at most, however fast the steps
MAX_POINTS = 1000
TRAIN_PROBE = 500  # training images measured: the accuracy the network reaches on what it learns from


class History:
    """fit's on_step hook (call it), and the points recorded so far (`since`)."""

    def __init__(self, data, x_train, y_train, clock=time.perf_counter, cpu_clock=time.thread_time):
        self.data = data
        # copies: views would keep the whole training set alive as long as the run is kept
        self.x_train, self.y_train = x_train[:TRAIN_PROBE].copy(), y_train[:TRAIN_PROBE].copy()
        self.clock, self.cpu_clock = clock, cpu_clock
        self.stop = threading.Event()  # set: on_step answers True and fit stops between two steps
        self.lock = threading.Lock()
        self.points = []
        self.started = clock()
        self.pace = 1.0  # doubles at every decimation
        self.next_point = self.next_measure = 0.0  # on the training thread's CPU clock
        self.step = self.epoch = 0
        self.loss_sum, self.loss_steps = 0.0, 0

    def __call__(self, step, epoch, loss, model):
        self.step, self.epoch = step, epoch
        self.loss_sum += loss
        self.loss_steps += 1
        now = self.cpu_clock()
        last = self.points[-1]["step"] if self.points else 0
        if step == 1 or step - last >= MAX_GAP or (now >= self.next_point and step - last >= self.pace):
            self._record(model, measure=step == 1 or now >= self.next_measure)
        return self.stop.is_set()

    def finish(self, model):
        """The last step's point, measured, once fit has returned (the model's final weights)."""
        if self.points and self.points[-1]["step"] == self.step and not self.loss_steps:
            with self.lock:
                self.points[-1].update(self._measure(model))
        elif self.step:
            self._record(model, measure=True)

    def since(self, step):
        """The points after `step`, oldest first."""
        with self.lock:
            return [p for p in self.points if p["step"] > step]

    def last_measured(self):
        with self.lock:
            return next((p for p in reversed(self.points) if "val_accuracy" in p), None)

    def _record(self, model, measure):
        started = self.cpu_clock()
        point = {
            "step": self.step,
            "epoch": self.epoch,
            "seconds": round(self.clock() - self.started, 3),
            "loss": _number(self.loss_sum / self.loss_steps) if self.loss_steps else None,
            "grad_norms": [_number(n) for n in gradient_norms(model)],
            "dead_units": dead_unit_shares(model, self.data.probe),
        }
        self.loss_sum, self.loss_steps = 0.0, 0
        viewed = self.cpu_clock()
        self.next_point = viewed + self.pace * (viewed - started) / POINT_SHARE
        if measure:
            point.update(self._measure(model))
            measured = self.cpu_clock()
            self.next_measure = measured + self.pace * (measured - viewed) / MEASURE_SHARE
        with self.lock:
            self.points.append(point)
            if len(self.points) > MAX_POINTS:
                self.points = self.points[::-2][::-1]  # every other one, ending with the newest
                self.pace *= 2

    def _measure(self, model):
        train_loss, train_accuracy = evaluate(model, self.x_train, self.y_train)
        val_loss, val_accuracy = evaluate(model, self.data.x_val, self.data.y_val)
        return {
            "train_loss": _number(train_loss),
            "train_accuracy": train_accuracy,
            "val_loss": _number(val_loss),
            "val_accuracy": val_accuracy,
        }


def _number(value):
    """A float for JSON: None for NaN and infinities, which JSON cannot carry."""
    return float(value) if math.isfinite(value) else None
