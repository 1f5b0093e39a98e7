"""The OpenAPI document cannot drift from the code: real answers of every route and every
documented status validate against the document's schemas, and every documented status is
provoked here (a new route or status in either place fails the coverage test): in process, and
on the real server for what its edge answers before the app.

The document's response objects are closed (`unevaluatedProperties: false`), so a field the
code adds or drops without the document is caught too. Accepted JSON requests are checked
against the documented request schemas as well.
"""

import base64
import hashlib
import http.client
import io
import json
import urllib.parse

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from PIL import Image

from mnist_mlp.model import DEFAULT_WEIGHTS
from mnist_mlp.model.version import project_version
from mnist_mlp.service import create_app
from mnist_mlp.service.clients import client_key
from tests.images import drawn_digit, encode
from tests.live_server import running

PNG = encode(drawn_digit())
B64 = base64.b64encode(PNG).decode()
BLANK = encode(Image.new("L", (50, 50), 255))
INPUT = np.random.default_rng(0).random(784).round(3).tolist()
ROWS = np.reshape(INPUT, (28, 28)).tolist()
TOO_MANY_PIXELS = encode(Image.new("L", (1100, 1000)))
TOO_MANY_PIXELS_B64 = base64.b64encode(TOO_MANY_PIXELS).decode()
BLANK_B64 = base64.b64encode(BLANK).decode()
# Large enough that reading one takes longer than the SLOW app's whole REQUEST_BUDGET
LARGE_PNG = encode(drawn_digit(size=(600, 800)))
# The statuses that need another app: feedback off, its database down, the client rate limited, a
# request budget too short for a batch, a worker loading new weights, a full store. Each exchange
# names its app by the client address it comes from (the app is chosen by it below).
OFF, DOWN, DRAINED, SLOW, LOADING, FULL = ({"REMOTE_ADDR": f"10.0.0.{n}"} for n in range(1, 7))
MAX_BATCH = 3
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": "https://elsewhere.example"}
MODEL_ID = "mnist-mlp-" + hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()[:12]
ETAG = f'"{MODEL_ID}-2-63"'


def v2(n=2, **changes):
    tensor = {"name": "input", "shape": [n, 784], "datatype": "FP32", "data": INPUT * n, **changes}
    return {"id": "r1", "inputs": [tensor]}


def raw(data, content_type="image/png"):
    return {"data": data, "content_type": content_type}


def multipart(*blobs):
    return {"data": {"image": [(io.BytesIO(blob), f"{i}.png") for i, blob in enumerate(blobs)]}}


