"""Every route and every error status of the service, through Flask's test client."""

import base64
import io
import json
import re

import numpy as np
import pytest
from openapi_spec_validator import validate
from PIL import Image

from mnist_mlp.data.synth.render import page_export
from mnist_mlp.model import DEFAULT_WEIGHTS, MLP, save_weights
from mnist_mlp.service import StartupError, create_app
from mnist_mlp.service.errors import REQUEST_ID_HEADER
from tests.images import drawn_digit, encode

PNG = encode(drawn_digit())


@pytest.fixture(scope="module")
def app_settings():
    return {"MAX_BATCH": 4, "MAX_PIXELS": 1_000_000, "MAX_CONTENT_LENGTH": 2_000_000}


def assert_error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code


def assert_answer(answer):
    assert set(answer) >= {"digit", "confidence", "probabilities", "uncertain"}
    assert answer["digit"] in range(10) and len(answer["probabilities"]) == 10
    assert answer["confidence"] == max(answer["probabilities"])
    assert abs(sum(answer["probabilities"]) - 1) < 1e-4


def test_predict_raw_png_body(client):
    response = client.post("/predict", data=PNG, content_type="image/png")
    assert response.status_code == 200
    body = response.json
    assert_answer(body)
    assert body["digit"] == 1
    assert list(body)[:5] == ["digit", "confidence", "probabilities", "uncertain", "model"]
    assert body["model"].startswith("mnist-mlp-")


def test_predict_multipart_single_and_batch(client):
    one = client.post("/predict", data={"image": (io.BytesIO(PNG), "one.png")})
    assert one.status_code == 200 and one.json["digit"] == 1
    files = [(io.BytesIO(PNG), f"{i}.png") for i in range(3)]
    batch = client.post("/predict", data={"image": files})
    assert batch.status_code == 200
    assert len(batch.json["predictions"]) == 3 and "model" in batch.json


@pytest.mark.parametrize("prefix", ["", "data:image/png;base64,"])
def test_predict_json_image_and_images(client, prefix):
    encoded = prefix + base64.b64encode(PNG).decode()
    assert client.post("/predict", json={"image": encoded}).json["digit"] == 1
    batch = client.post("/predict", json={"images": [encoded, encoded]}).json
    assert [p["digit"] for p in batch["predictions"]] == [1, 1]


def test_predict_prepared_input_flat_and_rows(client):
    from mnist_mlp.data.imaging.preprocess import preprocess

    x = preprocess(PNG)
    flat = client.post("/predict", json={"input": x.tolist()}).json
    rows = client.post("/predict", json={"inputs": [x.reshape(28, 28).tolist()]}).json
    assert flat["digit"] == 1 and rows["predictions"][0]["digit"] == 1


def test_preview_is_the_28x28_input(client):
    body = client.post("/predict?preview=1", data=PNG, content_type="image/png").json
    header, data = body["preview"].split(",", 1)
    assert header == "data:image/png;base64"
    assert Image.open(io.BytesIO(base64.b64decode(data))).size == (28, 28)


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": b"\x89PNG garbage", "content_type": "image/png"}, 400, "bad_image"),
        ({"data": b"{not json", "content_type": "application/json"}, 400, "malformed_json"),
        ({"json": [1, 2]}, 400, "malformed_json"),
        ({"json": {"picture": "x"}}, 400, "bad_request"),
        ({"json": {"image": "@@@"}}, 400, "bad_base64"),
        ({"json": {"image": 5}}, 400, "bad_request"),
        ({"json": {"images": []}}, 400, "bad_request"),
        ({"json": {"input": [0.5] * 783}}, 400, "bad_input"),
        ({"json": {"input": [2.0] * 784}}, 400, "bad_input"),
        ({"json": {"input": ["a"] * 784}}, 400, "bad_input"),
        ({"json": {"input": [[0.1] * 28] * 27 + [[0.1]]}}, 400, "bad_input"),
        ({"data": {"file": (io.BytesIO(PNG), "x.png")}}, 400, "missing_image"),
        ({"json": {"images": [base64.b64encode(PNG).decode()] * 5}}, 413, "batch_too_large"),
        ({"data": b"x" * 2_000_001, "content_type": "image/png"}, 413, None),
        (
            {"data": encode(Image.new("L", (1200, 1000), 255)), "content_type": "image/png"},
            413,
            "image_too_large",
        ),
        ({"data": b"hello", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": b"hello"}, 415, "unsupported_media_type"),
        ({"data": PNG, "content_type": "image/tiff"}, 415, "unsupported_media_type"),
        ({"data": encode(drawn_digit(), "TIFF"), "content_type": "application/octet-stream"}, 415, None),
        ({"data": encode(Image.new("L", (50, 50), 255)), "content_type": "image/png"}, 422, "no_digit_found"),
    ],
    ids=lambda v: v if isinstance(v, str | int) else None,
)
def test_predict_errors(client, kwargs, status, code):
    assert_error(client.post("/predict", **kwargs), status, code)


