"""Writes from other sites' pages are refused; this server's own pages, CORS_ORIGINS and clients
that are no browser (curl, scripts) pass. In process: the check reads only the request's headers."""

import base64
import io

import pytest

from mnist_mlp.data.corrections import open_store
from mnist_mlp.service import create_app
from tests.images import drawn_digit, encode

PNG = encode(drawn_digit())
B64 = base64.b64encode(PNG).decode()
FRIEND = "https://digits.example.org"
EVIL = "https://evil.example"

# (headers, whether the request is let through), with CORS_ORIGINS = FRIEND
CASES = [
    ({}, True),  # curl, a script, another server
    ({"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}, True),  # the page itself
    ({"Sec-Fetch-Site": "none"}, True),  # the user's own action
    ({"Origin": "http://localhost"}, True),  # an older browser on the page
    ({"Origin": "https://localhost"}, True),  # the same host behind a proxy that ends TLS
    ({"Sec-Fetch-Site": "cross-site", "Origin": FRIEND}, True),  # an origin CORS_ORIGINS names
    ({"Origin": FRIEND}, True),
    ({"Sec-Fetch-Site": "cross-site", "Origin": EVIL}, False),
    ({"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"}, False),
    ({"Sec-Fetch-Site": "cross-site"}, False),
    ({"Origin": EVIL}, False),  # an older browser on another site
    ({"Origin": "null"}, False),  # a sandboxed frame, a data: or file: page
    ({"Origin": "http://localhost.evil.example"}, False),
    ({"Sec-Fetch-Site": "whatever", "Origin": "http://localhost"}, False),
]


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "feedback.sqlite3")


@pytest.fixture
def app_settings(db):
    return {"FEEDBACK_DB": db, "CORS_ORIGINS": FRIEND, "ADMIN_TOKEN": "t" * 32}


def multipart():
    return {"data": {"image": (io.BytesIO(PNG), "seven.png"), "label": "7", "source": "page"}}


@pytest.mark.parametrize(("headers", "passes"), CASES)
def test_a_correction_from_another_sites_page_is_refused_and_nothing_stored(app, db, headers, passes):
    """A multipart POST, as a form on any page can send it without a preflight."""
    response = app.test_client().post("/feedback", headers=headers, **multipart())
    if passes:
        assert response.status_code == 201, response.json
        assert len(open_store(db).corrections()) == 1
        return
    assert (response.status_code, response.json["error"]["code"]) == (403, "cross_site_request")
    assert open_store(db).corrections() == []


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("/predict", {"data": PNG, "content_type": "image/png"}),
        ("/admin/reload", {"headers": {"Authorization": "Bearer " + "t" * 32}}),
        ("/v2/models/mnist/infer", {"data": b"{}", "content_type": "text/plain"}),
    ],
)
def test_every_write_is_checked(app, url, sent):
    headers = {**sent.pop("headers", {}), "Sec-Fetch-Site": "cross-site", "Origin": EVIL}
    response = app.test_client().post(url, headers=headers, **sent)
    assert response.status_code == 403
    error = response.json["error"]
    assert isinstance(error, str) if url.startswith("/v2") else error["code"] == "cross_site_request"


def test_reads_and_preflights_from_anywhere_are_answered(app):
    client = app.test_client()
    headers = {"Sec-Fetch-Site": "cross-site", "Origin": EVIL}
    assert client.get("/healthz", headers=headers).status_code == 200
    preflight = client.options("/feedback", headers={**headers, "Origin": FRIEND})
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == FRIEND


def test_without_cors_origins_only_the_servers_own_pages_may_write(db):
    client = create_app({"FEEDBACK_DB": db}).test_client()
    friend = client.post(
        "/feedback", headers={"Sec-Fetch-Site": "cross-site", "Origin": FRIEND}, **multipart()
    )
    assert friend.status_code == 403
    own = client.post("/feedback", headers={"Sec-Fetch-Site": "same-origin"}, **multipart())
    assert own.status_code == 201
