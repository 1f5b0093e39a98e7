"""The page's "Wrong? It was …" in Debian's chromium, against the real server with feedback on:
a tap or a digit key stores a correction after the undo time, Undo stores nothing."""

import time

import pytest

from mnist_mlp.data.corrections import open_store
from tests import live_server
from tests.browser.harness import DESKTOP, IDLE_JS, SEVEN, draw_strokes, on_canvas

UNDO_S = 4.0  # feedback.js's UNDO_MS


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return str(tmp_path_factory.mktemp("feedback") / "feedback.sqlite3")


@pytest.fixture(scope="module")
def page(db, browser):
    with live_server.running(60.0, FEEDBACK_DB=db, WORKERS="1") as (_, base):
        context = browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base + "/")
        page.wait_for_selector("html[data-ready='true']")
        yield page
        context.close()
        assert errors == []


def draw_seven(page):
    draw_strokes(page, on_canvas(page.locator("#canvas").bounding_box(), SEVEN))
    page.wait_for_function(IDLE_JS)
    return page.locator("#prediction").inner_text().strip()


def test_hidden_until_there_is_an_answer(page):
    assert page.locator("#feedback").is_hidden()
    draw_seven(page)
    assert page.locator("#feedback").is_visible()
    assert page.locator("#feedback-ask").inner_text() == "Wrong? It was …"
    page.locator("#clear").click()
    assert page.locator("#feedback").is_hidden()


def test_undo_stores_nothing_and_a_key_stores_one(page, db):
    shown = draw_seven(page)
    page.locator(".feedback-digit[data-digit='1']").click()
    assert page.locator("#feedback-undo").is_visible()
    page.locator("#feedback-undo").click()
    assert page.locator("#feedback-text").inner_text() == "Not saved."
    time.sleep(UNDO_S + 0.5)
    assert _rows(db) == []

    page.keyboard.press("3")
    page.wait_for_function(
        "() => document.getElementById('feedback-text').textContent === 'Saved: it was 3. Thank you.'",
        timeout=(UNDO_S + 5) * 1000,
    )
    [row] = _rows(db)
    assert (row.label, row.source, row.predicted) == (3, "page", int(shown))


def _rows(db):
    store = open_store(db)
    try:
        return store.corrections()
    finally:
        store.close()


def test_undo_is_gone_once_the_correction_is_saved(page):
    draw_seven(page)
    page.locator(".feedback-digit[data-digit='2']").click()
    assert page.locator("#feedback-undo").is_visible()
    page.wait_for_function(
        "() => document.getElementById('feedback-text').textContent === 'Saved: it was 2. Thank you.'",
        timeout=(UNDO_S + 5) * 1000,
    )
    assert page.locator("#feedback-undo").is_hidden()  # nothing left to undo


def test_the_digit_just_predicted_is_not_offered(page):
    shown = draw_seven(page)
    offered = page.locator(".feedback-digit:visible")
    assert offered.count() == 9
    assert shown not in offered.all_inner_texts()
    page.keyboard.press(shown)  # its key does nothing either
    assert page.locator("#feedback-text").inner_text() != f"Thanks: it was {shown}. Saving…"
