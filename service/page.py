"""The pages for people: GET /, the draw-a-digit page (templates/index.html, static/app.css and
static/app.js, the entry of the page's ES modules), and GET /model/card, the model card.

The page is plain HTML, CSS and JavaScript served by the app itself: no CDN, no build
step, so it works offline. It is sent with a strict Content-Security-Policy: scripts and
styles only from this origin, no inline code; images may also be data: URLs (the 28x28
preview the service returns) and blob: URLs (a chosen file). Every other answer a browser
may render as a document (any HTML or SVG, Swagger UI's static files included) gets the same
policy and frame protection (`protect_documents`).
"""

import hashlib
from functools import cache
from importlib import resources

from flask import Blueprint, current_app, render_template, url_for

from ..data.drawing import page_pen

bp = Blueprint("page", __name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # for browsers without frame-ancestors
    "Cache-Control": "no-cache",  # the page names versioned assets: always revalidate it
}
DOCUMENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
DOCUMENT_HEADERS = {
    k: PAGE_HEADERS[k] for k in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy")
}


@bp.get("/")
def index():
    html = render_template(
        "index.html",
        asset=asset_url,
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        max_pixels=current_app.config["MAX_PIXELS"],
        pen=page_pen(),  # the renderer of page-like digits reads the same (data/drawing.py)
        hidden_sizes=current_app.extensions["classifier"].layer_sizes[1:-1],
        feedback=current_app.extensions["feedback"] is not None,  # no correction buttons when off
    )
    return current_app.response_class(html, mimetype="text/html", headers=PAGE_HEADERS)


@bp.after_app_request
def protect_documents(response):
    """The page's policy and frame protection on any HTML or SVG answer that has none of its own."""
    if response.mimetype in DOCUMENT_TYPES:
        for name, value in DOCUMENT_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


@bp.get("/model/card")
def model_card():
    """The served weights' model card for people (GET /model has the same as JSON)."""
    classifier = current_app.extensions["classifier"]
    html = render_template("model_card.html", asset=asset_url, model=classifier, meta=classifier.metadata)
    return current_app.response_class(html, mimetype="text/html", headers=PAGE_HEADERS)


def asset_url(name):
    """URL of a static file with a content hash, so a new release is never served stale."""
    return url_for("static", filename=name, v=_digest(name))


@cache
def _digest(name):
    data = resources.files(__package__).joinpath("static", name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]