# (method, documented path, URL, request keyword arguments, status the code answers)
EXCHANGES = [
    ("post", "/predict", "/predict", raw(PNG), 200),
    (
        "post",
        "/predict",
        "/predict?preview=1",
        {"data": PNG, "content_type": "application/octet-stream"},
        200,
    ),
    ("post", "/predict", "/predict", multipart(PNG), 200),
    ("post", "/predict", "/predict?preview=true", multipart(PNG, PNG), 200),
    ("post", "/predict", "/predict", {"json": {"image": "data:image/png;base64," + B64}}, 200),
    ("post", "/predict", "/predict", {"json": {"images": [B64, B64]}}, 200),
    ("post", "/predict", "/predict", {"json": {"input": INPUT}}, 200),
    (
        "post",
        "/predict",
        "/predict",
        {"json": {"inputs": [INPUT, np.reshape(INPUT, (28, 28)).tolist()]}},
        200,
    ),
    ("post", "/predict", "/predict", raw(b"\x89PNG garbage"), 400),
    ("post", "/predict", "/predict", {**raw(PNG), "headers": CROSS_SITE}, 403),
    ("post", "/predict", "/predict", {"json": {"input": [2.0] * 784}}, 400),
    ("post", "/predict", "/predict", {"json": {"images": [B64] * (MAX_BATCH + 1)}}, 413),
    (
        "post",
        "/predict",
        "/predict",
        {"data": encode(Image.new("L", (1100, 1000))), "content_type": "image/png"},
        413,
    ),
    ("post", "/predict", "/predict", raw(b"hello", "text/plain"), 415),
    ("post", "/predict", "/predict", raw(BLANK), 422),
    ("post", "/predict", "/predict", {**multipart(LARGE_PNG, LARGE_PNG), "environ_base": SLOW}, 503),
    ("post", "/predict", "/predict?explain=1", raw(PNG), 200),
    ("get", "/model/units/{layer}/{unit}.png", "/model/units/1/0.png", {}, 200),
    (
        "get",
        "/model/units/{layer}/{unit}.png",
        "/model/units/2/63.png",
        {"headers": {"If-None-Match": ETAG}},
        304,
    ),
    (
        "get",
        "/model/units/{layer}/{unit}.png",
        "/model/units/2/63.png",
        {"headers": {"If-Match": '"another-model-2-63"'}},
        412,
    ),
    ("get", "/model/units/{layer}/{unit}.png", "/model/units/3/0.png", {}, 404),
    ("get", "/healthz", "/healthz", {}, 200),
    ("get", "/readyz", "/readyz", {}, 200),
    ("get", "/readyz", "/readyz", {"environ_base": LOADING}, 503),
    ("get", "/model", "/model", {}, 200),
    ("get", "/metrics", "/metrics", {}, 200),
    ("get", "/openapi.json", "/openapi.json", {}, 200),
    ("get", "/model/card", "/model/card", {}, 200),
    ("get", "/docs", "/docs", {}, 200),
    ("get", "/v2", "/v2", {}, 200),
    (
        "post",
        "/feedback",
        "/feedback",
        {"json": {"image": B64, "label": 7, "predicted": 1, "source": "page"}},
        201,
    ),
    ("post", "/feedback", "/feedback", {"data": {"image": (io.BytesIO(PNG), "a.png"), "label": "7"}}, 201),
    ("post", "/feedback", "/feedback", {"json": {"image": B64, "label": 10}}, 400),
    ("post", "/feedback", "/feedback", {"json": {"image": B64, "label": 7}, "headers": CROSS_SITE}, 403),
    ("post", "/feedback", "/feedback", {"json": {"image": B64, "label": 7}, "environ_base": OFF}, 404),
    ("post", "/feedback", "/feedback", {"json": {"image": TOO_MANY_PIXELS_B64, "label": 7}}, 413),
    ("post", "/feedback", "/feedback", raw(PNG), 415),
    ("post", "/feedback", "/feedback", {"json": {"image": BLANK_B64, "label": 7}}, 422),
    ("post", "/feedback", "/feedback", {"json": {"image": B64, "label": 7}, "environ_base": DRAINED}, 429),
    ("post", "/feedback", "/feedback", {"json": {"image": B64, "label": 7}, "environ_base": DOWN}, 503),
    ("post", "/feedback", "/feedback", {"json": {"image": B64, "label": 7}, "environ_base": FULL}, 507),
    ("get", "/v2/health/live", "/v2/health/live", {}, 200),
    ("get", "/v2/health/ready", "/v2/health/ready", {}, 200),
    ("get", "/v2/health/ready", "/v2/health/ready", {"environ_base": LOADING}, 503),
    ("get", "/v2/models/{name}", "/v2/models/mnist", {}, 200),
    ("get", "/v2/models/{name}", "/v2/models/other", {}, 404),
    ("get", "/v2/models/{name}/versions/{version}", f"/v2/models/mnist/versions/{MODEL_ID}", {}, 200),
    (
        "get",
        "/v2/models/{name}/versions/{version}",
        "/v2/models/mnist/versions/mnist-mlp-000000000000",
        {},
        404,
    ),
    ("get", "/v2/models/{name}/ready", "/v2/models/mnist/ready", {}, 200),
    ("get", "/v2/models/{name}/ready", "/v2/models/other/ready", {}, 404),
    ("post", "/v2/models/{name}/infer", "/v2/models/mnist/infer", {"json": v2()}, 200),
    ("post", "/v2/models/{name}/infer", "/v2/models/mnist/infer", {"json": v2(datatype="INT8")}, 400),
    ("post", "/v2/models/{name}/infer", "/v2/models/mnist/infer", {"json": v2(), "headers": CROSS_SITE}, 403),
    ("post", "/v2/models/{name}/infer", "/v2/models/other/infer", {"json": v2()}, 404),
    ("post", "/v2/models/{name}/infer", "/v2/models/mnist/infer", {"json": v2(n=MAX_BATCH + 1)}, 413),
    (
        "post",
        "/v2/models/{name}/infer",
        "/v2/models/mnist/infer",
        {"json": {**v2(n=MAX_BATCH), "parameters": {"explain": True}}, "environ_base": SLOW},
        503,
    ),
    (
        "post",
        "/v2/models/{name}/infer",
        "/v2/models/mnist/infer",
        {"data": b"\0" * 8, "headers": {"Inference-Header-Content-Length": "0"}},
        415,
    ),
]


