"""POST /feedback: a person says which digit an image really is; the correction is stored.

Bodies, as for /predict's single image:
- JSON {"image": "<base64 or data: URL>", "label": 3, "predicted": 5, "model": "...", "source": "page"};
- multipart/form-data with the file `image` and the fields `label` (and `predicted`, `model`, `source`).
`predicted` and `model` say what the client was shown and are optional; the service runs the
image through the loaded model itself and stores its own answer too. Answers 201 {"id": ...}.
Fields are strict: `label` and `predicted` a digit 0-9 (a JSON integer, or a string of that one
ASCII character), `model` 1 to 100 printable ASCII characters, `source` "page" or "api".

`source` is what the server makes of the request, not what the client claims: "page" only when
the client says "page" and the browser says it comes from this server's own page (cors.py), else
"api". Any program can write those headers, so it tells honest browsers apart and proves nothing.

Off (404) unless FEEDBACK_DB names a database; a database that fails answers 503 while
/predict keeps working. Each client (service/clients.py) is rate limited (service/rate_limit.py).
"""

import logging
import re
import reprlib

from flask import Blueprint, current_app, jsonify, request

from ..data.feedback_store import SOURCES, Correction, InvalidCorrection, StoreFull, StoreUnavailable
from ..data.preprocess import PreprocessError, preprocess
from ..model.contract import SIDE, to_pixels
from .bodies import base64_image, json_body
from .clients import current_client
from .cors import from_own_page
from .errors import ApiError, from_preprocess

log = logging.getLogger(__name__)
bp = Blueprint("feedback", __name__)

# How the store's failures are answered, the more specific first: exception -> (status, code, message)
STORE_FAILURES = {  # the first that matches: StoreFull is a StoreUnavailable
    StoreFull: (507, "feedback_full", "the feedback store is full; nothing more is kept until room is made"),
    StoreUnavailable: (503, "feedback_unavailable", "the feedback database is unavailable; try again later"),
}
MAX_MODEL_ID = 100  # characters of a client's `model`
MODEL_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_MODEL_ID}}}")  # printable ASCII, no spaces
DIGITS = "0123456789"


@bp.post("/feedback")
def feedback():
    store = current_app.extensions["feedback"]
    if store is None:
        raise ApiError(404, "feedback_off", "feedback is off on this server (FEEDBACK_DB is not set)")
    client = current_client()
    _check_rate(client)
    image, fields = _body()
    label = _digit(fields.get("label"), "label", required=True)
    shown = _digit(fields.get("predicted"), "predicted", required=False)
    shown_model = _model_id(fields.get("model"))
    source = _source(fields.get("source"))
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
        source=source,
        shown_predicted=shown,
        shown_model=shown_model,
        client=client,
    )
    try:
        row_id = store.add(correction)
    except InvalidCorrection as exc:
        raise ApiError(400, "bad_correction", str(exc)) from None
    except StoreUnavailable as exc:
        log.error("feedback not stored: %s", exc)
        status, code, message = next(v for kind, v in STORE_FAILURES.items() if isinstance(exc, kind))
        raise ApiError(status, code, message) from None
    return jsonify(id=row_id), 201


def _check_rate(client):
    wait = current_app.extensions["feedback_limiter"].wait(client)
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
    """An integer 0..9 from a JSON integer or a one-character string of an ASCII digit; None when
    absent and optional. Never str.isdigit, which takes "²" and "𝟟" too."""
    if value is None and not required:
        return None
    if isinstance(value, str) and len(value) == 1 and value in DIGITS:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return value
    raise ApiError(400, f"bad_{name}", f"'{name}' must be a digit from 0 to 9, got {reprlib.repr(value)}")


def _source(value):
    """The source stored: "page" when both the client and its browser say so, else "api"; 400 for
    any other claim."""
    if value is None:
        return "api"
    if not isinstance(value, str) or value not in SOURCES:
        message = f"'source' must be one of {', '.join(SOURCES)}, got {reprlib.repr(value)}"
        raise ApiError(400, "bad_source", message)
    return "page" if value == "page" and from_own_page() else "api"


def _model_id(value):
    if value is None:
        return None
    if not isinstance(value, str) or not MODEL_ID.fullmatch(value):
        message = f"'model' must be 1 to {MAX_MODEL_ID} printable ASCII characters without spaces"
        raise ApiError(400, "bad_model", message)
    return value
