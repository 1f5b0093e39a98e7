"""Liveness, readiness, the model's description and the OpenAPI document."""

import json
from importlib import resources

from flask import Blueprint, current_app, jsonify

from ..model.contract import INPUT_MEANING, INPUTS
from ..model.version import project_version

bp = Blueprint("health", __name__)


def classifier():
    return current_app.extensions["classifier"]


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """503 while this worker loads new weights or stops (service/worker.py), else 200 and the model."""
    if not is_ready():
        return jsonify(status="not ready", model=classifier().model_id), 503
    return jsonify(status="ready", model=classifier().model_id)


def is_ready():
    # an app without a worker (`flask run`, a test) has its weights from create_app: it is ready
    worker = current_app.extensions.get("worker")
    return worker is None or worker.ready


@bp.get("/model")
def model():
    clf = classifier()
    meta = clf.metadata
    return jsonify(
        id=clf.model_id,
        sha256=clf.sha256,
        architecture={
            "type": "mlp",
            "layer_sizes": list(clf.layer_sizes),
            "activation": meta.get("activation", "relu"),
            "output": meta.get("output", "softmax"),
            "parameters": int(clf.mlp.params.size),
        },
        input={
            "shape": [INPUTS],
            "range": [0.0, 1.0],
            "meaning": INPUT_MEANING,
        },
        test_accuracy=meta.get("test_accuracy"),
        temperature=clf.temperature,
        uncertain_threshold=clf.uncertain_threshold,
        metadata=meta,
        feedback=current_app.extensions["feedback"] is not None,  # whether POST /feedback stores
    )


@bp.get("/openapi.json")
def openapi():
    return current_app.response_class(OPENAPI, mimetype="application/json")


def openapi_document():
    """The OpenAPI document shipped with the package, its info.version the project's version."""
    document = json.loads(resources.files(__package__).joinpath("openapi.json").read_text())
    document["info"]["version"] = project_version()
    return document


# Made once at import: the document is static but for the version.
OPENAPI = json.dumps(openapi_document(), indent=2, ensure_ascii=False).encode()
