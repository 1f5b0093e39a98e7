"""Request bodies as the views need them, with the failures a hostile body can cause turned into 400s."""

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
