"""The Open Inference Protocol v2 (KServe / Triton) subset, so existing clients work unchanged.

Routes: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/mnist, /v2/models/mnist/ready
and POST /v2/models/mnist/infer with one FP32 tensor of shape [N, 784] or [N, 28, 28]
holding MNIST pixels / 255. Outputs: "probabilities" (FP32 [N, 10]) and "digit" (INT64 [N]).
The request parameter {"explain": true} adds one BYTES output "explanation" [N]: each element
the JSON of that row's explanation, the same object as /predict?explain=1's.
`outputs` may name each output once, and `id` is a string of at most MAX_ID characters, so an
answer is bounded (service/budget.py) before any of it is built.
Errors use the protocol's own shape, {"error": "<message>"}, for every status (errors.payload).
"""

import json
import math

from flask import Blueprint, current_app, jsonify, request

from ..model.contract import CLASSES, INPUTS, SIDE, prepared_inputs
from ..model.version import DISTRIBUTION, project_version
from .bodies import json_body
from .budget import Deadline, check_answer
from .errors import ApiError
from .explain import explanations
from .health import is_ready
from .metrics import count_predictions

bp = Blueprint("v2", __name__, url_prefix="/v2")

MODEL_NAME = "mnist"
OUTPUTS = ("probabilities", "digit")
SHAPES = ((INPUTS,), (SIDE, SIDE))  # per item, after the batch dimension
MAX_ID = 256  # characters of a request's `id`, echoed in the answer


def _classifier(name, version=None):
    if name != MODEL_NAME:
        raise ApiError(404, "not_found", f"unknown model {name!r}; this server serves {MODEL_NAME!r}")
    clf = current_app.extensions["classifier"]
    if version is not None and version != clf.model_id:
        # a worker serves one version: the one it loaded (a reload replaces it)
        raise ApiError(404, "not_found", f"unknown version {version!r}; this server serves {clf.model_id!r}")
    return clf


@bp.get("")
def server_metadata():
    return jsonify(name=DISTRIBUTION, version=project_version(), extensions=[])


@bp.get("/health/live")
def live():
    return jsonify(live=True)


@bp.get("/health/ready")
def ready():
    ready = is_ready()  # the protocol answers "not ready" with a status outside 2xx: /readyz's 503
    return jsonify(ready=ready), 200 if ready else 503


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
def model_metadata(name, version=None):
    clf = _classifier(name, version)
    return jsonify(
        name=MODEL_NAME,
        versions=[clf.model_id],
        platform="numpy_mlp",
        inputs=[{"name": "input", "datatype": "FP32", "shape": [-1, INPUTS]}],
        outputs=[
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, CLASSES]},
            {"name": "digit", "datatype": "INT64", "shape": [-1]},
        ],
    )


@bp.get("/models/<name>/ready")
def model_ready(name):
    _classifier(name)
    return jsonify(name=MODEL_NAME, ready=True)


@bp.post("/models/<name>/infer")
def infer(name):
    deadline = Deadline()
    clf = _classifier(name)
    if "Inference-Header-Content-Length" in request.headers:
        raise ApiError(
            415, "unsupported_media_type", "the binary tensor extension is not supported; send JSON"
        )
    # Clients differ in the content type they send: parse the body as JSON whatever it says.
    body = json_body(force=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON inference request object")
    shape, data = _tensor(body.get("inputs"))
    wanted = _requested_outputs(body.get("outputs"))
    explain = _explain_parameter(body.get("parameters"))
    request_id = _request_id(body)
    check_answer(shape[0], clf.layer_sizes, explain=explain)
    inputs = _inputs(shape, data)
    answers = clf.answers(inputs)
    count_predictions(answers)
    n = len(answers)
    tensors = {
        "probabilities": {
            "datatype": "FP32",
            "shape": [n, CLASSES],
            "data": [p for a in answers for p in a["probabilities"]],  # row-major
        },
        "digit": {"datatype": "INT64", "shape": [n], "data": [a["digit"] for a in answers]},
    }
    answer = {
        "model_name": MODEL_NAME,
        "model_version": clf.model_id,
        "outputs": [{"name": out, **tensors[out]} for out in wanted],
    }
    if explain:
        why = [json.dumps(e, separators=(",", ":")) for e in explanations(clf, inputs, deadline)]
        answer["outputs"].append(
            {"name": "explanation", "datatype": "BYTES", "shape": [len(why)], "data": why}
        )
    if request_id is not None:
        answer["id"] = request_id
    return jsonify(answer)


def _tensor(inputs):
    """(shape, data) of the request's single input tensor, its header checked."""
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise ApiError(400, "bad_request", "'inputs' must hold exactly one tensor object")
    tensor = inputs[0]
    if tensor.get("datatype") != "FP32":
        raise ApiError(400, "bad_request", f"datatype must be FP32, got {tensor.get('datatype')!r}")
    shape = tensor.get("shape")
    if not (
        isinstance(shape, list)
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shape)
        and tuple(shape[1:]) in SHAPES
    ):
        raise ApiError(400, "bad_request", f"shape must be [N, 784] or [N, 28, 28], got {shape!r}")
    limit = current_app.config["MAX_BATCH"]
    if not 1 <= shape[0] <= limit:
        raise ApiError(413 if shape[0] > limit else 400, "bad_request", f"batch size must be 1..{limit}")
    return shape, tensor.get("data")


def _inputs(shape, data):
    """float32 (N, 784) from the tensor's data."""
    try:
        # The protocol allows the data flat (row-major) or nested like the shape.
        flat = prepared_inputs(data, shapes=[tuple(shape), (math.prod(shape),)])
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"input data {exc}") from None
    return flat


def _requested_outputs(outputs):
    if outputs is None:
        return OUTPUTS
    names = (
        [o.get("name") if isinstance(o, dict) else None for o in outputs]
        if isinstance(outputs, list)
        else None
    )
    if not names or any(n not in OUTPUTS for n in names) or len(set(names)) < len(names):
        raise ApiError(400, "bad_request", f"'outputs' may name each of {list(OUTPUTS)} once, no other")
    return names


def _request_id(body):
    """The request's `id`, echoed in the answer; None when it has none."""
    value = body.get("id")
    if value is not None and not (isinstance(value, str) and len(value) <= MAX_ID):
        raise ApiError(400, "bad_request", f"'id' must be a string of at most {MAX_ID} characters")
    return value


def _explain_parameter(parameters):
    if parameters is None:
        return False
    if not isinstance(parameters, dict) or not isinstance(parameters.get("explain", False), bool):
        raise ApiError(400, "bad_request", "'parameters' must be an object; 'explain' a boolean")
    return parameters.get("explain", False)
