"""POST /feedback in-process: what is stored, the JSON 4xx, feedback off, storage down, the rate limit."""

import base64
import io
import logging

import numpy as np
import pytest
from PIL import Image

from mnist_mlp.data.corrections import open_store
from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.model.contract import to_pixels
from mnist_mlp.service import create_app
from mnist_mlp.service.rate_limit import RateLimiter
from tests.images import drawn_digit, encode

PNG = encode(drawn_digit())
B64 = base64.b64encode(PNG).decode()
FROM_THE_PAGE = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}  # the browser's, on our page


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "feedback.sqlite3")


@pytest.fixture
def app_settings(db):
    return {"FEEDBACK_DB": db}


def test_a_json_correction_is_stored_with_the_models_own_answer(client, db):
    answer = client.post("/predict", data=PNG, content_type="image/png").json
    sent = {
        "image": "data:image/png;base64," + B64,
        "label": 7,
        "predicted": 1,
        "model": "m",
        "source": "page",
    }
    response = client.post("/feedback", json=sent, headers=FROM_THE_PAGE)
    assert response.status_code == 201
    [row] = open_store(db).corrections()
    assert response.json == {"id": row.id}
    assert (row.label, row.predicted, row.model, row.source) == (7, answer["digit"], answer["model"], "page")
    np.testing.assert_array_equal(row.pixels, to_pixels(preprocess(PNG)).reshape(28, 28))


def test_a_multipart_correction_is_stored_as_from_the_api(client, db):
    form = {"image": (io.BytesIO(PNG), "one.png"), "label": "4"}
    assert client.post("/feedback", data=form).status_code == 201
    assert [(r.label, r.source) for r in open_store(db).corrections()] == [(4, "api")]


@pytest.mark.parametrize(
    ("headers", "source"),
    [
        (FROM_THE_PAGE, "page"),
        ({"Origin": "http://localhost"}, "page"),  # a browser without Sec-Fetch-Site, on our page
        ({}, "api"),  # curl or a script claiming "page"
        ({"Sec-Fetch-Site": "none"}, "api"),  # typed in the address bar: not the page's script
    ],
)
def test_page_is_stored_only_when_the_browser_says_it_comes_from_the_page(client, db, headers, source):
    form = {"image": (io.BytesIO(PNG), "one.png"), "label": "4", "source": "page"}
    assert client.post("/feedback", data=form, headers=headers).status_code == 201
    assert [r.source for r in open_store(db).corrections()] == [source]


@pytest.mark.parametrize(
    "fields, code",
    [
        ({}, "bad_label"),
        ({"label": "3"}, None),  # a JSON string of a digit is accepted like a form field
        ({"label": 10}, "bad_label"),
        ({"label": -1}, "bad_label"),
        ({"label": True}, "bad_label"),
        ({"label": 3.0}, "bad_label"),
        ({"label": 3, "predicted": 11}, "bad_predicted"),
        ({"label": 3, "model": "x" * 101}, "bad_model"),
        ({"label": 3, "source": "email"}, "bad_source"),
        # what str.isdigit takes and int() may not: superscripts, other scripts' digits, huge numbers
        ({"label": "²"}, "bad_label"),
        ({"label": "³"}, "bad_label"),
        ({"label": "𝟟"}, "bad_label"),
        ({"label": "٣"}, "bad_label"),
        ({"label": "7" * 5000}, "bad_label"),
        ({"label": " 3"}, "bad_label"),
        ({"label": "03"}, "bad_label"),
        ({"label": "+3"}, "bad_label"),
        ({"label": ["3"]}, "bad_label"),
        ({"label": 3, "predicted": "𝟟"}, "bad_predicted"),
        ({"label": 3, "predicted": "9" * 5000}, "bad_predicted"),
        ({"label": 3, "model": ""}, "bad_model"),
        ({"label": 3, "model": "mnist mlp"}, "bad_model"),
        ({"label": 3, "model": "mnist-mlp-é"}, "bad_model"),
        ({"label": 3, "model": ["m"]}, "bad_model"),
        ({"label": 3, "source": ["page"]}, "bad_source"),
        ({"label": 3, "source": "x" * 5000}, "bad_source"),
    ],
)
def test_fields_are_checked(client, db, fields, code):
    response = client.post("/feedback", json={"image": B64, **fields})
    if code is None:
        assert response.status_code == 201
        return
    assert (response.status_code, response.json["error"]["code"]) == (400, code)
    assert len(response.json["error"]["message"]) < 200
    assert open_store(db).corrections() == []


@pytest.mark.parametrize("label", ["²", "𝟟", "7" * 5000, "", "3.0"])
def test_form_fields_are_checked_as_strictly(client, db, label):
    form = {"image": (io.BytesIO(PNG), "one.png"), "label": label, "predicted": "1"}
    response = client.post("/feedback", data=form)
    assert (response.status_code, response.json["error"]["code"]) == (400, "bad_label")
    assert open_store(db).corrections() == []


