"""JSON errors for every failure, one shape per API family, with the right status.

    /v2/...      {"error": "<message>"}                          (the Open Inference Protocol's)
    the rest     {"error": {"code": "<code>", "message": "<message>"}}

Views raise `ApiError`; preprocessing errors and Werkzeug's HTTP errors (404, 405, 413
from MAX_CONTENT_LENGTH ...) are translated here, and the HTTP edge (edge.py) uses the
same `payload` for what it refuses before the app runs. Anything else is a bug: it is
logged with the request id and answered with a JSON 500, and the worker keeps serving.
Every response carries the request id and `X-Content-Type-Options: nosniff`. A 412 (a
precondition of If-Match or If-Unmodified-Since failed) carries no body, as a 304 carries none:
a client that sent a precondition did not ask for the resource.
"""

import json
import logging
import re
import uuid

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from ..data.preprocess import BadImage, ImageTooLarge, NoDigitFound, PreprocessError, UnsupportedImage

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The error codes are the exceptions' own (data.preprocess); the statuses are HTTP's business.
PREPROCESS_STATUS = {BadImage: 400, UnsupportedImage: 415, ImageTooLarge: 413, NoDigitFound: 422}


class ApiError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}  # e.g. Retry-After for 429


def from_preprocess(exc, prefix=""):
    """The ApiError for a preprocessing failure; `prefix` locates it in a batch."""
    return ApiError(PREPROCESS_STATUS[type(exc)], exc.code, f"{prefix}{exc}")


def payload(path, code, message):
    """The JSON error body, as bytes, in the shape of the API family that `path` belongs to."""
    if path == "/v2" or path.startswith("/v2/"):
        return json.dumps({"error": message}, separators=(",", ":")).encode()
    return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()


def error_response(status, code, message, headers=None):
    response = current_app.response_class(payload(request.path, code, message), mimetype="application/json")
    response.status_code = status
    response.headers.update(headers or {})
    return response


def init_app(app):
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
    app.after_request(_empty_precondition_failure)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(PreprocessError, lambda exc: _api_error(from_preprocess(exc)))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def request_id():
    return g.get("request_id", "-")


def _assign_request_id():
    # A caller's id (from a proxy or client) is kept so logs can be joined; anything odd is replaced.
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _CLIENT_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _echo_request_id(response):
    response.headers[REQUEST_ID_HEADER] = request_id()
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _empty_precondition_failure(response):
    if response.status_code == 412:
        if hasattr(response.response, "close"):
            response.response.close()  # a static file's open handle
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
    return response


def _api_error(exc):
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def _http_error(exc):
    code = re.sub(r"\W+", "_", (exc.name or "error").lower()).strip("_")
    # Keep headers the status depends on, e.g. Allow for 405.
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return error_response(exc.code or 500, code, exc.description or exc.name, headers)


def _unexpected(exc):
    # logs.configure escapes the client-controlled method and path in this line
    log.exception("unexpected error (request id %s) on %s %s", request_id(), request.method, request.path)
    return error_response(500, "internal_error", f"internal error; request id {request_id()}")
