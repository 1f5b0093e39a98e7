"""The training lab's API (lab/api.py) on real MNIST: every state of a run, bad settings, the limits.

The app runs in this process (Flask's test client) on 6,000 real training images, so a run
trains for real, on threads, in seconds. BLAS is held to one thread while it does, as
`mnist-lab` holds it: two threads each on a busy two-core machine make every product crawl.
"""

import base64
import io
import json
import math
import re
import time

import numpy as np
import pytest
from PIL import Image

from mnist_mlp.data.mnist import fingerprint
from mnist_mlp.data.mnist.idx import IDXError
from mnist_mlp.lab import runs as runs_module
from mnist_mlp.lab.app import create_app
from mnist_mlp.lab.dataset import LabData
from mnist_mlp.lab.experiments import EXPERIMENTS
from mnist_mlp.lab.settings import MAX_IMAGES, MAX_STEPS, parse_settings
from mnist_mlp.model import Classifier, load_weights
from tests.images import drawn_digit, encode

SMALL = {"hidden": [32], "train_size": 2000, "epochs": 2}  # a run of a second or two
LONG = {"hidden": [32], "train_size": 4000, "epochs": 200}  # one that runs until it is stopped


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - the dev extra has it, through scikit-learn
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def lab_data(mnist):
    x_train, y_train, _, _ = mnist
    return LabData.split(x_train[:6000], y_train[:6000], "tests: the first 6,000 MNIST training images")


@pytest.fixture
def app(lab_data):
    app = create_app({"DATA": lab_data})
    yield app
    for run in app.extensions["lab_runs"].all():  # no thread outlives its test
        run.stop()
        run.thread.join(timeout=60)


def start(client, settings):
    answer = client.post("/api/runs", json=settings)
    assert answer.status_code == 201, answer.get_json()
    assert answer.headers["Location"].endswith(f"/api/runs/{answer.get_json()['id']}")
    return answer.get_json()["id"]


