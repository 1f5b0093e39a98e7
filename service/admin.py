"""POST /admin/reload: every worker loads MODEL_PATH again, with no request failing.

Enabled only when ADMIN_TOKEN is set (404 otherwise); the caller sends it as
`Authorization: Bearer <token>`, compared in constant time. The route sends SIGHUP to the
`mnist-serve` process, as an operator would: granian then starts new workers one by one
(each loads the weights, or keeps the last good ones: service/last_good.py) and stops each
old worker once it has finished what it accepted.
"""

import hmac
import os
import signal

from flask import Blueprint, current_app, jsonify, request

from .config import MASTER_PID_ENV
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
    master = os.environ.get(MASTER_PID_ENV, "")
    # Only the process that started this worker: under `flask run` or a test the parent is a shell.
    if not master.isdigit() or int(master) != os.getppid():
        raise ApiError(501, "not_supported", "reloading needs the server that mnist-serve runs")
    os.kill(int(master), signal.SIGHUP)
    return jsonify(status="reloading", model=current_app.extensions["classifier"].model_id), 202
