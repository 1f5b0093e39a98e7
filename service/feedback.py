"""POST /feedback: a person says which digit an image really is; the correction is stored.

Bodies, as for /predict's single image:
- JSON {"image": "<base64 or data: URL>", "label": 3, "predicted": 5, "model": "...", "source": "page"};
- multipart/form-data with the file `image` and the fields `label` (and `predicted`, `model`, `source`).
`predicted` and `model` say what the client was shown and are optional; the service runs the
image through the loaded model itself and stores its own answer too. Answers 201 {"id": ...}.

Off (404) unless FEEDBACK_DB names a database; a database that fails answers 503 while
/predict keeps working. Each client address is rate limited (service/rate_limit.py).
"""

import logging

from flask import Blueprint, current_app, jsonify, request

from ..data.feedback_store import SOURCES, Correction, InvalidCorrection, StoreUnavailable
from ..data.preprocess import PreprocessError, preprocess
from ..model.contract import SIDE, to_pixels
from .bodies import json_body
from .errors import ApiError, from_preprocess
from .predict import base64_image

log = logging.getLogger(__name__)
bp = Blueprint("feedback", __name__)

MAX_MODEL_ID = 100  # characters of a client's `model`


@bp.post("/feedback")
def feedback():
    store = current_app.extensions["feedback"]
    if store is None:
        raise ApiError(404, "feedback_off", "feedback is off on this server (FEEDBACK_DB is not set)")
    _check_rate()
    image, fields = _body()
    label = _digit(fields.get("label"), "label", required=True)
    shown = _digit(fields.get("predicted"), "predicted", required=False)
    try:
        inputs = preprocess(image, current_app.config["MAX_PIXELS"])
    except PreprocessError as exc:
        raise from_preprocess(exc) from None
    clf = current_app.extensions["classifier"]
    answer = clf.answers(inputs[None, :])[0]
    correction = Correction(
        pixels=to_pixels(inputs).reshape(SIDE, SIDE),
        original=image,
        label=label,
        predicted=answer["digit"],
        confidence=answer["confidence"],
        model=clf.model_id,
        source=_source(fields.get("source")),
        shown_predicted=shown,
        shown_model=_model_id(fields.get("model")),
    )
    try:
        row_id = store.add(correction)
    except InvalidCorrection as exc:
        raise ApiError(400, "bad_correction", str(exc)) from None
    except StoreUnavailable as exc:
        log.error("feedback not stored: %s", exc)
        message = "the feedback database is unavailable; try again later"
        raise ApiError(503, "feedback_unavailable", message) from None
    return jsonify(id=row_id), 201


def _check_rate():
    wait = current_app.extensions["feedback_limiter"].wait(request.remote_addr or "-")
    if wait:
        message = f"too many corrections from this client; retry in {wait:.1f} s"
        raise ApiError(429, "too_many_requests", message, {"Retry-After": str(max(1, round(wait)))})


def _body():
    """(image bytes, the other fields)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise ApiError(400, "missing_image", "multipart feedback needs a file in the field 'image'")
        return upload.read(), request.form
    if request.mimetype == "application/json":
        body = json_body()
        if not isinstance(body, dict):
            raise ApiError(400, "malformed_json", "the body must be a JSON object")
        if "image" not in body:
            raise ApiError(400, "bad_request", "the JSON object needs 'image' and 'label'")
        return base64_image(body["image"], "image"), body
    raise ApiError(
        415, "unsupported_media_type", "send application/json or multipart/form-data with 'image' and 'label'"
    )


def _digit(value, name, required):
    """An integer 0..9 from JSON or a form field; None when absent and optional."""
    if value is None and not required:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 9:
        raise ApiError(400, f"bad_{name}", f"'{name}' must be a digit from 0 to 9, got {value!r}")
    return value


def _source(value):
    if value is None:
        return "api"
    if value not in SOURCES:
        raise ApiError(400, "bad_source", f"'source' must be one of {', '.join(SOURCES)}, got {value!r}")
    return value


def _model_id(value):
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_MODEL_ID:
        raise ApiError(400, "bad_model", f"'model' must be a string of at most {MAX_MODEL_ID} characters")
    return value