def test_batch_error_names_the_image(client):
    blank = base64.b64encode(encode(Image.new("L", (50, 50), 255))).decode()
    response = client.post("/predict", json={"images": [base64.b64encode(PNG).decode(), blank]})
    assert_error(response, 422, "no_digit_found")
    assert response.json["error"]["message"].startswith("image 1:")


def test_not_found_and_method_not_allowed_are_json(client):
    assert_error(client.get("/nope"), 404, "not_found")
    response = client.get("/predict")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_unexpected_fault_is_a_logged_json_500(app, caplog, monkeypatch):
    classifier = app.extensions["classifier"]
    monkeypatch.setattr(classifier, "answers", lambda batch: 1 / 0)
    response = app.test_client().post(
        "/predict", data=PNG, content_type="image/png", headers={REQUEST_ID_HEADER: "abc-1"}
    )
    assert_error(response, 500, "internal_error")
    assert "abc-1" in response.json["error"]["message"]
    assert any("abc-1" in r.getMessage() and r.exc_info for r in caplog.records)


def test_request_id_is_returned(client):
    assert (
        client.get("/healthz", headers={REQUEST_ID_HEADER: "x" * 100}).headers[REQUEST_ID_HEADER] != "x" * 100
    )
    assert client.get("/healthz", headers={REQUEST_ID_HEADER: "req-7"}).headers[REQUEST_ID_HEADER] == "req-7"


