"""The browser tests: the page, /docs and the lab in Debian's chromium through Playwright. Marked `browser`.

Each module gets its own server, browser and desktop page (module scope); the helpers that are not
fixtures are in tests/browser/harness.py.
"""

import os
import subprocess

import pytest

from tests import live_server
from tests.browser.harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    MAX_CONTENT_LENGTH,
    MAX_PIXELS,
    READY_TIMEOUT,
    Tab,
    sync_playwright,
)
from tests.machine import mark_folder, skip_or_fail


def pytest_collection_modifyitems(items):
    mark_folder(items, __file__, pytest.mark.browser)


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def server(artifacts):
    limits = {"MAX_CONTENT_LENGTH": str(MAX_CONTENT_LENGTH), "MAX_PIXELS": str(MAX_PIXELS)}
    with open(artifacts / "server.log", "w") as log:
        # the test's own private metrics folder: never one inherited from the environment
        env = {**limits, "WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": ""}
        with live_server.running(READY_TIMEOUT, stdout=log, stderr=subprocess.STDOUT, **env) as (_, base):
            yield base


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        skip_or_fail("Python playwright is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        skip_or_fail(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def desktop(browser, server):
    # Reduced motion: no bar transitions, so screenshots show the settled state.
    context = browser.new_context(
        viewport=DESKTOP, device_scale_factor=1, color_scheme="light", reduced_motion="reduce"
    )
    tab = Tab(context, server)
    yield tab
    context.close()


@pytest.fixture
def fresh(desktop):
    """The shared desktop page, cleared and with no routes or logged errors left over."""
    desktop.page.unroute("**/predict*")
    desktop.clear()
    desktop.console_errors.clear()
    yield desktop
    desktop.page.unroute("**/predict*")
