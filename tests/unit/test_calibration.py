"""Temperature scaling, ECE, the uncertain threshold, and reading both back from metadata."""

import json

import numpy as np
import pytest

from mnist_mlp.model import MLP, load_weights, save_weights
from mnist_mlp.model.calibration import (
    calibrate,
    calibrated_probabilities,
    choose_uncertain_threshold,
    expected_calibration_error,
    fit_temperature,
    read_calibration,
)


def synthetic_logits(n=4000, classes=10, seed=0):
    """Logits z and labels drawn FROM softmax(z): temperature 1 is exactly right for them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.5, (n, classes))
    probs = calibrated_probabilities(logits, 1.0)
    labels = (probs.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return logits, labels


@pytest.mark.parametrize("t0", [0.5, 1.0, 3.0])
def test_temperature_recovers_the_scale_of_the_logits(t0):
    logits, labels = synthetic_logits()
    t = fit_temperature(t0 * logits, labels)
    assert t == pytest.approx(t0, rel=0.1)


def test_temperature_scaling_lowers_ece_and_keeps_accuracy():
    logits, labels = synthetic_logits(seed=1)
    over = 3 * logits  # over-confident: the same ranking, three times too sure
    before = calibrated_probabilities(over, 1.0)
    after = calibrated_probabilities(over, fit_temperature(over, labels))
    assert expected_calibration_error(after, labels) < 0.5 * expected_calibration_error(before, labels)
    np.testing.assert_array_equal(before.argmax(axis=1), after.argmax(axis=1))


def test_ece_of_perfect_and_of_overconfident_predictions():
    labels = np.array([0, 1, 1, 0])
    sure_and_right = np.eye(2)[labels]
    assert expected_calibration_error(sure_and_right, labels) == 0.0
    sure_and_half_wrong = np.array([[1.0, 0.0]] * 4)  # 100 % confident, 50 % correct
    assert expected_calibration_error(sure_and_half_wrong, labels) == pytest.approx(0.5)


def test_threshold_meets_its_criterion():
    logits, labels = synthetic_logits(n=3001, seed=2)
    probs = calibrated_probabilities(logits, 1.0)
    confidence = probs.max(axis=1)
    for rate in (0.0, 0.02, 0.05, 0.3):
        choice = choose_uncertain_threshold(probs, labels, max_flag_rate=rate)
        t = choice["threshold"]
        assert (confidence < t).mean() <= rate  # within the budget ...
        assert (confidence <= t).mean() > rate  # ... and the largest such threshold
        assert choice["flag_rate"] == pytest.approx((confidence < t).mean())
    # Flagged predictions are the doubtful ones: far less accurate than the rest.
    choice = choose_uncertain_threshold(probs, labels, max_flag_rate=0.1)
    assert choice["accuracy_flagged"] < choice["accuracy_unflagged"] - 0.2
    assert 0 < choice["errors_flagged"] <= 1


def test_calibration_on_validation_digits_of_an_overconfident_model(mnist):
    """The shipped weights on a held-out slice of the training set, made over-confident
    by scaling their logits x3 (what a longer, unregularised run does): temperature
    scaling finds ~3x the model's own temperature and lowers the validation ECE."""
    from mnist_mlp.model import DEFAULT_WEIGHTS

    model, _ = load_weights(DEFAULT_WEIGHTS)
    x_val, y_val = mnist[0][-5000:], mnist[1][-5000:]
    logits = 3 * model.forward(x_val / np.float32(255)).astype(np.float64)
    result = calibrate(logits, y_val)
    report = result["calibration"]
    assert result["temperature"] > 1.5
    assert report["ece_after"] < report["ece_before"]
    assert report["nll_after"] < report["nll_before"]
    assert 0 < result["uncertain_threshold"] < 1
    assert report["threshold"]["flag_rate"] <= 0.02
    json.dumps(result)  # plain numbers: ready for the weights' metadata


def test_threshold_and_temperature_are_read_from_metadata(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(path, MLP(seed=0), {"temperature": 1.3, "uncertain_threshold": 0.71})
    _, meta = load_weights(path)
    assert read_calibration(meta) == (1.3, 0.71)
    assert read_calibration({}) == (1.0, None)  # weights from before calibration
    for bad in (
        {"temperature": 0},
        {"temperature": "1"},
        {"uncertain_threshold": 1.5},
        {"uncertain_threshold": True},
    ):
        with pytest.raises(ValueError):
            read_calibration(bad)
