"""The `explanation` on /predict and /v2 infer, and GET /model/units/<layer>/<unit>.png."""

import base64
import io
import json

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.model import Classifier
from tests.images import drawn_digit, encode

PNG = encode(drawn_digit())
INPUT = preprocess(PNG).tolist()
B64 = base64.b64encode(PNG).decode("ascii")

# (keyword arguments of client.post, number of answers or None for a single answer)
FORMS = {
    "raw": ({"data": PNG, "content_type": "image/png"}, None),
    "multipart": ({"data": {"image": (io.BytesIO(PNG), "a.png")}}, None),
    "multipart batch": ({"data": {"image": [(io.BytesIO(PNG), f"{i}.png") for i in range(2)]}}, 2),
    "json image": ({"json": {"image": B64}}, None),
    "json images": ({"json": {"images": [B64, "data:image/png;base64," + B64, B64]}}, 3),
    "json input": ({"json": {"input": INPUT}}, None),
    "json input rows": ({"json": {"input": np.reshape(INPUT, (28, 28)).tolist()}}, None),
    "json inputs": ({"json": {"inputs": [INPUT, INPUT]}}, 2),
}


@pytest.fixture(scope="module")
def app_settings():
    return {"MAX_BATCH": 4}


def post(client, form, query=""):
    kwargs, _ = FORMS[form]
    if isinstance(kwargs.get("data"), dict):  # file objects are read once: rebuild them
        kwargs = {"data": {"image": [(io.BytesIO(PNG), f"{i}.png") for i in range(FORMS[form][1] or 1)]}}
    return client.post("/predict" + query, **kwargs)


def answers_of(body, count):
    return body["predictions"] if count else [body]


def decoded(data_url):
    assert data_url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(data_url.partition(",")[2])))


def assert_explanation(answer):
    why = answer["explanation"]
    assert list(why) == [
        "gradient",
        "contrast",
        "runner_up",
        "hidden",
        "logits",
        "heatmap",
        "contrast_heatmap",
    ]
    for name, size in [("gradient", 784), ("contrast", 784), ("logits", 10)]:
        assert len(why[name]) == size and all(isinstance(v, float) for v in why[name])
    assert [len(layer) for layer in why["hidden"]] == [128, 64]
    assert all(isinstance(v, float) and v >= 0 for layer in why["hidden"] for v in layer)
    assert isinstance(why["runner_up"], int) and why["runner_up"] != answer["digit"]
    assert int(np.argmax(why["logits"])) == answer["digit"]
    assert np.argsort(why["logits"])[-2] == why["runner_up"]
    for name in ("heatmap", "contrast_heatmap"):
        image = decoded(why[name])
        assert image.size == decoded(answer["preview"]).size == (28, 28) and image.mode == "RGBA"


@pytest.mark.parametrize("form", FORMS)
def test_every_input_form_explains_every_answer(client, form):
    response = post(client, form, "?explain=1&preview=1")
    assert response.status_code == 200, response.get_data(as_text=True)
    answers = answers_of(response.json, FORMS[form][1])
    assert len(answers) == (FORMS[form][1] or 1)
    for answer in answers:
        assert_explanation(answer)


@pytest.mark.parametrize("form", ["raw", "json inputs"])
def test_explained_answers_match_the_openapi_document(client, form):
    document = client.get("/openapi.json").json
    name = "BatchPrediction" if FORMS[form][1] else "Prediction"
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    Draft202012Validator(schema).validate(post(client, form, "?explain=1&preview=1").json)
    broken = post(client, form, "?explain=1").json
    answers_of(broken, FORMS[form][1])[0]["explanation"]["hidden"][1].append(0.0)  # 65 second-layer units
    assert not Draft202012Validator(schema).is_valid(broken)


@pytest.mark.parametrize("form", FORMS)
def test_without_explain_the_answer_is_unchanged_byte_for_byte(client, form):
    plain = post(client, form)
    assert post(client, form, "?explain=0").data == plain.data
    body = json.loads(plain.data)
    assert "explanation" not in json.dumps(body)
    explained = post(client, form, "?explain=1").json
    for answer in answers_of(explained, FORMS[form][1]):
        del answer["explanation"]
    assert json.dumps(explained, separators=(",", ":")) + "\n" == plain.get_data(as_text=True)


def test_without_explain_nothing_is_computed(client, monkeypatch):
    def refuse(self, batch):
        raise AssertionError("explanations computed though not asked for")

    monkeypatch.setattr(Classifier, "explanations", refuse)
    assert client.post("/predict", data=PNG, content_type="image/png").status_code == 200
    assert client.post("/v2/models/mnist/infer", json=v2_request(1)).status_code == 200


def test_the_explanation_keeps_full_float32_precision(client, app):
    why = post(client, "json input", "?explain=1").json["explanation"]
    expected = app.extensions["classifier"].explanations(np.array([INPUT], dtype=np.float32))[0]
    assert why["gradient"] == expected["gradient"] and why["logits"] == expected["logits"]


def v2_request(n, parameters=None):
    request = {"inputs": [{"name": "input", "shape": [n, 784], "datatype": "FP32", "data": INPUT * n}]}
    if parameters is not None:
        request["parameters"] = parameters
    return request


def test_v2_infer_explains_each_row_when_asked(client):
    plain = client.post("/v2/models/mnist/infer", json=v2_request(2))
    assert [o["name"] for o in plain.json["outputs"]] == ["probabilities", "digit"]
    assert client.post("/v2/models/mnist/infer", json=v2_request(2, {"explain": False})).data == plain.data
    body = client.post("/v2/models/mnist/infer", json=v2_request(2, {"explain": True})).json
    assert body["outputs"][:2] == plain.json["outputs"]
    output = body["outputs"][2]
    assert output["name"] == "explanation" and output["datatype"] == "BYTES" and output["shape"] == [2]
    digits = body["outputs"][1]["data"]
    components = client.get("/openapi.json").json["components"]
    Draft202012Validator({"$ref": "#/components/schemas/V2InferResponse", "components": components}).validate(
        body
    )
    explanation = Draft202012Validator({"$ref": "#/components/schemas/Explanation", "components": components})
    for digit, text in zip(digits, output["data"]):
        explanation.validate(json.loads(text))
        assert_explanation({"digit": digit, "explanation": json.loads(text), "preview": _preview()})


def _preview():
    return "data:image/png;base64," + base64.b64encode(encode(Image.new("L", (28, 28)))).decode("ascii")


@pytest.mark.parametrize("parameters", [{"explain": "yes"}, {"explain": 1}, ["explain"]])
def test_v2_rejects_a_malformed_explain_parameter(client, parameters):
    response = client.post("/v2/models/mnist/infer", json=v2_request(1, parameters))
    assert response.status_code == 400 and "explain" in response.json["error"]


@pytest.mark.parametrize("layer, unit", [(1, 0), (1, 127), (2, 0), (2, 63)])
def test_a_hidden_units_pattern_is_a_28x28_image(client, app, layer, unit):
    response = client.get(f"/model/units/{layer}/{unit}.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert image.size == (28, 28) and image.mode == "RGBA"
    assert np.asarray(image)[..., 3].max() == 255  # the strongest weight is fully opaque
    again = client.get(
        f"/model/units/{layer}/{unit}.png", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["0/0", "3/0", "1/128", "2/64", "x/1", "1/-1", "1/1.5"])
def test_a_unit_that_does_not_exist_is_a_json_404(client, path):
    response = client.get(f"/model/units/{path}.png")
    assert response.status_code == 404 and response.is_json
    assert response.json["error"]["message"]
