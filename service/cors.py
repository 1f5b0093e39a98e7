"""Cross-origin calls from browsers: writes from other sites refused, reads allowed to CORS_ORIGINS.

Writes. A page on another site can make its visitors' browsers POST here without asking (a form,
or a multipart fetch, needs no CORS preflight), so every request that is not GET, HEAD or OPTIONS
is checked for what the browser says about where it comes from:
- `Sec-Fetch-Site` (every current browser sends it): `same-origin` and `none` (the user's own
  action) pass; `same-site` and `cross-site` pass only from an origin in CORS_ORIGINS;
- else `Origin` (older browsers): this server's own host, or an origin in CORS_ORIGINS, passes;
- neither (curl, scripts, other servers): passes, as no browser is being used against its user.
Anything else is refused 403 (`cross_site_request`) before the view runs. The host compared is
the one the browser asked for (the Host header), whatever the scheme, as TLS may end at a proxy.

Reads. Off unless CORS_ORIGINS names the origins allowed. Only an exact match of the request's
Origin is answered, never `*`, and no credentials are allowed: the API has no cookies to protect,
and an allow-list keeps other sites' pages from reading answers with their visitors' browsers.

These headers tell honest browsers apart; any other client can write them as it likes, so they
prove nothing about where a request really comes from (`from_own_page`).
"""

from urllib.parse import urlsplit

from flask import request

from .errors import ApiError

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Content-Type, X-Request-ID"
MAX_AGE = "600"  # seconds a browser may cache a preflight answer
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app, origins):
    allowed = frozenset(origins)
    app.before_request(lambda: _refuse_cross_site(allowed))
    if origins:
        app.after_request(lambda response: _allow(response, allowed))


def from_own_page():
    """Whether the browser says the request comes from a page of this server (see the module's note)."""
    site = request.environ.get("HTTP_SEC_FETCH_SITE")
    if site is not None:
        return site == "same-origin"
    return _own_origin(request.environ.get("HTTP_ORIGIN"))


def _refuse_cross_site(allowed):
    environ = request.environ  # read directly: this runs before every POST /predict
    if environ["REQUEST_METHOD"] in SAFE_METHODS:
        return
    site = environ.get("HTTP_SEC_FETCH_SITE")
    origin = environ.get("HTTP_ORIGIN")
    if site is not None:
        passes = site in ("same-origin", "none") or origin in allowed
    else:
        passes = origin is None or _own_origin(origin) or origin in allowed
    if not passes:
        raise ApiError(
            403,
            "cross_site_request",
            f"{request.method} {request.path} from another site's page is refused; "
            "only this server's own pages and the origins in CORS_ORIGINS may send it",
        )


def _own_origin(origin):
    """Whether `origin` (scheme://host[:port]) names the host this request was sent to."""
    if not origin or origin == "null":
        return False
    try:
        return urlsplit(origin).netloc.lower() == request.host.lower()
    except ValueError:  # an origin that is no URL
        return False


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
