"""Request bodies as the views need them, with the failures a hostile body can cause turned into 4xx:
JSON, and images sent inside JSON as base64 or data: URLs."""

import base64
import binascii
import io

import flask
from flask import current_app, request

from ..model.contract import INPUTS, SIDE
from .errors import ApiError

# Values a JSON body may hold besides its tensors' numbers: names, ids, options, an image each.
JSON_OVERHEAD_VALUES = 1000


class Request(flask.Request):
    """Flask's request, with multipart uploads kept in memory.

    Werkzeug spools an upload of over 500 kB to a file in the temporary folder. Here the whole
    body is in memory already (the edge reads it, at most MAX_CONTENT_LENGTH), so the file was
    a second copy, in a folder a pod mounts as a small memory volume and a cleaner may empty:
    full or gone, every large upload was a 500."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def json_body(force=False):
    """The parsed JSON body, or None when it is not JSON (or, with force=False, not labelled JSON).

    Python's parser recurses once per nesting level: a body of 100,000 "[" would raise
    RecursionError, which is no ValueError and would escape Flask's `silent`.

    Parsed, each value is a Python object of 24 to 64 bytes, made from as little as 2 bytes of
    JSON ("[]," or "1,"): 16 MiB of "[[]]," took a worker to 900 MB. So the values are counted
    first, from the bytes, and a body holding more than any request needs is refused 413.
    """
    if force or request.is_json:
        _check_values(request.get_data(cache=True))
    try:
        return request.get_json(force=force, silent=True)
    except RecursionError:
        raise ApiError(400, "malformed_json", "the JSON body is nested too deeply") from None


def base64_image(value, where):
    if not isinstance(value, str):
        raise ApiError(400, "bad_request", f"'{where}' must be a base64 string or a data: URL")
    if value.startswith("data:"):
        header, comma, value = value.partition(",")
        if not comma or not header.endswith(";base64"):
            raise ApiError(
                400, "bad_request", f"'{where}' must be a base64 data: URL (data:image/png;base64,...)"
            )
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_base64", f"'{where}' is not valid base64") from None


def max_json_values():
    """The most values a JSON request needs: MAX_BATCH inputs, each 784 numbers in up to SIDE + 1
    arrays ([N, 28, 28]), and a few other fields."""
    return current_app.config["MAX_BATCH"] * (INPUTS + SIDE + 1) + JSON_OVERHEAD_VALUES


def _check_values(data):
    """413 when `data` may hold more JSON values than a request needs.

    A value opens an array or object, or follows a comma: their bytes bound the values from
    above, strings' own commas and brackets included, without parsing anything."""
    limit = max_json_values()
    found = data.count(b",") + data.count(b"[") + data.count(b"{")
    if found > limit:
        raise ApiError(
            413,
            "json_too_large",
            f"the JSON body holds up to {found} values; a request needs at most {limit} "
            f"(MAX_BATCH inputs of {INPUTS} numbers)",
        )
