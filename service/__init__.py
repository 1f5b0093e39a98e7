"""The MNIST digit-classifier web service.

    flask --app mnist_mlp.service run    # development server
    mnist-serve                          # production: granian, $HOST, $PORT, $WORKERS, $MODEL_PATH

`create_app(config=None)` builds the app: settings from `config.DEFAULTS`, overridden by
environment variables, overridden by the `config` mapping. The weights are loaded here
(and again in place on a reload under `mnist-serve`: service/reload.py); a file that cannot be
used raises `StartupError` with one line saying why.
"""

import io
from pathlib import Path

from flask import Flask
from PIL import Image, ImageDraw
from werkzeug.middleware.proxy_fix import ProxyFix

from ..data.feedback_store import open_store
from ..data.preprocess import preprocess
from ..model import Classifier, WeightsError
from .config import StartupError, load_settings

__all__ = ["StartupError", "create_app", "load_classifier"]


def create_app(config=None):
    settings = load_settings(config)
    classifier = load_classifier(settings["MODEL_PATH"])

    # The instance folder is given, not found: Flask's search for it cannot walk a namespace
    # package (mnist_mlp) installed in editable mode. The service never writes there.
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent / "instance"))
    app.config.update(settings)
    if settings["PROXY_HOPS"]:  # the client address of each request (its rate-limit bucket) from the proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings["PROXY_HOPS"], x_proto=0, x_host=0, x_prefix=0)
    app.json.sort_keys = False  # answers read in the documented order: digit, confidence, ...
    app.extensions["classifier"] = classifier
    app.extensions["feedback"] = _feedback_store(settings["FEEDBACK_DB"])

    # Imported here, not at the top: prometheus_client fixes its storage (in-process or
    # multiprocess files) when first imported, and `mnist-serve` must set
    # PROMETHEUS_MULTIPROC_DIR before that happens.
    from . import admin, cors, docs, errors, explain, feedback, health, metrics, page, predict, v2
    from .rate_limit import RateLimiter

    app.extensions["feedback_limiter"] = RateLimiter(settings["FEEDBACK_RATE"], settings["FEEDBACK_BURST"])

    errors.init_app(app)
    cors.init_app(app, settings["CORS_ORIGINS"])
    metrics.init_app(app, classifier)
    for blueprint in (health.bp, predict.bp, feedback.bp, admin.bp, v2.bp, explain.bp, page.bp, docs.bp):
        app.register_blueprint(blueprint)
    return app


def load_classifier(path):
    """The classifier for the weights at `path`, warmed up; StartupError saying why it cannot be."""
    try:
        classifier = Classifier(path)
    except WeightsError as exc:
        raise StartupError(f"cannot load weights: {exc}") from None
    _warm_up(classifier)
    return classifier


def _feedback_store(target):
    """The store for FEEDBACK_DB, or None when feedback is off. Nothing connects yet."""
    if not target:
        return None
    try:
        return open_store(target)
    except ImportError:
        raise StartupError(
            "FEEDBACK_DB is a PostgreSQL URL, which needs psycopg: pip install 'mnist-mlp-service[feedback]'"
        ) from None


def _warm_up(classifier):
    """Run one prediction so Pillow's plugins and NumPy's code paths are loaded now:
    otherwise each worker's first request would pay about 100 ms of lazy imports."""
    image = Image.new("L", (28, 28), 255)
    ImageDraw.Draw(image).line([(14, 4), (14, 24)], fill=0, width=3)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    classifier.answers(preprocess(buffer.getvalue())[None, :])
