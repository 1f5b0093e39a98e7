"""Settings: defaults, overridden by environment variables, overridden by `create_app(config)`."""

import os

from ..data.preprocess import MAX_PIXELS
from ..model import DEFAULT_WEIGHTS

DEFAULTS = {
    "MODEL_PATH": str(DEFAULT_WEIGHTS),
    # Whole request body, in bytes. Base64 JSON is 4/3 of the image, hence the headroom.
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "MAX_PIXELS": MAX_PIXELS,  # per decoded image, checked from the header before decoding
    "MAX_BATCH": 64,  # images (or prepared inputs) per request
    "HOST": "127.0.0.1",  # loopback unless told otherwise; the container image sets 0.0.0.0
    "PORT": 8000,
    "WORKERS": 2,
}
INT_SETTINGS = ("MAX_CONTENT_LENGTH", "MAX_PIXELS", "MAX_BATCH", "PORT", "WORKERS")


class StartupError(RuntimeError):
    """The service cannot start; the message is one line saying why."""


def load_settings(overrides=None, environ=None):
    """DEFAULTS <- environment variables of the same names <- `overrides`."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    settings.update({key: environ[key] for key in DEFAULTS if environ.get(key)})
    settings.update(overrides or {})
    for key in INT_SETTINGS:
        settings[key] = _positive_int(key, settings[key])
    return settings


def _positive_int(key, value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StartupError(f"{key} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise StartupError(f"{key} must be a positive integer, got {value!r}")
    return number