# What the server's edge answers before the app sees a request, provoked on the real server:
# (method, documented path, URL, status), each a body that stops short of its Content-Length.
EDGE_BODY_TIMEOUT = 0.5
EDGE_EXCHANGES = [
    ("post", "/predict", "/predict", 408),
    ("post", "/feedback", "/feedback", 408),
    ("post", "/v2/models/{name}/infer", "/v2/models/mnist/infer", 408),
]


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    """The app for most exchanges (feedback on), and the ones for OFF, DOWN, DRAINED, SLOW, LOADING and
    FULL clients."""
    from mnist_mlp.service.worker import Worker

    folder = tmp_path_factory.mktemp("feedback")
    (folder / "a-file").write_text("")
    limits = {"MAX_BATCH": MAX_BATCH, "MAX_PIXELS": 1_000_000}
    drained = create_app(
        {**limits, "FEEDBACK_DB": str(folder / "db"), "FEEDBACK_BURST": 1, "FEEDBACK_RATE": 0.001}
    )
    spent = client_key(drained.config["FEEDBACK_SECRET"], DRAINED["REMOTE_ADDR"])
    drained.extensions["feedback_limiter"].wait(spent)  # that client's one token is spent
    loading = create_app(limits)
    Worker(loading, shared=None).loading = True  # as while it loads new weights
    return {
        None: create_app({**limits, "FEEDBACK_DB": str(folder / "feedback.sqlite3")}),
        OFF["REMOTE_ADDR"]: create_app(limits),
        DOWN["REMOTE_ADDR"]: create_app({**limits, "FEEDBACK_DB": str(folder / "a-file" / "db")}),
        FULL["REMOTE_ADDR"]: create_app(
            {**limits, "FEEDBACK_DB": str(folder / "full.db"), "FEEDBACK_MAX_ROWS": 0}
        ),
        DRAINED["REMOTE_ADDR"]: drained,
        SLOW["REMOTE_ADDR"]: create_app({**limits, "REQUEST_BUDGET": 0.001}),
        LOADING["REMOTE_ADDR"]: loading,
    }


@pytest.fixture(scope="module")
def client(apps):
    return apps[None].test_client()


def exchange(apps, url, method, sent):
    """The answer to one exchange, from the app its client address names."""
    app = apps[sent.get("environ_base", {}).get("REMOTE_ADDR")]
    return app.test_client().open(url, method=method.upper(), **sent)


@pytest.fixture(scope="module")
def document(client):
    return client.get("/openapi.json").json


def schema_validator(document, schema):
    """A 2020-12 validator for `schema`, its #/components/... references resolved in `document`."""
    return Draft202012Validator({**schema, "components": document["components"]})


def documented_response(document, path, method, status):
    response = document["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def test_the_document_is_valid_openapi_with_the_project_version(document):
    validate(document)
    assert document["info"]["version"] == project_version()


def test_every_documented_status_of_every_route_is_exercised(document):
    documented = {
        (method, path, int(status))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    }
    exercised = {(method, path, status) for method, path, _, _, status in EXCHANGES}
    exercised |= {(method, path, status) for method, path, _, status in EDGE_EXCHANGES}
    assert exercised == documented


def test_real_answers_match_the_documented_schemas(apps, document):
    for method, path, url, sent, status in EXCHANGES:
        where = f"{method} {url} -> {status}"
        response = exchange(apps, url, method, sent)
        assert response.status_code == status, (where, response.get_data(as_text=True))
        content = documented_response(document, path, method, status).get("content")
        if content is None:  # 304, 412: no body
            assert response.get_data() == b"", where
            continue
        assert response.mimetype in content, f"{where}: {response.mimetype} is not documented"
        if response.mimetype == "application/json":
            body = response.json
        elif response.mimetype.startswith("image/"):
            assert response.get_data().startswith(b"\x89PNG"), where
            body = response.get_data().decode("latin-1")  # a binary string for the schema
        else:
            body = response.get_data(as_text=True)
        schema = content[response.mimetype]["schema"]
        assert [e.message for e in schema_validator(document, schema).iter_errors(body)] == [], where
        if status in (200, 201) and "json" in sent:
            accepted = document["paths"][path][method]["requestBody"]["content"]["application/json"]
            assert schema_validator(document, accepted["schema"]).is_valid(sent["json"]), where


def test_the_edges_answers_match_the_documented_schemas(document):
    with running(BODY_TIMEOUT=str(EDGE_BODY_TIMEOUT)) as (_, base):
        address = urllib.parse.urlsplit(base)
        for method, path, url, status in EDGE_EXCHANGES:
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            connection.putrequest(method.upper(), url)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", "100")
            connection.endheaders(b'{"in')
            response = connection.getresponse()
            answer = (response.status, response.getheader("Content-Type"), response.read())
            connection.close()
            where = f"{method} {url} -> {status}"
            assert answer[:2] == (status, "application/json"), (where, answer)
            schema = documented_response(document, path, method, status)["content"]["application/json"]
            errors = schema_validator(document, schema["schema"]).iter_errors(json.loads(answer[2]))
            assert [e.message for e in errors] == [], where


def test_the_closed_schemas_catch_a_field_the_document_does_not_name(client, document):
    """The check above can fail: an answer with one field more is refused."""
    body = {**client.post("/predict", data=PNG, content_type="image/png").json, "extra": 1}
    schema = documented_response(document, "/predict", "post", 200)["content"]["application/json"]["schema"]
    assert not schema_validator(document, schema).is_valid(body)
    del body["extra"], body["confidence"]
    assert not schema_validator(document, schema).is_valid(body)
