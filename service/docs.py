"""GET /docs: Swagger UI for this API, to read the OpenAPI document and try every route.

Swagger UI's files come from the flask-swagger-ui package (its `dist` folder, a copy of
the swagger-ui-dist release it is named after) and are served by the app itself: no CDN.
Only the files are used, not the package's blueprint: its page starts Swagger UI with an
inline script, which the page's Content-Security-Policy forbids, so here the page loads
static/docs.js instead and is sent with the same headers as the drawing page.
"""

import importlib.util
from functools import cache
from pathlib import Path

from flask import Blueprint, current_app, render_template, url_for

from .page import PAGE_HEADERS, asset_url

SWAGGER_UI = Path(importlib.util.find_spec("flask_swagger_ui").origin).with_name("dist")

bp = Blueprint("docs", __name__, static_folder=SWAGGER_UI, static_url_path="/docs/swagger-ui")


@bp.get("/docs")
def docs():
    html = render_template("docs.html", asset=asset_url, swagger_ui=swagger_ui_url)
    return current_app.response_class(html, mimetype="text/html", headers=PAGE_HEADERS)


def swagger_ui_url(name):
    """URL of one of Swagger UI's files, named with its release so an upgrade is never served stale."""
    return url_for("docs.static", filename=name, v=swagger_ui_version())


@cache
def swagger_ui_version():
    return (SWAGGER_UI / "VERSION").read_text().strip()
