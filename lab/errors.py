"""JSON errors for every failure: {"error": {"code": ..., "message": ...}} with the right status.

A bad setting also names the `setting` and its `bounds`. Anything unexpected is logged and
answered with a JSON 500; the lab keeps serving, and a run keeps training.
"""

import logging
import re

from flask import jsonify
from werkzeug.exceptions import HTTPException

from ..data.preprocess import PreprocessError
from .runs import Busy, UnknownRun
from .settings import BadSetting

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status, code, message, **extra):
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = status
    return response


def init_app(app):
    app.register_error_handler(ApiError, lambda exc: error(exc.status, exc.code, exc.message))
    app.register_error_handler(
        BadSetting,
        lambda exc: error(400, "bad_setting", str(exc), setting=exc.setting, bounds=exc.bounds),
    )
    app.register_error_handler(Busy, _busy)
    app.register_error_handler(UnknownRun, lambda exc: error(404, "no_such_run", str(exc)))
    # the drawing could not be read: the preprocessing's own word for why
    app.register_error_handler(PreprocessError, lambda exc: error(422, exc.code, str(exc)))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _busy(exc):
    response = error(429, "too_many_runs", str(exc))
    response.headers["Retry-After"] = "5"
    return response


def _http_error(exc):
    code = re.sub(r"\W+", "_", (exc.name or "error").lower()).strip("_")
    response = error(exc.code or 500, code, exc.description or exc.name)
    for key, value in exc.get_headers():
        if key.lower() != "content-type":  # keep those the status depends on, e.g. Allow for 405
            response.headers[key] = value
    return response


def _unexpected(exc):
    log.exception("unexpected error")
    return error(500, "internal_error", "internal error; the lab's log has the details")
