"""Hypothesis-generated bodies, headers and content types against /predict: never a 5xx."""

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.images import drawn_digit, encode
from tests.service.strategies import json_values

CONTENT_TYPES = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "application/octet-stream",
    "application/json",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "text/plain",
    "",
]
SEEDS = [encode(drawn_digit(), fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP")]
# Header values a client can send at all (the test client itself refuses newlines).
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def app_settings():
    return {"MAX_PIXELS": 200_000, "MAX_CONTENT_LENGTH": 200_000}


def mutated_image():
    """Real image files with a byte range overwritten or cut off: deep into the decoders."""
    return st.builds(
        lambda seed, at, junk, cut: (seed[:at] + junk + seed[at + len(junk) :])[: cut or None],
        st.sampled_from(SEEDS),
        st.integers(0, 400),
        st.binary(max_size=16),
        st.integers(0, 2000),
    )


def assert_not_5xx(response):
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.json["error"]["code"]


@FUZZ
@given(
    body=st.binary(max_size=2000) | mutated_image(),
    content_type=st.sampled_from(CONTENT_TYPES) | HEADER_TEXT,
)
def test_raw_bodies(client, body, content_type):
    assert_not_5xx(client.post("/predict", data=body, headers={"Content-Type": content_type}))


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "Content-Type",
                "Content-Length",
                "Transfer-Encoding",
                "Accept",
                "X-Request-ID",
                "Content-Encoding",
            ]
        ),
        HEADER_TEXT,
    ),
    body=st.binary(max_size=300),
    query=st.sampled_from(["", "?preview=1", "?preview=%ff", "?preview=1&preview=0"]),
)
def test_headers(client, headers, body, query):
    assert_not_5xx(client.post("/predict" + query, data=body, headers=headers))


@FUZZ
@given(
    field=st.sampled_from(["image", "images", "input", "inputs", "other"]),
    value=json_values() | mutated_image().map(lambda b: base64.b64encode(b).decode()),
    batch=st.booleans(),
)
def test_json_bodies(client, field, value, batch):
    assert_not_5xx(client.post("/predict?preview=1", json={field: [value] if batch else value}))


@FUZZ
@given(
    parts=st.lists(
        st.tuples(st.sampled_from(["image", "images", "x"]), st.binary(max_size=300) | mutated_image()),
        max_size=4,
    )
)
def test_multipart_bodies(client, parts):
    from io import BytesIO

    data = {}
    for name, blob in parts:
        data.setdefault(name, []).append((BytesIO(blob), "f"))
    assert_not_5xx(client.post("/predict", data=data, content_type="multipart/form-data"))
