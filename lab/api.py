"""The lab's JSON API: start runs, read them while they train, stop them, try and save their weights.

    POST /api/runs                      {settings}    -> 201 {"id"}; 400 bad setting; 429 busy
    GET  /api/runs                                    -> {"runs": [summary, ...], "bounds": {...}}
    GET  /api/runs/<id>[?since=STEP]                  -> {"state", "message", "settings", "history", ...}
    POST /api/runs/<id>/stop                          -> 202 {"id", "state"}
    POST /api/runs/<id>/predict         image bytes   -> {"digit", "probabilities", "preview", "step"}
    GET  /api/runs/<id>/first-layer.png[?show=weights] -> what the first layer learned (or its weights)
    GET  /api/runs/<id>/weights.npz                   -> the weights, for mnist-serve and mnist-predict

`since` returns only the history points after that step, so the page polls cheaply.
"""

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from flask import Blueprint, current_app, jsonify, request, url_for

from ..data import fingerprint
from ..data.preprocess import preprocess
from ..data.preview import data_url, input_png
from ..model import save_weights
from ..model.calibration import calibrate
from ..model.contract import INPUT_MEANING
from ..model.training import logits_of
from ..model.version import project_version
from .errors import ApiError
from .settings import bounds, parse_settings
from .views import first_layer_png

bp = Blueprint("api", __name__, url_prefix="/api")

NO_STORE = {"Cache-Control": "no-store"}  # every answer describes a run that is still changing


def runs():
    return current_app.extensions["lab_runs"]


@bp.post("/runs")
def start():
    body = request.get_data()  # kept for get_json
    if body.strip() and request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the settings as a JSON object (application/json)")
    try:
        given = request.get_json(silent=True) if body.strip() else {}
    except RecursionError:  # arrays nested thousands deep: Python's decoder recurses once per level
        given = None
    if given is None:
        raise ApiError(400, "malformed_json", "the body is not valid JSON")
    settings = parse_settings(given, len(runs().data.x_pool))
    run = runs().start(settings)
    response = jsonify(id=run.id)
    response.status_code = 201
    response.headers["Location"] = url_for("api.show", run_id=run.id)
    return response


@bp.get("/runs")
def index():
    return jsonify(runs=[summary(run) for run in runs().all()], bounds=bounds(len(runs().data.x_pool)))


@bp.get("/runs/<run_id>")
def show(run_id):
    run = runs().get(run_id)
    since = request.args.get("since", "0")
    if not since.isdigit() or len(since) > 9:
        raise ApiError(400, "bad_request", f"since must be a step number (0 or more), got {since!r}")
    answer = summary(run)  # the state first: a final state read here comes with its complete history
    answer["history"] = run.history.since(int(since))
    return jsonify(answer), NO_STORE


@bp.post("/runs/<run_id>/stop")
def stop(run_id):
    run = runs().get(run_id)
    run.stop()
    return jsonify(id=run.id, state=run.state), 202


@bp.post("/runs/<run_id>/predict")
def predict(run_id):
    run = runs().get(run_id)
    image = request.get_data(cache=False)
    if not image:
        raise ApiError(400, "missing_image", "send the drawing as the request body (a PNG)")
    x = preprocess(image, current_app.config["MAX_PIXELS"])  # the one preprocessing of the project
    probabilities = run.snapshot().predict_proba(x[None])[0].astype(np.float64)
    return jsonify(
        digit=int(probabilities.argmax()),
        probabilities=[round(p, 4) for p in probabilities.tolist()],
        preview=data_url(input_png(x)),
        step=run.history.step,
    )


@bp.get("/runs/<run_id>/first-layer.png")
def first_layer(run_id):
    """Each first-layer unit's change since the start (default), or with ?show=weights its weights."""
    run = runs().get(run_id)
    show = request.args.get("show", "change")
    if show not in ("change", "weights"):
        raise ApiError(400, "bad_request", f"show must be change or weights, got {show!r}")
    weights = run.snapshot().weights[0]
    png = first_layer_png(weights - run.initial_first_layer if show == "change" else weights)
    return current_app.response_class(png, mimetype="image/png", headers=NO_STORE)


@bp.get("/runs/<run_id>/weights.npz")
def weights(run_id):
    run = runs().get(run_id)
    model = run.snapshot()
    data = runs().data
    x_train, y_train = data.training_set(run.settings.train_size, run.settings.seed)
    metadata = {
        "trained_by": "mnist-lab",
        "lab_run": {"id": run.id, "state": run.state, "message": run.message, "step": run.history.step},
        "lab_settings": run.settings.to_json(),
        "init": run.settings.init,
        "seed": run.settings.seed,
        "input_scaling": INPUT_MEANING,
        "data_source": data.source,
        "data_fingerprint": fingerprint(x_train, y_train),
        "train_size": len(x_train),
        "val_size": len(data.x_val),
        # fitted on the lab's validation images, as mnist-train does on its validation split
        **calibrate(logits_of(model, data.x_val), data.y_val),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "project_version": project_version(),
    }
    with tempfile.TemporaryDirectory(prefix="mnist-lab-") as folder:  # save_weights writes a file
        path = Path(folder) / "weights.npz"
        save_weights(path, model, metadata)
        payload = path.read_bytes()
    name = f"mnist-lab-run-{run.id}-step-{run.history.step}.npz"
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
    return current_app.response_class(payload, mimetype="application/octet-stream", headers=headers)


def summary(run):
    """What the page lists for a run: everything but the history."""
    measured = run.history.last_measured()
    return {
        "id": run.id,
        "state": run.state,
        "message": run.message,
        "settings": run.settings.to_json(),
        "step": run.history.step,
        "steps": run.settings.steps,
        "val_accuracy": measured["val_accuracy"] if measured else None,
    }