def test_health_readiness_and_model(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json["status"] == "ready"
    model = client.get("/model").json
    assert model["architecture"]["layer_sizes"] == [784, 128, 64, 10]
    assert len(model["sha256"]) == 64 and model["id"] == f"mnist-mlp-{model['sha256'][:12]}"
    assert model["uncertain_threshold"] == model["metadata"].get("uncertain_threshold", 0.5)


def test_metrics_count_requests_and_digits(client):
    client.post("/predict", data=PNG, content_type="image/png")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'mnist_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'mnist_predictions_total{digit="1"}' in text
    assert "mnist_http_request_duration_seconds_bucket" in text and "mnist_model_info{" in text


def test_each_request_counts_once_in_its_route_method_and_status_series(client):
    from prometheus_client import REGISTRY

    def count(status):
        labels = {"route": "/predict", "method": "POST", "status": status}
        return REGISTRY.get_sample_value("mnist_http_requests_total", labels) or 0.0

    def observed():
        labels = {"route": "/predict"}
        return REGISTRY.get_sample_value("mnist_http_request_duration_seconds_count", labels) or 0.0

    before = count("200"), count("415"), observed()
    for _ in range(3):
        client.post("/predict", data=PNG, content_type="image/png")
    for _ in range(2):
        client.post("/predict", data=b"text", content_type="text/plain")
    assert (count("200"), count("415"), observed()) == (before[0] + 3, before[1] + 2, before[2] + 5)


def test_a_request_refused_before_its_timer_starts_makes_no_latency_series(client):
    """A cross-site write is refused before the timer starts: counted, with no empty histogram."""
    from prometheus_client import REGISTRY

    labels = {"route": "/admin/reload"}
    before = REGISTRY.get_sample_value("mnist_http_request_duration_seconds_count", labels)
    refused = client.post("/admin/reload", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    counted = {**labels, "method": "POST", "status": "403"}
    assert REGISTRY.get_sample_value("mnist_http_requests_total", counted)
    assert REGISTRY.get_sample_value("mnist_http_request_duration_seconds_count", labels) == before


def test_openapi_document_is_valid_and_lists_routes(app, client):
    document = client.get("/openapi.json").json
    validate(document)
    # The documented routes: all but the drawing page, static files (the page's and Swagger UI's)
    # and the operator's POST /admin/reload (docs/deployment.md, "New weights without a restart").
    unlisted = ("static", "page.index", "docs.static", "admin.reload")
    api = [r for r in app.url_map.iter_rules() if r.endpoint not in unlisted]
    rules = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in api}
    assert rules <= set(document["paths"])


def v2_request(n=2, shape=None, datatype="FP32"):
    data = np.random.default_rng(0).random((n, 784)).round(3)
    return {
        "id": "r1",
        "inputs": [
            {"name": "input", "shape": shape or [n, 784], "datatype": datatype, "data": data.ravel().tolist()}
        ],
    }


def test_v2_health_and_metadata(client):
    assert client.get("/v2/health/live").json == {"live": True}
    assert client.get("/v2/health/ready").json == {"ready": True}
    assert client.get("/v2/models/mnist/ready").json["ready"] is True
    meta = client.get("/v2/models/mnist").json
    assert meta["name"] == "mnist" and meta["inputs"][0]["datatype"] == "FP32"
    assert client.get("/v2").json["name"]


@pytest.mark.parametrize("shape", [[2, 784], [2, 28, 28]])
def test_v2_infer(client, shape):
    body = client.post("/v2/models/mnist/infer", json=v2_request(shape=shape)).json
    outputs = {o["name"]: o for o in body["outputs"]}
    assert body["id"] == "r1" and body["model_name"] == "mnist"
    assert outputs["probabilities"]["shape"] == [2, 10] and len(outputs["probabilities"]["data"]) == 20
    assert outputs["digit"]["datatype"] == "INT64" and len(outputs["digit"]["data"]) == 2


def test_v2_infer_selected_output_and_any_content_type(client):
    request = dict(v2_request(), outputs=[{"name": "digit"}])
    body = client.post("/v2/models/mnist/infer", data=json.dumps(request), content_type="text/plain").json
    assert [o["name"] for o in body["outputs"]] == ["digit"]


@pytest.mark.parametrize(
    ("request_body", "status"),
    [
        (v2_request(datatype="FP64"), 400),
        (v2_request(shape=[2, 100]), 400),
        (v2_request(shape=[3, 784]), 400),
        (v2_request(n=5), 413),
        ({"inputs": []}, 400),
        ("not an object", 400),
        (dict(v2_request(), outputs=[{"name": "logits"}]), 400),
        (dict(v2_request(), outputs=[{"name": "digit"}, {"name": "digit"}]), 400),
        (dict(v2_request(), outputs=[{"name": "probabilities"}] * 1000), 400),
        (dict(v2_request(), outputs=[{"name": ["digit"]}]), 400),
        (dict(v2_request(), outputs=[]), 400),
        (dict(v2_request(), id=7), 400),
        (dict(v2_request(), id="x" * 257), 400),
        (dict(v2_request(), id={"nested": ["id"] * 1000}), 400),
    ],
)
def test_v2_infer_errors(client, request_body, status):
    response = client.post("/v2/models/mnist/infer", json=request_body)
    assert response.status_code == status
    assert isinstance(response.json["error"], str)


def test_v2_unknown_model(client):
    response = client.get("/v2/models/resnet")
    assert response.status_code == 404 and isinstance(response.json["error"], str)


def test_v2_the_loaded_version_resolves_and_no_other(client):
    loaded = client.get("/model").json["id"]
    meta = client.get(f"/v2/models/mnist/versions/{loaded}").json
    assert meta == client.get("/v2/models/mnist").json and meta["versions"] == [loaded]
    other = client.get("/v2/models/mnist/versions/mnist-mlp-000000000000")
    assert other.status_code == 404 and "mnist-mlp-000000000000" in other.json["error"]
    assert client.get(f"/v2/models/resnet/versions/{loaded}").status_code == 404


@pytest.mark.parametrize("problem", ["missing", "corrupt", "wrong-shape"])
def test_create_app_refuses_unusable_weights(tmp_path, problem):
    path = tmp_path / "w.npz"
    if problem == "corrupt":
        path.write_bytes(DEFAULT_WEIGHTS.read_bytes()[:1000])
    elif problem == "wrong-shape":
        save_weights(path, MLP((100, 10)))
    with pytest.raises(StartupError, match=r"^cannot load weights: .*w\.npz: "):
        create_app({"MODEL_PATH": str(path)})


def test_bad_setting_is_a_startup_error():
    with pytest.raises(StartupError, match="MAX_BATCH"):
        create_app({"MAX_BATCH": "many"})


def test_the_model_card_page_describes_the_served_weights(client):
    card = client.get("/model/card")
    assert card.status_code == 200 and card.mimetype == "text/html"
    assert "script-src 'self'" in card.headers["Content-Security-Policy"]
    text = card.get_data(as_text=True)
    model = client.get("/model").json
    assert model["id"] in text and model["sha256"] in text
    assert f"{100 * model['test_accuracy']:.2f}\u00a0%" in text and "784 → 128 → 64 → 10" in text


@pytest.mark.parametrize(
    "metadata",
    [{}, {"test_accuracy": "very-high", "train_config": "fast", "training_digits": {"by_kind": {"a": "b"}}}],
    ids=["none", "odd types"],
)
def test_the_model_card_of_weights_without_the_usual_metadata(tmp_path, metadata):
    """Weights trained elsewhere may lack any field, or hold another type: the card says what it can."""
    path = tmp_path / "bare.npz"
    save_weights(path, MLP((784, 100, 10)), metadata)
    card = create_app({"MODEL_PATH": str(path)}).test_client().get("/model/card")
    assert card.status_code == 200
    text = card.get_data(as_text=True)
    assert "784 → 100 → 10" in text and "carry no accuracy figures" in text and "very-high" not in text


@pytest.mark.parametrize(
    "lines", [[[(0.5, 0.5)]], [[(0.5, 0.5), (0.54, 0.5)]]], ids=["a dot", "a short tick"]
)
def test_a_dot_or_a_short_tick_is_no_digit(client, lines):
    """As for a blank image: 422, no digit, however the network would have read it."""
    response = client.post("/predict", data=encode(page_export(lines)), content_type="image/png")
    assert_error(response, 422, "no_digit_found")
    assert "dot" in response.json["error"]["message"]
