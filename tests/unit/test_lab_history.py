"""The lab's history (lab/history.py) and views (lab/views.py), driven step by step with made-up clocks."""

import itertools

import numpy as np
import pytest

from mnist_mlp.lab import history as history_module
from mnist_mlp.lab.dataset import PROBE_IMAGES, LabData
from mnist_mlp.lab.history import MAX_GAP, History
from mnist_mlp.lab.views import dead_unit_shares, first_layer_png, gradient_norms
from mnist_mlp.model import MLP


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3000, 784), dtype=np.uint8)
    return LabData.split(x, np.arange(3000) % 10, "random pixels")


def clock(step=0.0):
    """A clock that moves `step` seconds every time it is read."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def drive(history, steps, model):
    for step in range(1, steps + 1):
        model.grads[...] = 1.0
        history(step, 1 + (step - 1) // 100, 2.3, model)
    history.finish(model)
    return history.points


@pytest.fixture
def costly_views(monkeypatch):
    """Views that cost so much that their CPU budget never lets another one through."""
    monkeypatch.setattr(history_module, "POINT_SHARE", 1e-12)
    monkeypatch.setattr(history_module, "MEASURE_SHARE", 1e-12)


def test_however_costly_the_views_a_point_comes_every_max_gap_steps(data, costly_views):
    model = MLP((784, 8, 10))
    points = drive(History(data, data.x_pool, data.y_pool, clock(), clock(1.0)), 1000, model)
    assert [p["step"] for p in points] == [1, *range(MAX_GAP + 1, 1000, MAX_GAP), 1000]
    assert "val_accuracy" in points[0] and "val_accuracy" in points[-1]
    assert all("val_accuracy" not in p for p in points[1:-1])  # none was due


def test_views_that_cost_no_cpu_come_at_every_step(data):
    model = MLP((784, 8, 10))
    points = drive(History(data, data.x_pool, data.y_pool, clock(), clock()), 20, model)
    assert [p["step"] for p in points] == list(range(1, 21))


def test_points_stay_bounded_and_keep_the_newest(data, monkeypatch):
    monkeypatch.setattr(history_module, "MAX_POINTS", 10)
    model = MLP((784, 8, 10))
    cpu = [0.0]
    history = History(data, data.x_pool, data.y_pool, clock(), lambda: cpu[0])
    for step in range(1, 301):
        cpu[0] += 1.0  # a second of training between two steps, views free: every step is due
        history(step, 1, 2.3, model)
        assert len(history.points) <= 10
    steps = [p["step"] for p in history.points]
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    assert steps[0] == 1 and history.pace == 32  # 300 steps in at most 10 points: 5 thinnings
    assert all(16 <= gap <= 64 for gap in gaps[:-1])  # evenly spread, however many thinnings
    assert history.since(steps[-3]) == history.points[-2:]


def test_the_loss_of_a_point_is_the_mean_since_the_last_one(data, costly_views):
    model = MLP((784, 8, 10))
    history = History(data, data.x_pool, data.y_pool, clock(), clock(1.0))
    for step, loss in enumerate([4.0, 1.0, 2.0, 3.0], start=1):
        history(step, 1, loss, model)
    history.finish(model)
    assert [(p["step"], p["loss"]) for p in history.points] == [(1, 4.0), (4, 2.0)]


def test_the_stop_event_answers_on_step(data):
    model = MLP((784, 8, 10))
    history = History(data, data.x_pool, data.y_pool)
    assert history(1, 1, 2.3, model) is False
    history.stop.set()
    assert history(2, 1, 2.3, model) is True


def test_gradient_norms_are_float64_sums_that_do_not_overflow():
    model = MLP((4, 3, 2))
    model.grads[...] = np.float32(3e30)  # squares overflow float32
    norms = gradient_norms(model)
    assert norms == pytest.approx([3e30 * np.sqrt(12), 3e30 * np.sqrt(6)], rel=1e-6)


def test_dead_units_are_those_that_pass_no_gradient_for_any_probe_image(data):
    model = MLP((784, 4, 3), seed=0)
    model.weights[0][:, 0] = -1.0  # inputs are >= 0: unit 0 never fires
    model.biases[0][0] = -0.5
    model.weights[0][:, 1] = 1.0  # unit 1 always does
    shares = dead_unit_shares(model, data.probe)
    assert data.probe.shape == (PROBE_IMAGES, 784) and data.probe.dtype == np.float32
    assert shares[0] >= 0.25 and shares[0] <= 0.75
    sigmoid = MLP((784, 4, 3), activation="sigmoid")
    sigmoid.weights[0][...] = 0
    sigmoid.biases[0][...] = [-200.0, 0.0, 200.0, 1.0]  # saturated at 0, middle, saturated at 1, middle
    assert dead_unit_shares(sigmoid, data.probe) == [0.5]


def test_the_first_layer_picture_is_one_tile_per_unit_up_to_64():
    from io import BytesIO

    from PIL import Image

    for units, size in (
        (10, (8 * 29 - 1, 2 * 29 - 1)),
        (128, (8 * 29 - 1, 8 * 29 - 1)),
        (3, (3 * 29 - 1, 28)),
    ):
        weights = np.random.default_rng(0).normal(size=(784, units)).astype(np.float32)
        assert Image.open(BytesIO(first_layer_png(weights))).size == size
