"""GET /: the lab's page (templates/index.html with static/*.js as ES modules and static/lab.css).

Plain HTML, CSS and JavaScript served by the lab itself: no CDN, no build step, so it works
offline. The same strict Content-Security-Policy as the service's page: scripts and styles
only from this origin, no inline code; images also from data: URLs (the 28x28 input the
network saw).
"""

from flask import Blueprint, current_app, render_template

from .experiments import EXPERIMENTS
from .settings import bounds, parse_settings

bp = Blueprint("page", __name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
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
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@bp.get("/")
def index():
    pool_size = len(current_app.extensions["lab_runs"].data.x_pool)
    html = render_template(
        "index.html",
        experiments=EXPERIMENTS,
        defaults=parse_settings({}, pool_size),
        bounds=bounds(pool_size),
        code=current_app.extensions["lab_code"],
    )
    return current_app.response_class(html, mimetype="text/html", headers=PAGE_HEADERS)
