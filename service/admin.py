"""POST /admin/reload: every worker loads MODEL_PATH again in place, with no request failing.

Enabled only when ADMIN_TOKEN is set (404 otherwise); the caller sends it as
`Authorization: Bearer <token>`, compared in constant time. The route asks for a reload as the
SIGHUP to `mnist-serve` does (service/worker.py): each worker loads the file, or refuses it and
keeps its weights, within a fraction of a second.
"""

import hmac

from flask import Blueprint, current_app, jsonify, request

from .errors import ApiError

bp = Blueprint("admin", __name__)


@bp.post("/admin/reload")
def reload():
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        raise ApiError(404, "not_found", "the admin API is off on this server (ADMIN_TOKEN is not set)")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "unauthorized", "send the admin token as 'Authorization: Bearer <token>'")
    worker = current_app.extensions.get("worker")
    if worker is None or not worker.request_reload():  # `flask run` or a test: no workers watching
        raise ApiError(501, "not_supported", "reloading needs the server that mnist-serve runs")
    return jsonify(status="reloading", model=current_app.extensions["classifier"].model_id), 202
