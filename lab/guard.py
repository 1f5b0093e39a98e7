"""Other sites' pages kept out: the lab has no login, so what a browser says is its only gate.

Any page the user visits can make their browser send requests to 127.0.0.1, two ways:
- directly: a form or a no-cors fetch needs no CORS preflight, so a POST with an empty body
  (the default run) or to /stop arrives, and an <img> pointing at /weights.npz makes the lab
  build the file. Browsers mark such requests `Sec-Fetch-Site: cross-site` (or `same-site`);
  they are refused 403, except a plain navigation (a link from the docs opening the page);
  from older browsers without that header, a write whose `Origin` is not the lab's own is.
- by DNS rebinding: a name the attacker controls first points at their server, then at
  127.0.0.1, and their page becomes same-origin with the lab, free to read and write. Its
  requests still carry that name in `Host`, so the lab answers only requests addressed to a
  loopback name or to the HOST it listens on (400 otherwise). Listening on all interfaces
  (HOST=0.0.0.0 or ::), it cannot know its names and accepts any: a trusted network's choice.
Clients that are not browsers send neither header and pass, as no browser is used against its user.
"""

from urllib.parse import urlsplit

from flask import current_app, request

from .errors import ApiError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
ALL_INTERFACES = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app):
    app.before_request(_refuse_other_sites)


def _refuse_other_sites():
    host = current_app.config["HOST"].lower()
    if host not in ALL_INTERFACES and _hostname(request.host) not in LOOPBACK_NAMES | {host}:
        raise ApiError(
            400,
            "unknown_host",
            f"the lab answers requests addressed to {host} or localhost, not {request.host[:100]!r}",
        )
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        navigation = request.method == "GET" and request.headers.get("Sec-Fetch-Mode") == "navigate"
        passes = site in ("same-origin", "none") or navigation
    else:
        origin = request.headers.get("Origin")
        passes = request.method in SAFE_METHODS or origin is None or _own_origin(origin)
    if not passes:
        raise ApiError(
            403,
            "cross_site_request",
            f"{request.method} {request.path[:100]} from another site's page is refused; "
            "only the lab's own page may send it",
        )


def _hostname(host):
    """The name in a Host header: lower case, without the port and IPv6's brackets; None if none."""
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:
        return None


def _own_origin(origin):
    """Whether an Origin (scheme://host[:port]) names the host this request was sent to."""
    try:
        return urlsplit(origin).netloc.lower() == request.host.lower()
    except ValueError:
        return False
