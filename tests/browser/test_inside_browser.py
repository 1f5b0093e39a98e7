"""The "Inside the network" panel in Chromium (the set-up of the page's tests, tests/browser/harness.py).

After a digit is drawn the panel shows the input with its heatmap (#saliency), the toggle
between "evidence for 7" and "7 rather than 1", the hidden units and the logits; a unit's
pattern opens on hover, on tap and from the keyboard. Screenshots of each state go under
$ARTIFACTS_DIR/browser, beside the page's own; UPDATE_SCREENSHOT=1 also copies the light
desktop panel to docs/inside.png, which docs/page.md shows.
"""

import base64
import contextlib
import io
import json
import os
import re
import shutil

import pytest
from PIL import Image

from tests.browser.harness import DESKTOP, PHONE, SEVEN, Tab
from tests.machine import REPO


@contextlib.contextmanager
def opened(browser, server, color_scheme="light", **options):
    """A Tab on the page in a context of its own; nothing may reach the console as an error."""
    context = browser.new_context(
        viewport=options.pop("viewport", DESKTOP),
        color_scheme=color_scheme,
        reduced_motion="reduce",
        **options,
    )
    try:
        tab = Tab(context, server)
        yield tab
        assert tab.console_errors == []
    finally:
        context.close()


def image_of(page, selector):
    """The image an <img> shows, decoded from its data: URL."""
    src = page.locator(selector).get_attribute("src")
    assert src and src.startswith("data:image/png;base64,"), src
    return Image.open(io.BytesIO(base64.b64decode(src.partition(",")[2])))


def wait_for_pattern(page, layer, unit):
    page.wait_for_function(
        """([layer, unit]) => {
            const img = document.getElementById('unit-pattern');
            const wanted = `model/units/${layer}/${unit}.png`;
            return img.complete && img.naturalWidth === 28 && img.src.endsWith(wanted);
        }""",
        arg=[layer, unit],
    )


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_the_panel_follows_a_drawing_on_a_desktop(browser, server, artifacts, color_scheme):
    with opened(browser, server, color_scheme) as tab:
        page = tab.page
        inside = page.locator("#inside")
        assert inside.evaluate("el => el.open") is True  # open where there is room
        assert page.locator("#inside-body").is_hidden()
        pad = tab.box()
        assert tab.draw(SEVEN) == "7"
        assert tab.box() == pad  # the panel filling up moves nothing: strokes land where they are drawn
        assert page.locator("#inside-body").is_visible()
        assert inside.get_attribute("data-state") == "ready"
        heatmap = image_of(page, "#saliency")
        assert heatmap.size == (28, 28) and heatmap.getextrema()[3][1] == 255  # something is coloured
        runner_up = page.evaluate("document.getElementById('mode-contrast').textContent")
        assert page.locator("#mode-for").inner_text() == "Evidence for 7"
        assert runner_up.startswith("7 rather than ") and runner_up[-1] in "0123456789"
        assert "score for 7" in page.locator("#saliency").get_attribute("alt")
        # the activations: every unit coloured by its value, most of them silent or dim
        levels = page.evaluate(
            "[...document.querySelectorAll('.unit')].map(u => Number(u.style.getPropertyValue('--level')))"
        )
        assert len(levels) == 128 + 64 and max(levels) == 1 and min(levels) == 0
        assert page.locator("#logits .logit.best .logit-digit").inner_text() == "7"
        page.locator("#inside").scroll_into_view_if_needed()
        tab.shot(artifacts, f"inside-desktop-{color_scheme}", full_page=True)

        evidence = page.locator("#saliency").get_attribute("src")
        page.get_by_label(runner_up).check()
        assert page.locator("#saliency").get_attribute("src") != evidence
        assert f"rather than a {runner_up[-1]}" in page.locator("#saliency").get_attribute("alt")
        tab.shot(artifacts, f"inside-desktop-{color_scheme}-contrast", full_page=True)
        page.get_by_label("Evidence for 7").check()
        assert page.locator("#saliency").get_attribute("src") == evidence

        unit = page.locator('.unit[data-layer="1"][data-unit="5"]')
        unit.hover()
        wait_for_pattern(page, 1, 5)
        assert page.locator("#unit-view").is_visible()
        assert "Unit 5 of the first hidden layer" in page.locator("#unit-caption").inner_text()
        tab.shot(artifacts, f"inside-desktop-{color_scheme}-unit-hover", full_page=True)
        panel = artifacts / f"inside-panel-{color_scheme}.png"
        page.locator("#inside").screenshot(path=panel)
        if os.environ.get("UPDATE_SCREENSHOT") == "1" and color_scheme == "light":
            shutil.copyfile(panel, REPO / "docs" / "inside.png")
        page.locator('.unit[data-layer="2"][data-unit="3"]').hover()
        wait_for_pattern(page, 2, 3)
        assert "second hidden layer" in page.locator("#unit-caption").inner_text()


