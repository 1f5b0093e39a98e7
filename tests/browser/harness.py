"""The browser tests' harness: Debian's chromium driven by Playwright, the pages' sizes, drawing
pen strokes on the canvas, and a tab on the service that records what it logged and requested.

Playwright's own browser download is not reachable here, so the system chromium is used. Its fixtures
(the server, the browser, the desktop page) are in tests/browser/conftest.py.
"""

import os
import shutil
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_mlp.data.synth.skeleton import thin
from tests.images import encode
from tests.machine import REPO

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or REPO / "artifacts") / "browser"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 640}
READY_TIMEOUT = 60.0
# Smaller limits than the defaults, so "too large" is quick to provoke for real.
MAX_CONTENT_LENGTH = 2_000_000
MAX_PIXELS = 1_000_000
# Functions, not expressions: the page's CSP forbids eval, which Playwright uses for expressions.
IDLE_JS = "() => document.getElementById('result').getAttribute('aria-busy') === 'false'"

try:
    from playwright.sync_api import Error as PlaywrightError  # noqa: F401 (the tests catch it)
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = PlaywrightError = None  # the browser fixture then skips, or fails under CI

# A 7 in two strokes, in the 28x28 frame (rows, columns).
SEVEN = [[(6, 6), (6, 12), (6, 18), (6, 21)], [(6, 21), (12, 18), (18, 15), (23, 13)]]


# ---- MNIST digits as pen strokes ---------------------------------------------------


STEPS = [(-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1)]  # straight first


def trace(skeleton):
    """Polylines of (row, col) covering every skeleton pixel, drawn end to end like a pen."""
    pixels = {(int(r), int(c)) for r, c in zip(*np.nonzero(skeleton))}

    def around(p):
        return [(p[0] + dr, p[1] + dc) for dr, dc in STEPS if (p[0] + dr, p[1] + dc) in pixels]

    todo = set(pixels)
    strokes = []
    while todo:
        ends = sorted(p for p in todo if sum(q in todo for q in around(p)) <= 1)
        start = ends[0] if ends else min(todo)
        path = [q for q in around(start) if q not in todo][:1]  # join what is drawn: no gaps
        point = start
        while point is not None:
            path.append(point)
            todo.discard(point)
            ahead = [q for q in around(point) if q in todo]
            point = ahead[0] if ahead else None
        tail = [q for q in around(path[-1]) if q not in todo and q not in path[-3:]]
        if tail and len(path) > 1:
            path.append(tail[0])
        strokes.append(path)
    return strokes


def simplify(points, tolerance):
    """Ramer-Douglas-Peucker: fewer points (so fewer mouse moves), none further than `tolerance` off."""
    if len(points) < 3:
        return points
    start, end = np.array(points[0], float), np.array(points[-1], float)
    span = end - start
    rest = np.array(points, float) - start
    length = np.hypot(*span)
    off = np.abs(span[0] * rest[:, 1] - span[1] * rest[:, 0]) / length if length else np.hypot(*rest.T)
    worst = int(off.argmax())
    if off[worst] <= tolerance:
        return [points[0], points[-1]]
    return simplify(points[: worst + 1], tolerance)[:-1] + simplify(points[worst:], tolerance)


def digit_strokes(pixels, tolerance=0.5):
    """Pen strokes (lists of (row, col) in the 28x28 frame) that redraw an MNIST digit's skeleton."""
    strokes = trace(thin(np.asarray(pixels).reshape(28, 28) > 128))
    return [simplify(stroke, tolerance) for stroke in strokes]


def press_along(page, points, pause_ms=0):
    """Press the mouse at the first point and move it through the rest, the button still down,
    waiting `pause_ms` after each move."""
    mouse = page.mouse
    mouse.move(*points[0])
    mouse.down()
    for x, y in points[1:]:
        mouse.move(x, y)
        if pause_ms:
            page.wait_for_timeout(pause_ms)


def draw_strokes(page, strokes):
    """Mouse strokes through points in page coordinates, each pressed along and released."""
    for points in strokes:
        press_along(page, points)
        page.mouse.up()


def on_canvas(box, strokes):
    """Stroke points in page coordinates: the 28x28 frame stretched over the whole canvas."""
    scale = box["width"] / 28
    return [[(box["x"] + (c + 0.5) * scale, box["y"] + (r + 0.5) * scale) for r, c in s] for s in strokes]


def in_box(box, lines):
    """Polylines in canvas units (0..1, x right, y down) in page coordinates."""
    return [[(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in line] for line in lines]


def png_bytes(array, scale=1):
    image = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.BILINEAR)
    return encode(image)


# ---- the server, the browser and the pages -------------------------------------------


def http_get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers, response.read()


class Tab:
    """A page on the service, with what it logged and what it requested."""

    def __init__(self, context, base):
        self.context = context
        self.base = base
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)
        self.console_errors = []
        self.requests = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda exc: self.console_errors.append(f"uncaught: {exc}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(base + "/")
        self.page.wait_for_selector("html[data-ready='true']")

    def box(self):
        return self.page.locator("#canvas").bounding_box()

    def idle(self):
        self.page.wait_for_function(IDLE_JS)

    def prediction(self):
        return self.page.locator("#prediction").inner_text().strip()

    def draw(self, strokes):
        """Mouse strokes on the canvas; returns the digit the page shows once it has settled."""
        return self.trace(on_canvas(self.box(), strokes))

    def trace(self, strokes):
        """Mouse strokes through points in page coordinates; the digit the page then shows."""
        draw_strokes(self.page, strokes)
        self.idle()
        return self.prediction()

    def ink(self):
        """Canvas pixels that differ from its paper colour."""
        return self.page.evaluate(
            """() => {
                const c = document.getElementById('canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[0]) > 60) n++;
                return n;
            }"""
        )

    def clear(self):
        self.page.locator("#clear").click()
        self.idle()
        assert self.prediction() == ""

    def shot(self, artifacts, name, **kwargs):
        path = artifacts / f"{name}.png"
        self.page.screenshot(path=path, **kwargs)
        return path
