"""The Flask app: `create_app` puts the blueprints, the classifier and the feedback store together.

Settings come from config.load_settings (defaults <- environment <- `config`), unless `config`
is already such a Settings object. The classifier is the one given (each worker of
`mnist-serve` loads its own: service/worker.py), else MODEL_PATH's, loaded here; a file that
cannot be used raises `StartupError` with one line saying why. The feedback store may make its
database ("create"), except in a worker of `mnist-serve` ("serve"), whose start-up has made it
(data/feedback_store.py).
"""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ..data.feedback_store import open_store
from .config import Settings, StartupError, load_settings
from .worker import load_classifier


def create_app(config=None, classifier=None, feedback_access="create"):
    settings = config if isinstance(config, Settings) else load_settings(config)
    if classifier is None:
        classifier, _ = load_classifier(settings["MODEL_PATH"])
    if settings["PROMETHEUS_MULTIPROC_DIR"]:
        # the metrics files go there from the first import of metrics.py; a /tmp cleaner may
        # have removed the folder since the master made it
        Path(settings["PROMETHEUS_MULTIPROC_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)

    # The instance folder is given, not found: Flask's search for it cannot walk a namespace
    # package (mnist_mlp) installed in editable mode. The service never writes there.
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent / "instance"))
    app.config.update(settings)
    if settings["PROXY_HOPS"]:  # the client address of each request (its rate-limit bucket) from the proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings["PROXY_HOPS"], x_proto=0, x_host=0, x_prefix=0)
    app.json.sort_keys = False  # answers read in the documented order: digit, confidence, ...
    app.extensions["classifier"] = classifier
    app.extensions["feedback"] = _feedback_store(settings, feedback_access)

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


def _feedback_store(settings, access):
    """The store for FEEDBACK_DB, or None when feedback is off. Nothing connects yet."""
    if not settings["FEEDBACK_DB"]:
        return None
    try:
        return open_store(
            settings["FEEDBACK_DB"], access, settings["FEEDBACK_MAX_ROWS"], settings["FEEDBACK_MAX_BYTES"]
        )
    except ImportError:
        raise StartupError(
            "FEEDBACK_DB is a PostgreSQL URL, which needs psycopg: pip install 'mnist-mlp-service[feedback]'"
        ) from None
