"""The training lab's page in a real browser: Debian's chromium driven by Playwright.

The real `mnist-lab` runs on the real MNIST files. The page starts a run with its Start
button, its loss curve is drawn while it trains, a digit drawn with the mouse is answered
by the network mid-training, Stop stops it, Save downloads weights that load; an experiment
linked by its fragment runs with one click and shows the NaN guard's message. Screenshots
(desktop 1280x800, phone 390x844, dark) go to $ARTIFACTS_DIR/lab (default artifacts/lab);
UPDATE_SCREENSHOT=1 also copies the desktop one to docs/lab.png, which docs/lab.md shows.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from mnist_mlp.model import load_weights
from tests.lab_server import running_lab
from tests.machine import REPO

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or REPO / "artifacts") / "lab"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Functions, not expressions: the page's CSP forbids eval, which Playwright uses for expressions.
RUN_PIXELS_JS = """(canvasId) => {
    const id = Number(document.getElementById('status-run').textContent.slice(1));
    const hex = getComputedStyle(document.documentElement).getPropertyValue(`--run-${(id - 1) % 8}`).trim();
    const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const c = document.getElementById(canvasId);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        const off = Math.abs(d[i] - want[0]) + Math.abs(d[i + 1] - want[1]) + Math.abs(d[i + 2] - want[2]);
        if (d[i + 3] > 200 && off < 60) n++;
    }
    return n;
}"""


@pytest.fixture(scope="module")
def lab(mnist_dir):
    with running_lab(mnist_dir) as (_, base):
        yield base


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class Tab:
    def __init__(self, browser, base, path="/", **options):
        self.context = browser.new_context(device_scale_factor=1, reduced_motion="reduce", **options)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.errors = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.goto(base + path)
        self.page.wait_for_selector("html[data-ready='true']")

    def state(self):
        return self.page.locator("#status-badge").inner_text().strip().lower()

    def wait_state(self, state):
        self.page.wait_for_function(
            "(state) => document.getElementById('status-badge').textContent.trim() === state", arg=state
        )

    def draw_a_one(self):
        pad = self.page.locator("#pad-canvas")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        mouse = self.page.mouse
        mouse.move(box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.3)
        mouse.down()
        mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.18, steps=4)
        mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.85, steps=12)
        mouse.up()

    def close(self):
        self.context.close()


def test_a_run_draws_its_loss_answers_a_drawing_mid_training_stops_and_saves(browser, lab, artifacts):
    tab = Tab(browser, lab, viewport=DESKTOP, color_scheme="light")
    page = tab.page
    page.fill("#settings [name=epochs]", "100")  # 31,300 steps: long enough to draw while it trains
    page.fill("#settings [name=batch_size]", "32")
    page.get_by_test_id("lab-start").click()
    tab.wait_state("running")
    page.wait_for_function(f"() => ({RUN_PIXELS_JS})('chart-loss') > 150")  # the curve, in the run's colour
    assert page.locator("#chart-loss").get_attribute("data-testid") == "lab-loss"

    tab.draw_a_one()
    page.wait_for_function("() => /at step \\d+/.test(document.getElementById('answer-words').textContent)")
    assert tab.state() == "running"  # answered while it trains
    digit = page.get_by_test_id("lab-answer").inner_text().strip()
    assert re.fullmatch(r"\d", digit)
    words = page.locator("#answer-words").inner_text()
    assert re.fullmatch(r"[\d.]+ % sure, says run #\d+ at step \d+", words), words
    assert page.locator("#seen").is_visible()  # the 28x28 input preprocess made of it
    page.wait_for_function("() => document.getElementById('first-layer').naturalWidth > 0")

    page.locator("#stop").click()
    tab.wait_state("stopped")
    assert "as asked" in page.locator("#status-message").inner_text()
    assert page.locator("#guard").is_hidden()
    with page.expect_download() as download:
        page.locator("#save").click()
    _, meta = load_weights(download.value.path())
    assert meta["trained_by"] == "mnist-lab" and meta["lab_run"]["state"] == "stopped"
    assert meta["lab_settings"]["epochs"] == 100 and meta["lab_settings"]["batch_size"] == 32

    page.locator("#he-vs-zeros button").click()  # two runs side by side, overlaid
    page.wait_for_function(
        "() => document.querySelectorAll('#runs .badge[data-state=finished]').length === 2"
    )
    page.wait_for_function("() => document.querySelectorAll('#legend-loss li').length === 2")
    legend = page.locator("#legend-accuracy").inner_text()
    he, zeros = (float(x) for x in re.findall(r"validation ([\d.]+) %", legend))
    assert he > 85 and zeros < 20, legend

    shot = artifacts / "desktop.png"
    page.evaluate("() => { window.scrollTo(0, 0); document.querySelector('.side').scrollTo(0, 0); }")
    page.screenshot(path=shot)
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, REPO / "docs" / "lab.png")
    page.screenshot(path=artifacts / "desktop-full.png", full_page=True)
    assert tab.errors == []
    tab.close()

    for name, options in (
        ("phone", {"viewport": PHONE, "color_scheme": "light", "has_touch": True, "is_mobile": True}),
        ("dark", {"viewport": DESKTOP, "color_scheme": "dark"}),
    ):
        other = Tab(browser, lab, **options)
        other.page.wait_for_function(f"() => ({RUN_PIXELS_JS})('chart-loss') > 50")
        other.page.screenshot(path=artifacts / f"{name}.png")
        other.page.screenshot(path=artifacts / f"{name}-full.png", full_page=True)
        assert other.errors == []
        other.close()


def test_an_experiment_linked_by_its_fragment_runs_in_one_click_and_shows_the_guard(browser, lab):
    tab = Tab(browser, lab, "/#lr-10", viewport=DESKTOP, color_scheme="light")
    page = tab.page
    assert "is-chosen" in page.locator("#lr-10").get_attribute("class")
    page.locator("#lr-10 button").click()
    tab.wait_state("diverged")
    guard = page.locator("#guard")
    assert guard.is_visible()
    assert re.match(
        r"the NaN guard stopped training: loss became \S+ at step \d+ in epoch 1", guard.inner_text()
    )
    assert "_Run.epoch" in page.locator("#status .code-ref").inner_text()
    assert tab.errors == []
    tab.close()