def test_images_fail_as_they_do_for_predict(client, db):
    blank = base64.b64encode(encode(Image.new("L", (40, 40), 255))).decode()
    cases = [
        ({"json": {"image": "not base64!", "label": 1}}, 400, "bad_base64"),
        ({"json": {"image": base64.b64encode(b"\x89PNG junk").decode(), "label": 1}}, 400, "bad_image"),
        ({"json": {"image": blank, "label": 1}}, 422, "no_digit_found"),
        ({"json": {"label": 1}}, 400, "bad_request"),
        ({"data": {"label": "1"}, "content_type": "multipart/form-data"}, 400, "missing_image"),
        ({"data": PNG, "content_type": "image/png"}, 415, "unsupported_media_type"),
    ]
    for sent, status, code in cases:
        response = client.post("/feedback", **sent)
        assert (response.status_code, response.json["error"]["code"]) == (status, code), sent
    assert open_store(db).corrections() == []


def test_off_unless_a_database_is_named():
    client = create_app().test_client()
    assert client.get("/model").json["feedback"] is False
    response = client.post("/feedback", json={"image": B64, "label": 1})
    assert (response.status_code, response.json["error"]["code"]) == (404, "feedback_off")


def test_on_says_so(client):
    assert client.get("/model").json["feedback"] is True


def test_storage_down_is_a_503_while_predict_keeps_working(tmp_path, caplog):
    (tmp_path / "a-file").write_text("")
    client = create_app({"FEEDBACK_DB": str(tmp_path / "a-file" / "db")}).test_client()
    with caplog.at_level(logging.ERROR, "mnist_mlp.service.feedback"):
        response = client.post("/feedback", json={"image": B64, "label": 1})
    assert (response.status_code, response.json["error"]["code"]) == (503, "feedback_unavailable")
    assert [r.getMessage() for r in caplog.records if "feedback not stored" in r.getMessage()] != []
    assert client.post("/predict", data=PNG, content_type="image/png").status_code == 200


def test_each_client_is_rate_limited_on_its_own(db):
    client = create_app({"FEEDBACK_DB": db, "FEEDBACK_BURST": 2, "FEEDBACK_RATE": 0.01}).test_client()
    sent = {"json": {"image": B64, "label": 1}}
    statuses = [client.post("/feedback", **sent).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    limited = client.post("/feedback", **sent)
    assert int(limited.headers["Retry-After"]) >= 1 and limited.json["error"]["code"] == "too_many_requests"
    other = client.post("/feedback", environ_base={"REMOTE_ADDR": "10.1.2.3"}, **sent)
    assert other.status_code == 201
    assert len(open_store(db).corrections()) == 3


@pytest.mark.parametrize(
    ("hops", "limited"),
    [
        (0, [201, 429, 429]),  # the header is ignored: a client cannot give itself a fresh bucket
        (1, [201, 201, 429]),  # behind one proxy: its last entry is the client, what came before is not
    ],
)
def test_behind_a_proxy_each_forwarded_client_has_its_own_bucket(db, hops, limited):
    app = create_app({"FEEDBACK_DB": db, "FEEDBACK_BURST": 1, "FEEDBACK_RATE": 0.01, "PROXY_HOPS": hops})
    proxy = {"REMOTE_ADDR": "10.9.9.9"}
    sent = {"json": {"image": B64, "label": 1}, "environ_base": proxy}
    # the third: client .1 wrote the header itself, naming .2, and the proxy appended its real address
    forwarded = ["203.0.113.1", "203.0.113.2", "203.0.113.2, 203.0.113.1"]
    statuses = [
        app.test_client().post("/feedback", headers={"X-Forwarded-For": ip}, **sent).status_code
        for ip in forwarded
    ]
    assert statuses == limited


def test_a_bucket_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=1, clock=lambda: now[0])
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.wait("a", take=False) == 0.0
    assert limiter.wait("a", take=False) == 0.0  # looking takes nothing
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a", take=False) == pytest.approx(0.5)


def test_ipv6_clients_are_limited_by_their_64(db):
    client = create_app({"FEEDBACK_DB": db, "FEEDBACK_BURST": 2, "FEEDBACK_RATE": 0.01}).test_client()
    sent = {"json": {"image": B64, "label": 1}}
    addresses = [
        "2001:db8:1:2::1",
        "2001:db8:1:2:ffff:ffff:ffff:ffff",
        "2001:db8:1:2:3:4:5:6",
        "2001:db8:1:3::1",
    ]
    statuses = [
        client.post("/feedback", environ_base={"REMOTE_ADDR": a}, **sent).status_code for a in addresses
    ]
    assert statuses == [201, 201, 429, 201]  # the fourth is the next /64: another client


def test_the_page_offers_corrections_only_when_feedback_is_on(client):
    on = client.get("/").get_data(as_text=True)
    off = create_app().test_client().get("/").get_data(as_text=True)
    assert 'id="feedback"' in on and "feedback.js" in on and on.count('class="feedback-digit"') == 10
    assert "feedback" not in off
