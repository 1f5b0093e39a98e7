"""Settings: defaults, overridden by environment variables, overridden by `create_app(config)`.

Every value is checked here, once, so that a bad one stops start-up with one line. This and
the entry point (service/__main__.py) are the only modules that read the environment.
Standard library only: the `mnist-serve` master imports it and stays small.
"""

import importlib.util
import os
import secrets
from pathlib import Path

from .logs import LOG_FORMATS


def _shipped_weights():
    """The weights shipped in the package (model.DEFAULT_WEIGHTS), found without importing the
    model package, which loads NumPy."""
    package = importlib.util.find_spec("mnist_mlp.model").submodule_search_locations[0]
    return str(Path(package) / "weights" / "mnist_mlp.npz")


MAX_PIXELS = 4096 * 4096  # preprocess's own default (data/preprocess.py), which this module cannot import

DEFAULTS = {
    "MODEL_PATH": _shipped_weights(),
    "HOST": "127.0.0.1",  # loopback unless told otherwise; the container image sets 0.0.0.0
    "PORT": 8000,
    "WORKERS": 2,
    # Whole request body, in bytes. Base64 JSON is 4/3 of the image, hence the headroom.
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "MAX_PIXELS": MAX_PIXELS,  # per decoded image, checked from the header before decoding
    "MAX_BATCH": 64,  # images (or prepared inputs) per request
    "MAX_BATCH_PIXELS": 2 * MAX_PIXELS,  # decoded pixels of all the images of one request
    # Bytes an answer may take, bounded before it is built (service/budget.py). The largest answer
    # the other defaults allow, 64 explanations with previews, is bounded by 3.5 MB.
    "MAX_ANSWER_BYTES": 8 * 1024 * 1024,
    "HEADER_TIMEOUT": 5.0,  # seconds for a client to send its request line and headers
    "BODY_TIMEOUT": 10.0,  # seconds for a client to send its whole body
    "REQUEST_BUDGET": 10.0,  # seconds of work on one request before it is answered 503
    "LOG_FORMAT": "text",  # or "json": one JSON object per line, with a timestamp
    "CORS_ORIGINS": "",  # comma-separated origins allowed to call the API from a browser; none by default
    # Where POST /feedback stores corrections: a SQLite file path or a postgresql:// URL; empty = off.
    "FEEDBACK_DB": "",
    "FEEDBACK_RATE": 1.0,  # corrections a second per client (service/clients.py), after a burst of
    "FEEDBACK_BURST": 20,
    # The key of the keyed hash that names a client in stored corrections and in memory, never its
    # address (service/clients.py). Set it, the same on every replica, for one name per client across
    # workers, replicas and restarts; empty: mnist-serve draws one for all its workers at start
    # (create_app alone draws its own).
    "FEEDBACK_SECRET": "",
    # The store's total size: past either, /feedback answers 507 until rejected rows are pruned.
    # At 2 kB a drawing, 100,000 corrections are 200 MB; large uploads stop at 1 GiB.
    "FEEDBACK_MAX_ROWS": 100_000,
    "FEEDBACK_MAX_BYTES": 1024**3,
    # Proxies in front that each append the client's address to X-Forwarded-For (an ingress: 1).
    # 0: the header is ignored and the peer is the client, as a client could write the header itself.
    "PROXY_HOPS": 0,
    "ADMIN_TOKEN": "",  # set: POST /admin/reload with it as a Bearer token reloads the weights; empty: off
    # prometheus_client's folder for every worker's metrics files, which it reads from the
    # environment itself; mnist-serve makes a private one when it is not set
    "PROMETHEUS_MULTIPROC_DIR": "",
}
# Characters a secret setting needs when set: 128 bits as hex, about 190 as base64
MIN_SECRET_LENGTH = 32
SECRETS = ("ADMIN_TOKEN", "FEEDBACK_SECRET")
# name -> (type, lowest, highest)
RANGES = {
    "PORT": (int, 1, 65535),
    "WORKERS": (int, 1, 64),
    "MAX_CONTENT_LENGTH": (int, 1, 2**31),
    "MAX_PIXELS": (int, 1, 2**31),
    "MAX_BATCH": (int, 1, 10_000),
    "MAX_BATCH_PIXELS": (int, 1, 2**33),
    "MAX_ANSWER_BYTES": (int, 65536, 2**31),
    "HEADER_TIMEOUT": (float, 0.001, 60.0),
    "BODY_TIMEOUT": (float, 0.001, 3600.0),
    "REQUEST_BUDGET": (float, 0.001, 3600.0),
    "FEEDBACK_RATE": (float, 0.001, 1e6),
    "FEEDBACK_BURST": (int, 1, 1_000_000),
    "PROXY_HOPS": (int, 0, 10),
    "FEEDBACK_MAX_ROWS": (int, 0, 2**40),
    "FEEDBACK_MAX_BYTES": (int, 0, 2**50),
}


class StartupError(RuntimeError):
    """The service cannot start; the message is one line saying why."""


class Settings(dict):
    """Every setting, checked: what load_settings returns."""


def load_settings(overrides=None, environ=None):
    """DEFAULTS <- environment variables of the same names <- `overrides`, each value checked."""
    environ = os.environ if environ is None else environ
    settings = Settings(DEFAULTS)
    settings.update({key: environ[key] for key in DEFAULTS if environ.get(key)})
    settings.update(overrides or {})
    for key, (kind, low, high) in RANGES.items():
        settings[key] = _number(key, settings[key], kind, low, high)
    if settings["LOG_FORMAT"] not in LOG_FORMATS:
        raise StartupError(
            f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {settings['LOG_FORMAT']!r}"
        )
    if isinstance(settings["CORS_ORIGINS"], str):
        settings["CORS_ORIGINS"] = tuple(o.strip() for o in settings["CORS_ORIGINS"].split(",") if o.strip())
    for key in SECRETS:
        _check_secret(key, settings[key])
    settings["FEEDBACK_SECRET"] = settings["FEEDBACK_SECRET"] or secrets.token_hex(32)
    return settings


def graceful_timeout(settings):
    """Seconds a stopping server gives its accepted requests: the longest one the limits allow."""
    return settings["BODY_TIMEOUT"] + settings["REQUEST_BUDGET"] + 5


def _check_secret(key, value):
    """A secret is empty (its feature off, or a random one) or long enough not to be guessed."""
    if not isinstance(value, str):
        raise StartupError(f"{key} must be a string")
    if value and len(value) < MIN_SECRET_LENGTH:
        raise StartupError(
            f"{key} must be at least {MIN_SECRET_LENGTH} characters (it has {len(value)}); "
            'make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )


def _number(key, value, kind, low, high):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high or (kind is int and isinstance(value, float)):
        what = "an integer" if kind is int else "a number"
        raise StartupError(f"{key} must be {what} from {low:g} to {high:g}, got {value!r}")
    return number