def wait_for(client, run_id, condition, timeout=120):
    """The run's answer once `condition(answer)` holds; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(f"/api/runs/{run_id}").get_json()
        if condition(answer):
            return answer
        time.sleep(0.05)
    pytest.fail(f"run {run_id} still {answer['state']} after {timeout} s: {answer['message']}")


def ended(answer):
    return answer["state"] != "running"


def check_point(point, n_weight_layers):
    assert point["step"] >= 1 and point["epoch"] >= 1 and point["seconds"] >= 0
    assert len(point["grad_norms"]) == n_weight_layers
    assert all(n is None or n >= 0 for n in point["grad_norms"])
    assert len(point["dead_units"]) == n_weight_layers - 1
    assert all(0 <= share <= 1 for share in point["dead_units"])


# ---- the states ----------------------------------------------------------------------


def test_an_empty_object_is_the_card_network_and_it_learns(client):
    run_id = start(client, {"epochs": 3})  # the card's 784-128-64-10, on every image of the pool
    answer = wait_for(client, run_id, ended)
    assert answer["state"] == "finished" and answer["message"] == f"finished 3 epochs, {answer['step']} steps"
    assert answer["settings"] == {
        "hidden": [128, 64],
        "init": "he",
        "activation": "relu",
        "optimizer": "adam",
        "lr": 0.001,
        "batch_size": 128,
        "epochs": 3,
        "train_size": 5000,  # the pool: 6,000 images less the 1,000 held out
        "seed": 0,
    }
    history = answer["history"]
    steps = [p["step"] for p in history]
    assert steps == sorted(set(steps)) and steps[0] == 1 and steps[-1] == answer["step"] == 3 * 40
    assert max(b - a for a, b in zip(steps, steps[1:])) <= 250  # one point at least every 250 steps
    for point in history:
        check_point(point, 3)
    first, last = history[0], history[-1]
    assert "val_accuracy" in first and "val_accuracy" in last  # measured at both ends
    assert first["val_accuracy"] < 0.3 < 0.85 < last["val_accuracy"]
    assert last["train_accuracy"] >= 0.85 and last["loss"] < first["loss"]
    assert answer["val_accuracy"] == last["val_accuracy"]


def test_a_running_run_streams_its_points_and_stops_when_asked(client):
    run_id = start(client, LONG)
    running = wait_for(client, run_id, lambda a: len(a["history"]) >= 3)
    assert running["state"] == "running" and running["message"] == "training"
    assert running["steps"] == 200 * math.ceil(4000 / 128)
    seen = running["history"][-1]["step"]
    later = wait_for(client, run_id, lambda a: a["history"][-1]["step"] > seen)
    after = [p["step"] for p in later["history"] if p["step"] > seen]
    newer = [p["step"] for p in client.get(f"/api/runs/{run_id}?since={seen}").get_json()["history"]]
    assert newer[: len(after)] == after and min(newer) > seen  # only what came after, nothing missed

    stopping = client.post(f"/api/runs/{run_id}/stop")
    assert stopping.status_code == 202 and stopping.get_json()["id"] == run_id
    stopped = wait_for(client, run_id, ended)
    assert stopped["state"] == "stopped"
    assert re.fullmatch(r"stopped after step (\d+) in epoch (\d+), as asked", stopped["message"])
    step = int(re.search(r"step (\d+)", stopped["message"]).group(1))
    assert stopped["history"][-1]["step"] == step == stopped["step"] < stopped["steps"]
    assert "val_accuracy" in stopped["history"][-1]
    assert client.post(f"/api/runs/{run_id}/stop").status_code == 202  # stopping again is harmless


def test_learning_rate_10_diverges_with_the_guards_message(client):
    answer = wait_for(client, start(client, {**SMALL, "lr": 10}), ended)
    assert answer["state"] == "diverged"
    assert re.fullmatch(
        r"the NaN guard stopped training: loss became \S+ at step \d+ in epoch 1; "
        r"the weights are the last good ones",
        answer["message"],
    )
    assert all(math.isfinite(p["loss"]) for p in answer["history"] if p["loss"] is not None)


def test_an_error_in_training_fails_the_run_and_the_lab_goes_on(client, monkeypatch):
    def broken_fit(*args, **kwargs):
        raise MemoryError("no room for the activations")

    monkeypatch.setattr(runs_module, "fit", broken_fit)
    answer = wait_for(client, start(client, SMALL), ended)
    assert answer["state"] == "failed"
    assert answer["message"] == "training failed: MemoryError: no room for the activations"
    monkeypatch.undo()
    assert wait_for(client, start(client, SMALL), ended)["state"] == "finished"
    assert client.get("/").status_code == 200


def test_zero_init_stays_at_chance_with_no_gradient_below_the_last_layer(client):
    answer = wait_for(client, start(client, {"init": "zeros", "train_size": 3000, "epochs": 2}), ended)
    assert answer["state"] == "finished" and answer["history"][-1]["val_accuracy"] < 0.2
    assert all(p["grad_norms"] == [0.0, 0.0, 0.0] for p in answer["history"])  # only the last biases move
    assert all(p["dead_units"] == [1.0, 1.0] for p in answer["history"])  # relu(0): every unit silent


# ---- bad settings and the limits -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "setting", "words"),
    [
        ({"lr": 50}, "lr", "lr must be a number from 1e-06 to 10, got 50"),
        ({"lr": "fast"}, "lr", "got 'fast'"),
        ({"lr": float("nan")}, "lr", "got nan"),
        ({"batch_size": 0}, "batch_size", "batch_size must be an integer from 1 to 1024, got 0"),
        ({"batch_size": 2.5}, "batch_size", "an integer"),
        ({"epochs": True}, "epochs", "got True"),
        ({"epochs": 201}, "epochs", "from 1 to 200"),
        ({"train_size": 10**9}, "train_size", "train_size must be an integer from 100 to 5000"),
        ({"seed": -1}, "seed", "seed must be an integer from 0 to 4294967295, got -1"),
        (
            {"hidden": [0]},
            "hidden",
            "hidden must be a list of 0 to 5 layer sizes, each an integer from 1 to 512",
        ),
        ({"hidden": [64] * 6}, "hidden", "0 to 5 layer sizes"),
        ({"hidden": "128, 64"}, "hidden", "got '128, 64'"),
        ({"hidden": [1e3]}, "hidden", "an integer"),
        ({"init": "ones"}, "init", "init must be one of he, zeros, too_small, too_large, got 'ones'"),
        ({"activation": "tanh"}, "activation", "one of relu, sigmoid"),
        ({"optimizer": ["sgd"]}, "optimizer", "one of adam, sgd"),
        ({"colour": "red"}, "colour", "unknown setting 'colour'"),
        ({"batch_size": 1, "epochs": 40, "train_size": 5000}, "steps", f"at most {MAX_STEPS}"),
    ],
)
def test_bad_settings_get_a_400_naming_the_setting_and_its_bounds(client, body, setting, words):
    answer = client.post("/api/runs", json=body)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["code"] == "bad_setting" and error["setting"] == setting
    assert words in error["message"]
    if setting not in ("colour",):
        assert error["bounds"]
    assert client.get("/api/runs").get_json()["runs"] == []  # nothing started


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"x" * 500_000: 1}),
        json.dumps({"hidden": [7] * 200_000}),
        json.dumps({"init": "z" * 500_000}),
        json.dumps({"lr": [[[[["deep"] * 100] * 10] * 10] * 10]}),
        '{"epochs": 1' + "0" * 4000 + "}",
    ],
    ids=["name", "hidden", "choice", "nested", "number"],
)
def test_a_400_quotes_only_the_start_of_a_huge_setting(client, body):
    answer = client.post("/api/runs", data=body, content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "bad_setting"
    assert len(answer.data) < 1000


def test_the_images_seen_are_bounded_too():
    with pytest.raises(ValueError, match=f"at most {MAX_IMAGES}"):
        parse_settings({"train_size": 58_000, "epochs": 21, "batch_size": 1024}, pool_size=58_000)


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"[" * 100_000, "application/json", 400, "malformed_json"),
        (b"\xff\xfe", "application/json", 400, "malformed_json"),
        (b"[1, 2]", "application/json", 400, "bad_setting"),
        (b"lr=0.1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_a_body_that_is_not_a_settings_object_is_refused(client, data, content_type, status, code):
    answer = client.post("/api/runs", data=data, content_type=content_type)
    assert answer.status_code == status and answer.get_json()["error"]["code"] == code


def test_an_empty_body_starts_the_default_run(client):
    answer = client.post("/api/runs")
    assert answer.status_code == 201
    client.post(f"/api/runs/{answer.get_json()['id']}/stop")


def test_a_third_run_at_once_gets_a_429_and_an_ended_one_frees_its_place(client):
    first, second = start(client, LONG), start(client, LONG)
    refused = client.post("/api/runs", json=SMALL)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert refused.get_json()["error"] == {
        "code": "too_many_runs",
        "message": "2 runs are training already, the most the lab trains at once; "
        "stop one or wait for it to finish",
    }
    client.post(f"/api/runs/{first}/stop")
    wait_for(client, first, ended)
    third = start(client, SMALL)
    client.post(f"/api/runs/{second}/stop")
    assert wait_for(client, third, ended)["state"] == "finished"


def test_only_the_last_runs_are_kept(lab_data):
    client = create_app({"DATA": lab_data, "MAX_KEPT": 3}).test_client()
    ids = []
    for _ in range(4):
        ids.append(start(client, {**SMALL, "epochs": 1}))
        wait_for(client, ids[-1], ended)
    assert [r["id"] for r in client.get("/api/runs").get_json()["runs"]] == ids[1:]
    gone = client.get(f"/api/runs/{ids[0]}")
    assert gone.status_code == 404
    assert gone.get_json()["error"] == {
        "code": "no_such_run",
        "message": f"no run {ids[0]!r}; the lab keeps the last 3 runs",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/runs/99"),
        ("post", "/api/runs/99/stop"),
        ("get", "/api/runs/99/weights.npz"),
        ("get", "/api/runs/99/first-layer.png"),
        ("post", "/api/runs/99/predict"),
    ],
)
def test_an_unknown_run_is_a_json_404(client, method, path):
    answer = getattr(client, method)(path)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "no_such_run"


def test_other_errors_are_json_too(client):
    assert client.get("/api/nothing").get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/runs")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert client.get("/api/runs/1?since=-3").status_code in (400, 404)
    run_id = start(client, SMALL)
    assert client.get(f"/api/runs/{run_id}?since=x").get_json()["error"]["code"] == "bad_request"
    too_big = client.post(f"/api/runs/{run_id}/predict", data=b"0" * (2 * 1024 * 1024))
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "request_entity_too_large"


# ---- trying, picturing and saving the network ------------------------------------------------


def test_a_drawing_goes_through_the_one_preprocess_to_the_run_being_trained(client):
    run_id = start(client, LONG)
    wait_for(client, run_id, lambda a: a["step"] > 50)
    answer = client.post(f"/api/runs/{run_id}/predict", data=encode(drawn_digit()), content_type="image/png")
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert 0 <= result["digit"] <= 9 and len(result["probabilities"]) == 10
    assert sum(result["probabilities"]) == pytest.approx(1, abs=1e-3)
    assert result["digit"] == int(np.argmax(result["probabilities"]))
    assert result["step"] > 50
    preview = Image.open(io.BytesIO(base64.b64decode(result["preview"].split(",", 1)[1])))
    assert preview.size == (28, 28)
    blank = client.post(f"/api/runs/{run_id}/predict", data=encode(Image.new("L", (56, 56), 255)))
    assert blank.status_code == 422 and blank.get_json()["error"]["code"] == "no_digit_found"
    junk = client.post(f"/api/runs/{run_id}/predict", data=b"not an image", content_type="image/png")
    assert junk.status_code == 422 and junk.get_json()["error"]["code"] == "bad_image"
    empty = client.post(f"/api/runs/{run_id}/predict")
    assert empty.status_code == 400 and empty.get_json()["error"]["code"] == "missing_image"


def test_the_first_layer_picture_shows_what_it_learned_or_its_weights(client):
    run_id = start(client, {**SMALL, "hidden": [100]})
    wait_for(client, run_id, ended)
    for query, size in (("", (8 * 29 - 1, 13 * 29 - 1)), ("?show=weights", (8 * 29 - 1, 13 * 29 - 1))):
        answer = client.get(f"/api/runs/{run_id}/first-layer.png{query}")
        assert answer.status_code == 200 and answer.mimetype == "image/png"
        image = Image.open(io.BytesIO(answer.data))
        assert image.mode == "RGBA" and image.size == (size[0], 8 * 29 - 1)  # 64 tiles shown of 100
    assert client.get(f"/api/runs/{run_id}/first-layer.png?show=all").status_code == 400
    zeros = start(client, {**SMALL, "init": "zeros", "epochs": 1})
    wait_for(client, zeros, ended)
    nothing_learned = Image.open(io.BytesIO(client.get(f"/api/runs/{zeros}/first-layer.png").data))
    assert np.asarray(nothing_learned)[..., 3].max() == 0  # zero init: the first layer never moved


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_the_saved_weights_are_the_runs_and_load_as_a_classifier(client, tmp_path, activation):
    run_id = start(client, {**SMALL, "hidden": [48, 24], "activation": activation})
    finished = wait_for(client, run_id, ended)
    answer = client.get(f"/api/runs/{run_id}/weights.npz")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="mnist-lab-run-{run_id}-step-{finished["step"]}.npz"'
    )
    path = tmp_path / "lab.npz"
    path.write_bytes(answer.data)
    model, meta = load_weights(path)
    assert model.layer_sizes == (784, 48, 24, 10) and model.activation == meta["activation"] == activation
    assert meta["trained_by"] == "mnist-lab" and meta["lab_settings"]["activation"] == activation
    assert meta["lab_run"]["state"] == "finished" and meta["val_size"] == 1000
    assert 0.05 < meta["temperature"] < 20 and 0 < meta["uncertain_threshold"] < 1
    classifier = Classifier(path)
    drawing = encode(drawn_digit())
    served = client.post(f"/api/runs/{run_id}/predict", data=drawing, content_type="image/png").get_json()
    from mnist_mlp.data.imaging.preprocess import preprocess

    assert classifier.predict(preprocess(drawing)[None])[0] == served["digit"]


def test_a_download_does_not_draw_the_training_set_again(client, tmp_path, monkeypatch):
    """The training set is drawn and hashed once, when the run starts: for each download it
    would cost up to 90 MB and half a second, and a page can ask for many at once."""
    run_id = start(client, SMALL)
    wait_for(client, run_id, ended)

    def drawn_again(self, size, seed):
        raise AssertionError("the training set was drawn again for a download")

    monkeypatch.setattr(LabData, "training_set", drawn_again)
    answer = client.get(f"/api/runs/{run_id}/weights.npz")
    assert answer.status_code == 200
    path = tmp_path / "lab.npz"
    path.write_bytes(answer.data)
    _, meta = load_weights(path)
    monkeypatch.undo()
    lab_data = client.application.extensions["lab_runs"].data
    assert meta["data_fingerprint"] == fingerprint(*lab_data.training_set(SMALL["train_size"], 0))
    assert meta["train_size"] == SMALL["train_size"]


def test_the_data_folder_must_hold_mnist(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"junk")
    for stem in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / stem).write_bytes(b"junk")
    with pytest.raises(IDXError):
        create_app({"DATA_DIR": str(tmp_path)})


# ---- the page ------------------------------------------------------------------------------


def test_the_page_is_served_with_a_strict_policy_and_names_its_code(client):
    answer = client.get("/")
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe" not in policy
    html = answer.get_data(as_text=True)
    assert 'data-testid="lab-start"' in html and 'data-testid="lab-loss"' in html
    assert "<script>" not in html and "style=" not in html  # nothing inline
    for experiment in EXPERIMENTS:
        assert f'id="{experiment.key}"' in html
    # each view names a function and its lines, and shows those very lines of the installed file
    from importlib import resources

    refs = re.findall(
        r'aria-label="([\w.]+), ([\w/]+\.py) lines (\d+) to (\d+)"><code>(.*?)</code></pre>', html, re.S
    )
    assert len(refs) >= 10
    for name, path, first, last, shown in refs:
        layer, _, rest = path.partition("/")
        lines = resources.files(f"mnist_mlp.{layer}").joinpath(rest).read_text().splitlines()
        source = lines[int(first) - 1 : int(last)]
        assert f"def {name.split('.')[-1]}" in "\n".join(source) or "DIVERGED_LOSS" in source[0]
        numbered = re.findall(r'<span class="ln" aria-hidden="true">(\d+)</span>', shown)
        assert [int(n) for n in numbered] == list(range(int(first), int(last) + 1))


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda e: e.key)
def test_every_experiment_is_a_valid_set_of_runs(experiment):
    assert 1 <= len(experiment.runs) <= 2  # they start side by side: the lab trains two at once
    for settings in experiment.runs:
        parse_settings(settings, pool_size=59_000)
    assert experiment.watch.endswith((".", ")"))
