"""What the store accepts, as properties (Hypothesis), on both back ends: every field is strict
(types, digits 0-9, bounded printable ids, a 16-hex-digit client key); a correction is stored
exactly as given or refused with InvalidCorrection before the database, never anything else."""

import base64

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_mlp.data.corrections import open_store
from mnist_mlp.data.corrections.store import (
    MAX_MODEL_ID,
    MAX_ORIGINAL_BYTES,
    Correction,
    InvalidCorrection,
)
from mnist_mlp.service import create_app
from tests.feedback_db import query
from tests.images import drawn_digit, encode

MODEL_IDS = st.from_regex(r"[\x21-\x7e]{1,100}", fullmatch=True)
CLIENT_KEYS = st.from_regex(r"[0-9a-f]{16}", fullmatch=True)
# What the store accepts...
VALID = {
    "pixels": st.integers(0, 255).map(lambda v: np.full((28, 28), v, np.uint8)),
    "original": st.one_of(st.binary(max_size=64), st.just(b"x" * (MAX_ORIGINAL_BYTES + 1))),
    "label": st.integers(0, 9),
    "predicted": st.integers(0, 9),
    "confidence": st.floats(0, 1),
    "model": MODEL_IDS,
    "source": st.sampled_from(["page", "api"]),
    "shown_predicted": st.one_of(st.none(), st.integers(0, 9)),
    "shown_model": st.one_of(st.none(), MODEL_IDS),
    "client": st.one_of(st.none(), CLIENT_KEYS),
}
# ... and what a caller might pass instead (some of it valid too).
NUMBERS = st.one_of(
    st.integers(-3, 12), st.integers(), st.booleans(), st.floats(), st.text(max_size=3), st.none()
)
TEXTS = st.one_of(st.text(max_size=MAX_MODEL_ID + 5), st.binary(max_size=5), st.integers(), st.none())
ANY = {
    "pixels": st.sampled_from(
        [
            np.zeros((27, 28), np.uint8),
            np.zeros((28, 28), np.float32),
            np.zeros(784, np.uint8),
            [0] * 784,
            None,
        ]
    ),
    "original": st.one_of(st.text(max_size=3), st.none(), st.builds(bytearray, st.binary(max_size=3))),
    "label": NUMBERS,
    "predicted": NUMBERS,
    "confidence": st.one_of(st.floats(), st.integers(-1, 2), st.booleans(), st.text(max_size=2)),
    "model": TEXTS,
    "source": st.one_of(st.sampled_from(["email", "", "PAGE", "page "]), st.integers()),
    "shown_predicted": NUMBERS,
    "shown_model": TEXTS,
    "client": st.one_of(st.text(alphabet="0123456789abcdefABCDEF:. ", max_size=20), st.integers()),
}


@st.composite
def corrections(draw):
    """A valid correction with, most of the time, one field replaced by anything."""
    fields = {name: draw(strategy) for name, strategy in VALID.items()}
    changed = draw(st.one_of(st.none(), st.sampled_from(sorted(ANY))))
    if changed:
        fields[changed] = draw(ANY[changed])
    return Correction(**fields)


def digit(value):
    return type(value) is int and 0 <= value <= 9


def model_id(value):
    return type(value) is str and 1 <= len(value) <= MAX_MODEL_ID and all("!" <= c <= "~" for c in value)


def client_key(value):
    return type(value) is str and len(value) == 16 and set(value) <= set("0123456789abcdef")


def accepted(c):
    """The rules, written out again: what the store must accept and nothing else."""
    pixels = c.pixels
    return (
        isinstance(pixels, np.ndarray)
        and (pixels.shape, pixels.dtype) == ((28, 28), np.uint8)
        and type(c.original) is bytes
        and digit(c.label)
        and digit(c.predicted)
        and (c.shown_predicted is None or digit(c.shown_predicted))
        and type(c.confidence) in (int, float)
        and 0 <= c.confidence <= 1  # NaN is not
        and c.source in ("page", "api")
        and model_id(c.model)
        and (c.shown_model is None or model_id(c.shown_model))
        and (c.client is None or client_key(c.client))
    )


def test_a_correction_is_stored_as_given_or_refused_before_the_database(feedback_db):
    store = open_store(feedback_db)
    store.prepare()
    seen = {"stored": 0, "refused": 0}

    def count():
        return query(feedback_db, "SELECT COUNT(*) FROM corrections")[0][0]

    @settings(max_examples=200, deadline=None)
    @given(corrections())
    def check(correction):
        if not accepted(correction):
            before = count()
            try:
                store.add(correction)
            except InvalidCorrection:
                seen["refused"] += 1
            else:
                raise AssertionError(f"stored what it must refuse: {correction}")
            assert count() == before
            return
        row_id = store.add(correction)
        seen["stored"] += 1
        (stored,) = [r for r in store.corrections() if r.id == row_id]
        assert (stored.label, stored.predicted, stored.model, stored.source, stored.client) == (
            correction.label,
            correction.predicted,
            correction.model,
            correction.source,
            correction.client,
        )
        # kept to 6 decimals, and PostgreSQL's REAL (4 bytes) gives it back to float32 precision
        confidence = np.float32(round(correction.confidence, 6))
        assert np.float32(stored.confidence) == confidence and stored.status == "pending"
        np.testing.assert_array_equal(stored.pixels, correction.pixels)
        sql = f"SELECT shown_predicted, shown_model, original FROM corrections WHERE id = {row_id}"
        kept = correction.original if len(correction.original) <= MAX_ORIGINAL_BYTES else None
        assert query(feedback_db, sql) == [(correction.shown_predicted, correction.shown_model, kept)]

    check()
    assert min(seen.values()) >= 20, seen  # both sides of every rule were tried


def test_any_model_id_a_client_sends_is_a_201_or_a_400(feedback_db):
    """`model` is what the client says it was shown: any JSON string, never a 5xx."""
    client = create_app({"FEEDBACK_DB": feedback_db, "FEEDBACK_BURST": 1_000_000}).test_client()
    image = base64.b64encode(encode(drawn_digit())).decode()

    @settings(max_examples=60, deadline=None)
    @given(st.text(max_size=MAX_MODEL_ID + 2))
    def check(model):
        response = client.post("/feedback", json={"image": image, "label": 3, "model": model})
        assert response.status_code == (201 if model_id(model) else 400), (model, response.json)

    check()
