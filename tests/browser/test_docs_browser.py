"""/docs in a real browser: Swagger UI renders the OpenAPI document under the strict
Content-Security-Policy, and "Try it out" sends real requests to the real server.

Runs Debian's chromium through Playwright like the page's tests, with the same fixtures
(tests/browser/conftest.py); a screenshot of each state goes to $ARTIFACTS_DIR/browser.
"""

import json

import pytest

from mnist_mlp.model.version import project_version
from tests.browser.harness import png_bytes
from tests.images import mnist_test_set

# Every CSP violation, whatever the console says about it; the listener is in place before any script runs.
RECORD_VIOLATIONS = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture
def docs(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.console_errors = []
    page.requests = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda exc: page.console_errors.append(f"uncaught: {exc}"))
    page.on("request", lambda r: page.requests.append(r.url))
    response = page.goto(server + "/docs")
    assert response.status == 200 and "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock")
    yield page
    assert page.evaluate("window.__violations") == []
    assert page.console_errors == []
    assert all(url.startswith(server) for url in page.requests), page.requests  # no CDN, no badge
    context.close()


def operation(page, method, path):
    """The expanded Swagger UI block of one operation, switched to "Try it out"."""
    block = page.locator(f".opblock-{method}:has(.opblock-summary-path[data-path='{path}'])")
    block.locator(".opblock-summary").click()
    block.locator(".try-out__btn").click()
    return block


def execute(page, block, path):
    """Press Execute; (status, JSON body) of the real answer, and what Swagger UI shows."""
    with page.expect_response(lambda r: r.url.split("?")[0].endswith(path)) as answer:
        block.locator(".execute").click()
    shown = block.locator(".live-responses-table tbody .response-col_status").first.inner_text().strip()
    return answer.value.status, answer.value.json(), shown


def test_docs_renders_every_route_of_the_document(docs, server, artifacts):
    assert docs.locator(".info .title").inner_text().startswith("MNIST digit classifier")
    assert project_version() in docs.locator(".info .title .version").first.inner_text()
    document = json.loads(docs.request.get(server + "/openapi.json").text())
    methods = docs.locator(".opblock-summary-method").all()
    paths = docs.locator(".opblock-summary-path").all()
    shown = {(m.inner_text().lower(), p.get_attribute("data-path")) for m, p in zip(methods, paths)}
    assert shown == {(method, path) for path, item in document["paths"].items() for method in item}
    docs.screenshot(path=artifacts / "docs.png", full_page=True)


def test_try_it_out_uploads_a_file_to_predict(docs, artifacts):
    x_test, y_test = mnist_test_set()
    png = png_bytes(255 - x_test[3].reshape(28, 28), scale=4)  # a scan-like picture: ink on paper
    block = operation(docs, "post", "/predict")
    assert block.locator(".content-type").first.input_value() == "multipart/form-data"
    block.locator("input[type=file]").set_input_files(
        files=[{"name": "digit.png", "mimeType": "image/png", "buffer": png}]
    )
    status, body, shown = execute(docs, block, "/predict")
    assert (status, shown) == (200, "200")
    assert body["digit"] == int(y_test[3]) and len(body["probabilities"]) == 10
    block.screenshot(path=artifacts / "docs-try-predict.png")


def test_try_it_out_sends_a_raw_image_body(docs):
    x_test, y_test = mnist_test_set()
    png = png_bytes(x_test[4].reshape(28, 28))
    block = operation(docs, "post", "/predict")
    block.locator(".content-type").first.select_option("image/png")
    block.locator("input[type=file]").set_input_files(
        files=[{"name": "digit.png", "mimeType": "image/png", "buffer": png}]
    )
    status, body, shown = execute(docs, block, "/predict")
    assert (status, shown, body["digit"]) == (200, "200", int(y_test[4]))


def test_try_it_out_on_the_other_routes(docs):
    for path, check in [
        ("/model", lambda body: body["architecture"]["layer_sizes"] == [784, 128, 64, 10]),
        ("/readyz", lambda body: body["status"] == "ready"),
        ("/v2/health/ready", lambda body: body == {"ready": True}),
    ]:
        block = operation(docs, "get", path)
        status, body, shown = execute(docs, block, path)
        assert (status, shown) == (200, "200") and check(body), path
