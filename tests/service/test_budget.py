"""Every answer bounded before it is built (service/budget.py): in bytes, and in time.

Noise inputs give the least compressible previews and heatmaps, so their answers are the
largest an input can cause: the bound must hold for them.
"""

import numpy as np
import pytest

from mnist_mlp.service import create_app
from mnist_mlp.service.budget import item_bytes

V2 = "/v2/models/mnist/infer"


def noise(n, seed=0):
    return np.random.default_rng(seed).random((n, 784)).astype(np.float32).tolist()


def v2_body(rows, explain):
    tensor = {"name": "input", "shape": [len(rows), 784], "datatype": "FP32", "data": rows}
    return {"id": "x" * 256, "inputs": [tensor], "parameters": {"explain": explain}}


@pytest.fixture(scope="module")
def app_settings():
    return {"MAX_BATCH": 200}


def test_the_bound_holds_for_the_largest_answers(app, client):
    sizes = app.extensions["classifier"].layer_sizes
    rows = noise(16)
    answers = {
        (True, True): client.post("/predict?explain=1&preview=1", json={"inputs": rows}),
        (True, False): client.post("/predict?preview=1", json={"inputs": rows}),
        (False, False): client.post("/predict", json={"inputs": rows}),
        (False, True): client.post(V2, json=v2_body(rows, explain=True)),
    }
    for (preview, explain), response in answers.items():
        assert response.status_code == 200
        bound = len(rows) * item_bytes(sizes, preview=preview, explain=explain)
        assert len(response.get_data()) <= bound, (preview, explain, len(response.get_data()), bound)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/predict?explain=1", {"inputs": noise(200)}),
        (V2, v2_body(noise(200), explain=True)),
    ],
)
def test_an_answer_over_the_limit_is_refused_before_any_work(app, client, monkeypatch, url, body):
    """200 explanations could take 10 MB, over the 8 MiB default: a 413 before the network runs."""
    clf = app.extensions["classifier"]

    def never(*args):
        raise AssertionError("the network ran for a request that is refused")

    for method in ("answers", "predict_proba", "explanations"):
        monkeypatch.setattr(clf, method, never)
    response = client.post(url, json=body)
    assert response.status_code == 413, response.get_data(as_text=True)
    message = response.json["error"] if url == V2 else response.json["error"]["message"]
    most = app.config["MAX_ANSWER_BYTES"] // item_bytes(clf.layer_sizes, explain=True)
    assert 100 < most < 200 and f"send at most {most} inputs" in message, message
    if url != V2:
        assert response.json["error"]["code"] == "answer_too_large"


def test_without_explanations_the_same_batch_is_answered(client):
    rows = noise(200)
    assert client.post("/predict", json={"inputs": rows}).status_code == 200
    assert client.post(V2, json=v2_body(rows, explain=False)).status_code == 200


@pytest.mark.parametrize("url", ["/predict?explain=1", V2])
def test_explanations_stop_at_the_request_budget(url):
    """64 explanations take about 0.3 s (two PNGs each): a 10 ms budget stops them with a 503."""
    client = create_app({"REQUEST_BUDGET": 0.01}).test_client()
    rows = noise(64)
    body = {"inputs": rows} if url != V2 else v2_body(rows, explain=True)
    response = client.post(url, json=body)
    assert response.status_code == 503, response.status_code
    message = response.json["error"] if url == V2 else response.json["error"]["message"]
    assert "of 64 explanations" in message, message
    if url != V2:
        assert response.json["error"]["code"] == "time_budget_exceeded"


@pytest.mark.parametrize("shape", [[64, 784], [64, 28, 28]])
def test_the_largest_json_request_is_within_the_value_count(shape):
    """The count of JSON values refused before parsing (service/bodies.py) leaves room for a full batch."""
    client = create_app({"MAX_BATCH": 64}).test_client()
    data = np.asarray(noise(64)).reshape(shape).tolist()
    tensor = {"name": "input", "shape": shape, "datatype": "FP32", "data": data}
    answer = client.post(V2, json={"id": "x" * 256, "inputs": [tensor], "outputs": [{"name": "digit"}]})
    assert answer.status_code == 200, answer.get_json()
    assert client.post("/predict", json={"inputs": data}).status_code == 200
    limit = 64 * (784 + 28 + 1) + 1000
    too_many = {"inputs": [tensor], "outputs": [{"name": "digit"}], "id": "," * limit}
    assert client.post(V2, json=too_many).status_code == 413
