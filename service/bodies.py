"""Request bodies as the views need them, with the failures a hostile body can cause turned into 400s:
JSON, and images sent inside JSON as base64 or data: URLs."""

import base64
import binascii

from flask import request

from .errors import ApiError


def json_body(force=False):
    """The parsed JSON body, or None when it is not JSON (or, with force=False, not labelled JSON).

    Python's parser recurses once per nesting level: a body of 100,000 "[" would raise
    RecursionError, which is no ValueError and would escape Flask's `silent`.
    """
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