def test_the_units_are_reached_with_the_keyboard(browser, server):
    with opened(browser, server) as tab:
        page = tab.page
        tab.draw(SEVEN)
        first = page.locator('.unit[data-layer="1"][data-unit="0"]')
        first.focus()
        wait_for_pattern(page, 1, 0)
        for key, unit in [("ArrowRight", 1), ("ArrowDown", 17), ("ArrowLeft", 16), ("Home", 0), ("End", 127)]:
            page.keyboard.press(key)
            assert page.evaluate("document.activeElement.dataset.unit") == str(unit)
            wait_for_pattern(page, 1, unit)
        # one tab stop per grid: Tab leaves the first layer's units for the second's
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.dataset.layer") == "2"
        assert page.locator('.unit[tabindex="0"]').count() == 2
        label = page.locator('.unit[data-layer="1"][data-unit="127"]').get_attribute("aria-label")
        assert label.startswith("unit 127: ") and "looks for" in label


def test_the_panel_on_a_phone_waits_collapsed_and_a_tap_shows_a_unit(browser, server, artifacts):
    with opened(
        browser, server, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    ) as tab:
        page = tab.page
        inside = page.locator("#inside")
        assert inside.evaluate("el => el.open") is False
        assert tab.draw(SEVEN) == "7"
        page.locator("#inside summary").tap()
        assert inside.evaluate("el => el.open") is True
        assert page.locator("#saliency").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        unit = page.locator('.unit[data-layer="1"][data-unit="20"]')
        unit.scroll_into_view_if_needed()
        unit.tap()
        wait_for_pattern(page, 1, 20)
        page.locator("#unit-view").scroll_into_view_if_needed()
        assert page.locator("#unit-view").is_visible()
        tab.shot(artifacts, "inside-mobile-unit-tap")
        page.locator("#inside").scroll_into_view_if_needed()
        tab.shot(artifacts, "inside-mobile", full_page=True)


def test_clearing_or_an_answer_without_explanation_empties_the_panel(browser, server):
    with opened(browser, server) as tab:
        page = tab.page
        tab.draw(SEVEN)
        assert page.locator("#inside-body").is_visible()
        page.locator("#clear").click()
        tab.idle()
        assert page.locator("#inside-body").is_hidden() and page.locator("#inside-empty").is_visible()
        assert page.locator("#saliency").get_attribute("src") is None
        # an answer without an explanation (an older server, say) leaves the panel empty too
        tab.draw(SEVEN)
        answer = {
            "digit": 3,
            "confidence": 0.9,
            "probabilities": [0.01] * 10,
            "uncertain": False,
            "model": "m",
        }
        page.route(
            "**/predict*",
            lambda route: route.fulfill(content_type="application/json", body=json.dumps(answer)),
        )
        page.keyboard.press("u")
        tab.idle()
        assert tab.prediction() == "3"
        assert page.locator("#inside-body").is_hidden() and page.locator("#inside-empty").is_visible()


PANEL_TOP = "() => document.getElementById('inside').getBoundingClientRect().top"


@pytest.mark.parametrize("where", ["desktop", "phone"])
def test_why_next_to_the_answer_opens_the_panel_and_scrolls_to_it(browser, server, artifacts, where):
    """The panel starts below the fold (at 1280x800 as on a phone): "Why?" beside the answer leads there."""
    options = (
        {}
        if where == "desktop"
        else dict(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    )
    with opened(browser, server, **options) as tab:
        page = tab.page
        height = page.viewport_size["height"]
        assert page.locator("#why").is_hidden()  # nothing to explain yet
        assert tab.draw(SEVEN) == "7"
        assert page.evaluate(PANEL_TOP) >= height - 10  # out of sight, or nearly
        why = page.get_by_role("link", name="Why?")
        assert why.is_visible()
        tab.shot(artifacts, f"why-{where}")
        why.click()
        page.wait_for_function(f"() => ({PANEL_TOP})() >= 0 && ({PANEL_TOP})() < {height / 2}")
        assert page.locator("#inside").evaluate("el => el.open") is True
        assert page.locator("#saliency").is_visible()
        tab.shot(artifacts, f"why-{where}-panel")


def rgb(css):
    """(r, g, b) in 0..1 of a computed CSS colour: rgb(...) or color(srgb ...)."""
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    return numbers[:3] if css.startswith("color(") else [n / 255 for n in numbers[:3]]


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_the_units_words_say_what_their_colours_show(browser, server, color_scheme):
    """Fired units are darker than silent ones in the light scheme and brighter in the dark one:
    the words name the colour, blue for a unit that fired and grey for a silent one."""
    with opened(browser, server, color_scheme) as tab:
        page = tab.page
        tab.draw(SEVEN)
        fired, silent = page.evaluate(
            """() => {
                const units = [...document.querySelectorAll('.unit')];
                const level = (u) => Number(u.style.getPropertyValue('--level'));
                const colour = (u) => getComputedStyle(u).backgroundColor;
                return [colour(units.find((u) => level(u) === 1)), colour(units.find((u) => level(u) === 0))];
            }"""
        )
        (r, g, b), grey = rgb(fired), rgb(silent)
        assert b - max(r, g) > 0.2, fired  # blue
        assert max(grey) - min(grey) < 0.1, silent  # grey
        for layer in (1, 2):
            words = page.locator(f"#units-{layer}-words").inner_text()
            assert "blue" in words and "grey" in words and "bright" not in words, words
