"""Cross-origin calls from browsers: off unless CORS_ORIGINS names the origins allowed.

Only an exact match of the request's Origin is answered, never `*`, and no credentials
are allowed: the API has no cookies to protect, and an allow-list keeps other sites'
pages from spending this server's CPU with their visitors' browsers.
"""

from flask import request

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Content-Type, X-Request-ID"
MAX_AGE = "600"  # seconds a browser may cache a preflight answer


def init_app(app, origins):
    if origins:
        allowed = frozenset(origins)
        app.after_request(lambda response: _allow(response, allowed))


def _allow(response, allowed):
    origin = request.headers.get("Origin")
    response.vary.add("Origin")
    if origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "X-Request-ID"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE
    return response
