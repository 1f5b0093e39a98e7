"""Other sites' pages cannot drive the lab through their visitors' browsers (lab/guard.py).

A page on any site can POST to 127.0.0.1 without a preflight (a form, a no-cors fetch), point
an <img> at an API address, or rebind its own name to 127.0.0.1 and become same-origin.
"""

import numpy as np
import pytest

from mnist_mlp.lab.app import create_app
from mnist_mlp.lab.dataset import LabData

TINY = {"hidden": [4], "train_size": 100, "epochs": 1}
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Origin": "https://evil.example"}


@pytest.fixture(scope="module")
def lab_data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (600, 784), dtype=np.uint8)
    return LabData.split(x, np.arange(600) % 10, "tests: random pixels", val_images=100)


@pytest.fixture
def app(lab_data):
    app = create_app({"DATA": lab_data})
    yield app
    for run in app.extensions["lab_runs"].all():
        run.stop()
        run.thread.join(timeout=60)


def started(app):
    return len(app.extensions["lab_runs"].all())


@pytest.mark.parametrize(
    "headers",
    [
        CROSS_SITE,  # a form or a no-cors fetch from another site
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"},  # another port on this machine
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},  # a form's POST navigates
        {"Origin": "https://evil.example"},  # a browser too old for Sec-Fetch-Site
        {"Origin": "null"},  # a sandboxed frame
    ],
)
def test_another_sites_page_cannot_start_or_stop_runs(app, headers):
    client = app.test_client()
    run_id = client.post("/api/runs", json=TINY).get_json()["id"]
    refused = client.post("/api/runs", data=b"", content_type="text/plain", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "cross_site_request"
    assert client.post(f"/api/runs/{run_id}/stop", headers=headers).status_code == 403
    assert client.post(f"/api/runs/{run_id}/predict", data=b"x", headers=headers).status_code == 403
    assert started(app) == 1


def test_another_sites_page_cannot_make_the_lab_build_weights(app):
    client = app.test_client()
    run_id = client.post("/api/runs", json=TINY).get_json()["id"]
    for path in (f"/api/runs/{run_id}/weights.npz", f"/api/runs/{run_id}/first-layer.png", "/api/runs"):
        answer = client.get(path, headers={**CROSS_SITE, "Sec-Fetch-Dest": "image"})
        assert answer.status_code == 403, path


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},  # the lab's own page
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
        {"Origin": "http://localhost"},  # the own page, from an older browser
        {},  # curl, scripts
    ],
)
def test_the_labs_own_page_and_other_clients_pass(app, headers):
    answer = app.test_client().post("/api/runs", json=TINY, headers=headers)
    assert answer.status_code == 201, answer.get_json()


def test_a_link_from_another_site_opens_the_page(app):
    link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert app.test_client().get("/", headers=link).status_code == 200


@pytest.mark.parametrize("host", ["rebound.evil.example:8001", "evil.example", "127.0.0.1.evil.example"])
def test_a_name_rebound_to_loopback_is_refused(app, host):
    """DNS rebinding: the attacker's page is same-origin, but its requests name the attacker's host."""
    client = app.test_client()
    for method, path in (("GET", "/api/runs"), ("POST", "/api/runs"), ("GET", "/")):
        answer = client.open(path, method=method, json=TINY, headers={"Host": host})
        assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "unknown_host"
    assert started(app) == 0


@pytest.mark.parametrize(
    ("listening_on", "host", "status"),
    [
        ("127.0.0.1", "127.0.0.1:8001", 200),
        ("127.0.0.1", "LOCALHOST:8001", 200),
        ("127.0.0.1", "[::1]:8001", 200),
        ("::1", "[::1]:8001", 200),
        ("192.168.1.5", "192.168.1.5:8001", 200),
        ("192.168.1.5", "evil.example:8001", 400),
        ("0.0.0.0", "any.name.on.the.network:8001", 200),  # all interfaces: its names are unknown
    ],
)
def test_the_lab_answers_the_names_it_listens_on(lab_data, listening_on, host, status):
    client = create_app({"DATA": lab_data, "HOST": listening_on}).test_client()
    assert client.get("/api/runs", headers={"Host": host}).status_code == status


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/runs"),
        ("GET", "/static/lab.js"),
        ("GET", "/nope"),
        ("POST", "/api/runs/9/stop"),
    ],
)
def test_no_answer_is_sniffed_as_another_type(app, method, path):
    assert app.test_client().open(path, method=method).headers["X-Content-Type-Options"] == "nosniff"
