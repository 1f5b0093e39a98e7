"""POST /admin/reload: every worker loads MODEL_PATH again in place, with no request failing.

Enabled only when ADMIN_TOKEN is set (404 otherwise; start-up refuses one shorter than 32
characters); the caller sends it as `Authorization: Bearer <token>`. The two are compared as
SHA-256 digests in constant time, so not even the token's length shows in the time taken. Failed
attempts are throttled per client (service/clients.py), in each worker: FAILURE_BURST at once, then
one every 1 / FAILURE_RATE seconds; past that a client gets 429 with Retry-After, its token not even
compared.

The route asks for a reload as the SIGHUP to `mnist-serve` does (service/worker.py): each worker
loads the file, or refuses it and keeps its weights, within a fraction of a second.
"""

import hashlib
import hmac
import math

from flask import Blueprint, current_app, jsonify, request

from .clients import current_client
from .errors import ApiError
from .rate_limit import RateLimiter

bp = Blueprint("admin", __name__)

FAILURE_BURST = 5  # failed attempts a client may make at once,
FAILURE_RATE = 1 / 60  # then one a minute


@bp.record_once
def _make_throttle(state):
    state.app.extensions["admin_failures"] = RateLimiter(FAILURE_RATE, FAILURE_BURST)


@bp.post("/admin/reload")
def reload():
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        raise ApiError(404, "not_found", "the admin API is off on this server (ADMIN_TOKEN is not set)")
    _check_token(token)
    worker = current_app.extensions.get("worker")
    if worker is None or not worker.request_reload():  # `flask run` or a test: no workers watching
        raise ApiError(501, "not_supported", "reloading needs the server that mnist-serve runs")
    return jsonify(status="reloading", model=current_app.extensions["classifier"].model_id), 202


def _check_token(token):
    """401 for a wrong token, counted as a failure of this client; 429 once it has failed too often."""
    failures = current_app.extensions["admin_failures"]
    client = current_client()
    wait = failures.wait(client, take=False)
    if wait:
        message = f"too many failed attempts from this client; retry in {math.ceil(wait)} s"
        raise ApiError(429, "too_many_requests", message, {"Retry-After": str(math.ceil(wait))})
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(_digest(given), _digest(token)):
        failures.wait(client)
        raise ApiError(401, "unauthorized", "send the admin token as 'Authorization: Bearer <token>'")


def _digest(text):
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
