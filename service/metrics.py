"""Prometheus metrics: requests by route, method and status, latency, predictions per digit,
their confidence and the share answered "uncertain", model info.

Every label value comes from a fixed set (routes from the URL map, methods from
METHODS, digits 0-9), so no request can create a new time series.

Under `mnist-serve` PROMETHEUS_MULTIPROC_DIR is set before this module is
imported, so prometheus_client keeps every value in per-process files there and a scrape
of any worker aggregates all of them. Without it (tests, `flask run`) the default
in-process registry is used.
"""

import glob
import os
import time
from pathlib import Path

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

bp = Blueprint("metrics", __name__)

REQUESTS = Counter("mnist_http_requests", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "mnist_http_request_duration_seconds",
    "Time from request start to response, by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
PREDICTIONS = Counter("mnist_predictions", "Digits predicted", ["digit"])
CONFIDENCE = Histogram(
    "mnist_prediction_confidence",
    "Calibrated top probability of each prediction",
    buckets=(0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.999, 1.0),
)
UNCERTAIN = Counter("mnist_predictions_uncertain", "Predictions answered uncertain (below the threshold)")
# One child per digit, made once: each digit's series exists from the start (at 0), and
# a request only increments, without labels()'s lookup.
DIGIT_COUNTERS = [PREDICTIONS.labels(digit=str(digit)) for digit in range(10)]
# Info metrics do not work in multiprocess mode: a constant-1 gauge carries the labels instead,
# the highest over the live workers (a dead worker's files are dropped: forget_dead_workers).
MODEL_INFO = Gauge(
    "mnist_model_info", "The loaded model", ["model_id", "sha256"], multiprocess_mode="livemax"
)


def init_app(app, classifier):
    forget_dead_workers(app.config["PROMETHEUS_MULTIPROC_DIR"])
    show_model(classifier)
    app.before_request(_start_timer)
    app.after_request(_record)
    app.register_blueprint(bp)


def show_model(classifier, replacing=None):
    """Model info for `classifier`, at 0 for the one it replaces in this worker."""
    if replacing is not None and replacing.model_id != classifier.model_id:
        MODEL_INFO.labels(model_id=replacing.model_id, sha256=replacing.sha256).set(0)
    MODEL_INFO.labels(model_id=classifier.model_id, sha256=classifier.sha256).set(1)


def forget_dead_workers(folder):
    """Drop the live-mode gauge files of workers that have died (a crash granian respawned):
    otherwise the model a dead worker served would be reported as loaded for good."""
    if not folder:
        return
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), folder)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, alive
        pass
    return True


def count_predictions(answers):
    """Count answers: {"digit", "confidence", "uncertain"} each."""
    for answer in answers:
        DIGIT_COUNTERS[answer["digit"]].inc()
        CONFIDENCE.observe(answer["confidence"])
        if answer["uncertain"]:
            UNCERTAIN.inc()


@bp.get("/metrics")
def metrics():
    folder = current_app.config["PROMETHEUS_MULTIPROC_DIR"]
    if folder:
        registry = CollectorRegistry()
        _SizedFiles(registry, folder)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _SizedFiles(multiprocess.MultiProcessCollector):
    """Every worker's metrics files but those a worker starting this moment has made and not yet
    sized: read empty, they would fail the whole scrape."""

    def collect(self):
        return self.merge([path for path in glob.glob(os.path.join(self._path, "*.db")) if _size(path)])


def _size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:  # a dead worker's file, dropped meanwhile
        return 0


def _start_timer():
    g.started = time.perf_counter()


def _record(response):
    # The rule, not the path: unknown paths must not create one time series each.
    route = request.url_rule.rule if request.url_rule else "unmatched"
    method = request.method if request.method in METHODS else "other"
    _child(REQUESTS, route=route, method=method, status=str(response.status_code)).inc()
    if "started" in g:  # a request refused before the timer started has no latency to observe
        _child(LATENCY, route=route).observe(time.perf_counter() - g.started)
    return response


# (metric, label values) -> its child: labels() looks a child up under a lock with its label
# checks, tens of µs a request. As many entries as the metrics have series, which the fixed label
# sets above bound.
_CHILDREN = {}


def _child(metric, **labels):
    """metric.labels(**labels), made once."""
    key = (metric, *labels.values())
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(**labels)
    return child
