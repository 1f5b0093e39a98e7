"""Hypothesis-generated feedback fields and /v2 inference bodies: never a 5xx, errors in the right
shape, and whatever is accepted is exactly what the documents allow."""

import base64
import io
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.images import drawn_digit, encode
from tests.service.strategies import json_values

PNG = encode(drawn_digit())
B64 = base64.b64encode(PNG).decode()
DIGITS = [str(d) for d in range(10)]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
V2 = "/v2/models/mnist/infer"
MAX_BATCH = 4


# Field values a client may send: digits in every form str.isdigit takes, numbers, anything
DIGIT_LIKE = st.sampled_from(["²", "³", "𝟟", "٣", "७", "⁹", "①", "7" * 5000, " 3", "3\n", "03", "-0"])
FIELD = (
    st.integers(-20, 20)
    | st.sampled_from(DIGITS)
    | DIGIT_LIKE
    | st.text(max_size=30)
    | st.sampled_from(["page", "api", "mnist-mlp-0123abcd4567"])
    | json_values()
)


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory):
    db = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    return {
        "FEEDBACK_DB": str(db),
        "FEEDBACK_RATE": 1e6,
        "FEEDBACK_BURST": 1_000_000,
        "MAX_BATCH": MAX_BATCH,
    }


def stored_count(app):
    return len(app.extensions["feedback"].corrections())


def is_digit(value):
    return (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9) or value in DIGITS


def assert_json_error(response, v2=False):
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: how often each came
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        error = response.json["error"]
        assert isinstance(error, str) if v2 else set(error) == {"code", "message"}, error


def sometimes_valid(valid):
    """Valid values about half of the time, anything else the other half."""
    return st.one_of(valid, FIELD)


DIGIT = st.integers(0, 9) | st.sampled_from(DIGITS)
JSON_FIELDS = st.fixed_dictionaries(
    {"label": sometimes_valid(DIGIT)},
    optional={
        "predicted": sometimes_valid(DIGIT | st.none()),
        "model": sometimes_valid(
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=101)
        ),
        "source": sometimes_valid(st.sampled_from(["page", "api"])),
        "other": FIELD,
    },
)
FORM_TEXT = st.text(max_size=40).filter(lambda v: "\0" not in v)  # a form field cannot carry NUL
FORM_FIELDS = st.fixed_dictionaries(
    {"label": st.sampled_from(DIGITS) | FORM_TEXT},
    optional={
        "predicted": st.sampled_from(DIGITS) | FORM_TEXT,
        "model": st.just("mnist-mlp-0123abcd4567") | FORM_TEXT,
        "source": st.sampled_from(["page", "api"]) | FORM_TEXT,
    },
)


def expected_status(fields):
    """201 if every field is what the documents allow, else 400 (the image is always a good one)."""
    model = fields.get("model")
    valid = (
        is_digit(fields.get("label"))
        and (fields.get("predicted") is None or is_digit(fields["predicted"]))
        and fields.get("source") in (None, "page", "api")
        and (model is None or isinstance(model, str) and re.fullmatch(r"[\x21-\x7e]{1,100}", model))
    )
    return 201 if valid else 400


def assert_stored_or_not(app, response, fields, before):
    if response.status_code == 201:
        row = app.extensions["feedback"].corrections()[-1]
        assert row.id == response.json["id"] and row.label == int(fields["label"])
    else:
        assert stored_count(app) == before


@FUZZ
@given(fields=JSON_FIELDS)
def test_json_feedback_fields(app, client, fields):
    before = stored_count(app)
    response = client.post("/feedback", json={"image": B64, **fields})
    assert_json_error(response)
    assert response.status_code == expected_status(fields), (fields, response.json)
    assert_stored_or_not(app, response, fields, before)


@FUZZ
@given(fields=FORM_FIELDS)
def test_multipart_feedback_fields(app, client, fields):
    before = stored_count(app)
    response = client.post("/feedback", data={"image": (io.BytesIO(PNG), "a.png"), **fields})
    assert_json_error(response)
    assert response.status_code == expected_status(fields), (fields, response.json)
    assert_stored_or_not(app, response, fields, before)


def tensors():
    """Input tensors close to valid ones, each part possibly replaced by anything."""
    rows = st.integers(1, MAX_BATCH) | st.integers(-1, MAX_BATCH + 2)
    return st.builds(
        lambda n, shape, datatype, data, name: {
            "name": name,
            "datatype": datatype,
            "shape": shape if shape is not None else [n, 784],
            "data": data if data is not None else np.zeros(max(n, 0) * 784).tolist(),
        },
        rows,
        st.none() | st.lists(st.integers(-2, 800), max_size=4) | json_values(),
        st.just("FP32") | st.sampled_from(["FP64", "INT8", "BYTES", ""]) | json_values(),
        st.none() | json_values() | st.lists(st.floats(), max_size=20),
        st.text(max_size=10) | json_values(),
    )


VALID_TENSOR = st.integers(1, MAX_BATCH).map(
    lambda n: {"name": "input", "datatype": "FP32", "shape": [n, 784], "data": [0.5] * (n * 784)}
)
OUTPUTS = st.lists(
    st.sampled_from(["probabilities", "digit", "explanation", "logits"]).map(lambda n: {"name": n}),
    max_size=4,
) | st.lists(json_values(), max_size=3)


@FUZZ
@given(
    inputs=st.tuples(VALID_TENSOR).map(list) | st.lists(tensors(), max_size=2) | json_values(),
    outputs=st.none() | OUTPUTS | json_values(),
    parameters=st.none() | st.fixed_dictionaries({"explain": st.booleans() | json_values()}) | json_values(),
    request_id=st.none() | st.text(max_size=300) | json_values(),
)
def test_v2_bodies(client, inputs, outputs, parameters, request_id):
    body = {"inputs": inputs}
    for key, value in (("outputs", outputs), ("parameters", parameters), ("id", request_id)):
        if value is not None:
            body[key] = value
    response = client.post(V2, json=body)
    assert_json_error(response, v2=True)
    if response.status_code == 200:
        names = [o["name"] for o in response.json["outputs"]]
        assert len(names) == len(set(names)) <= 3
        assert response.json.get("id") == request_id
        assert request_id is None or isinstance(request_id, str) and len(request_id) <= 256


@FUZZ
@given(body=json_values() | st.binary(max_size=300))
def test_v2_any_body(client, body):
    sent = {"data": body} if isinstance(body, bytes) else {"json": body}
    assert_json_error(client.post(V2, **sent), v2=True)
