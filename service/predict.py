"""POST /predict: digit images as multipart uploads, raw image bodies or JSON.

Accepted bodies (a batch holds at most MAX_BATCH images):
- multipart/form-data with one or more files in the field `image`;
- a raw body with an image content type (or application/octet-stream);
- JSON {"image": "<base64 or data: URL>"} or {"images": [...]};
- JSON {"input": [784 numbers in [0, 1]]} (or 28 rows of 28) or {"inputs": [...]}, for
  clients that preprocess themselves.
One image answers {"digit", "confidence", "probabilities", "uncertain", "model"}; a
batch (several files, "images" or "inputs") answers {"predictions": [...], "model"}.
`?preview=1` adds each input as a 28x28 PNG, `?explain=1` an "explanation" (service/explain.py).
Each request stays within its budget (service/budget.py): at most MAX_BATCH inputs, an answer
that cannot exceed MAX_ANSWER_BYTES, and REQUEST_BUDGET seconds of work.
"""

import numpy as np
from flask import Blueprint, current_app, jsonify, request

from ..data.preprocess import PreprocessError, pixel_count, preprocess
from ..data.preview import data_url, input_png
from ..model.contract import prepared_inputs
from .bodies import base64_image, json_body
from .budget import Deadline, check_answer
from .errors import ApiError, from_preprocess
from .explain import explanations
from .metrics import count_predictions

bp = Blueprint("predict", __name__)

IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/pjpeg", "image/gif", "image/bmp", "image/x-ms-bmp", "image/webp"}
)
UNTYPED = "application/octet-stream"  # Pillow identifies the format from the bytes
JSON_FIELDS = {"image": False, "images": True, "input": False, "inputs": True}  # field -> is a batch
TRUE_WORDS = {"1", "true", "yes", "on"}


@bp.post("/predict")
def predict():
    deadline = Deadline()
    asked = _asked("preview"), _asked("explain")
    inputs, batch = _inputs(deadline, asked)
    clf = current_app.extensions["classifier"]
    answers = clf.answers(inputs)
    count_predictions(answers)
    preview, explain = asked
    if preview:
        for answer, pixels in zip(answers, inputs):
            answer["preview"] = preview_png(pixels)
    if explain:
        for answer, explanation in zip(answers, explanations(clf, inputs, deadline)):
            answer["explanation"] = explanation
    if batch:
        return jsonify(predictions=answers, model=clf.model_id)
    return jsonify(**answers[0], model=clf.model_id)


def _asked(option):
    return request.args.get(option, "").lower() in TRUE_WORDS


def preview_png(pixels):
    """The network's 28x28 input as a PNG data: URL, to show what it saw."""
    return data_url(input_png(pixels))


def _inputs(deadline, asked):
    """(float32 (N, 784) network inputs, whether the request is a batch); `asked`: (preview, explain)."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        files = request.files.getlist("image")
        if not files:
            raise ApiError(
                400, "missing_image", "multipart upload needs one or more files in the field 'image'"
            )
        return _images([f.read() for f in _admitted(files, asked)], len(files) > 1, deadline)
    if mimetype == "application/json":
        return _json_inputs(deadline, asked)
    if mimetype in IMAGE_TYPES or mimetype == UNTYPED:
        return _images(_admitted([request.get_data()], asked), False, deadline)
    kind = f"content type {mimetype!r}" if mimetype else "a body without a content type"
    raise ApiError(
        415,
        "unsupported_media_type",
        f"cannot read {kind}; send multipart/form-data, application/json, or a PNG, JPEG, GIF, BMP "
        "or WebP body",
    )


def _json_inputs(deadline, asked):
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    fields = [name for name in JSON_FIELDS if name in body]
    if len(fields) != 1:
        raise ApiError(
            400, "bad_request", "the JSON object needs exactly one of 'image', 'images', 'input', 'inputs'"
        )
    name = fields[0]
    batch = JSON_FIELDS[name]
    values = body[name]
    if batch and (not isinstance(values, list) or not values):
        raise ApiError(400, "bad_request", f"'{name}' must be a non-empty list")
    items = _admitted(values if batch else [values], asked)
    where = [f"{name}[{i}]" if batch else name for i in range(len(items))]
    if name.startswith("image"):
        return _images([base64_image(v, w) for v, w in zip(items, where)], batch, deadline)
    return np.concatenate([_prepared(v, w) for v, w in zip(items, where)]), batch


def _admitted(items, asked):
    """`items`, if that many are within MAX_BATCH and their answer, with the parts `asked` for, within
    MAX_ANSWER_BYTES: 413 if not."""
    limit = current_app.config["MAX_BATCH"]
    if len(items) > limit:
        raise ApiError(413, "batch_too_large", f"{len(items)} images in one request; the limit is {limit}")
    clf = current_app.extensions["classifier"]
    check_answer(len(items), clf.layer_sizes, *asked)
    return items


def _images(blobs, batch, deadline):
    """Each image preprocessed, within the request's pixel and time budgets."""
    config = current_app.config
    if batch:
        _check_batch_pixels(blobs, config["MAX_BATCH_PIXELS"])
    inputs = []
    for index, blob in enumerate(blobs):
        deadline.check(index, len(blobs), "images", "send fewer or smaller images")
        try:
            inputs.append(preprocess(blob, config["MAX_PIXELS"]))
        except PreprocessError as exc:
            raise from_preprocess(exc, prefix=f"image {index}: " if batch else "") from None
    return np.stack(inputs), batch


def _check_batch_pixels(blobs, limit):
    """413 when the images of a batch hold more pixels together than `limit`, before decoding any."""
    total = 0
    for index, blob in enumerate(blobs):
        try:
            total += pixel_count(blob)
        except PreprocessError as exc:
            raise from_preprocess(exc, prefix=f"image {index}: ") from None
    if total > limit:
        raise ApiError(
            413, "batch_too_large", f"the batch holds {total} pixels in all; the limit is {limit} pixels"
        )


def _prepared(value, where):
    try:
        return prepared_inputs(value)
    except ValueError as exc:
        raise ApiError(400, "bad_input", f"'{where}' {exc}") from None
