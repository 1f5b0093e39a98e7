"""Honest probabilities: temperature scaling, expected calibration error, the "uncertain" threshold.

    t = fit_temperature(logits_val, y_val)                  # Guo et al. 2017
    probs = calibrated_probabilities(logits, t)             # softmax(z / t)
    ece = expected_calibration_error(probs, y)
    choice = choose_uncertain_threshold(probs_val, y_val)   # {"threshold": ..., stats}

All fitted on the VALIDATION split, never on the test set. The weights' metadata then
carries `temperature` and `uncertain_threshold`; `read_calibration(metadata)` gives them
back to the service. NumPy only, like the rest of `model/`.
"""

import math

import numpy as np

from .losses import log_softmax, softmax

TEMPERATURE_KEY = "temperature"
THRESHOLD_KEY = "uncertain_threshold"
# fit_temperature searches [0.05, 20]; outside a wide margin around that, logits / T
# overflow or every answer is uniform
TEMPERATURE_RANGE = (1e-3, 1e3)

_GOLDEN = (math.sqrt(5) - 1) / 2  # 0.618...: the golden-section step


def calibrated_probabilities(logits, temperature):
    """softmax(z / T) (B, C): T > 1 softens over-confident logits, T < 1 sharpens."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature)


def temperature_nll(logits, labels, temperature):
    """Mean negative log-likelihood of `labels` under softmax(logits / T)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    return float(-log_softmax(scaled)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits, labels, low=0.05, high=20.0, tol=1e-5):
    """The temperature T in [low, high] minimising NLL(softmax(z / T), y) on held-out data.

    With b = 1/T, NLL(b) = mean_i [logsumexp(b z_i) - b z_{i,y_i}] is convex in b
    (log-sum-exp is convex, the other term linear), so NLL is unimodal in log T = -log b
    and golden-section search over log T finds the minimum to `tol` (about 30 steps for
    the default bracket). Scaling by a positive T never changes the argmax: accuracy is
    untouched, only the confidence moves. A minimum at a bracket end is returned as is.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim != 2 or len(logits) != len(labels) or not len(labels):
        raise ValueError(f"need logits (N, C) and labels (N,), got {logits.shape} and {labels.shape}")
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got {low}, {high}")

    def nll(log_t):
        return temperature_nll(logits, labels, math.exp(log_t))

    a, b = math.log(low), math.log(high)
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = nll(c), nll(d)
    while b - a > tol:
        if fc <= fd:  # the minimum lies in [a, d]
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = nll(c)
        else:  # in [c, b]
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = nll(d)
    return math.exp((a + b) / 2)


def expected_calibration_error(probs, labels, n_bins=15):
    """ECE = sum_b (n_b / N) |accuracy_b - confidence_b| over equal-width confidence bins.

    Confidence is the top probability max_k p_k; bin b holds the predictions with
    confidence in ((b-1)/n_bins, b/n_bins] (Naeini et al. 2015, Guo et al. 2017 use 15).
    0 is perfect calibration; an over-confident model has confidence above accuracy.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)  # (N,)
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)  # n_b (acc_b - conf_b)
    return float(np.abs(gap).sum() / len(labels))


def choose_uncertain_threshold(probs, labels, max_flag_rate=0.02):
    """The confidence threshold below which a prediction is flagged "uncertain", and its stats.

    Criterion: the LARGEST threshold t such that at most `max_flag_rate` of the validation
    digits have calibrated confidence max_k p_k < t. Flagging is `is_uncertain`, so a
    larger t flags more of everything; non-digits are not available when the weights are
    trained, and the largest t within the budget on real digits flags as many of them as
    possible. The product asks for <= 5 % of real digits flagged; the default budget of
    2 % on MNIST validation digits leaves room for drawn digits being less typical.
    `flag_rate_threshold` gives that t: it flags at most floor(rate N) digits (fewer on ties).

    Returns a JSON-able dict: threshold, criterion, max_flag_rate, n, flag_rate,
    accuracy_flagged, accuracy_unflagged, errors_flagged (share of the misclassified
    validation digits that get flagged).
    """
    if not 0 <= max_flag_rate < 1:
        raise ValueError(f"max_flag_rate must be in [0, 1), got {max_flag_rate}")
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    threshold = flag_rate_threshold(probs.max(axis=1), max_flag_rate)
    stats = flag_stats(probs, labels, threshold)
    return {
        "threshold": threshold,
        "criterion": f"largest t with at most {max_flag_rate:.1%} of validation digits below t",
        "max_flag_rate": max_flag_rate,
        **stats,
    }


def is_uncertain(confidence, threshold):
    """The one "uncertain" rule: the calibrated top probability lies below the threshold.

    `confidence` is a number or an array of them; so is the answer.
    """
    return confidence < threshold


def flag_rate_threshold(scores, max_flag_rate):
    """The largest t such that at most `max_flag_rate` of `scores` lie strictly below t.

    With the scores sorted, s_(0) <= s_(1) <= ..., t = s_(k) for k = floor(rate N).
    """
    k = int(math.floor(max_flag_rate * len(scores) + 1e-9))
    return float(np.sort(scores)[k])


def flag_stats(probs, labels, threshold):
    """How a threshold behaves on labelled digits: flag rate and accuracy on each side."""
    probs = np.asarray(probs, dtype=np.float64)
    flagged = is_uncertain(probs.max(axis=1), threshold)
    correct = probs.argmax(axis=1) == np.asarray(labels)

    def share(mask):
        return float(mask.mean()) if mask.size else float("nan")

    return {
        "n": int(len(flagged)),
        "flag_rate": share(flagged),
        "accuracy_flagged": share(correct[flagged]),
        "accuracy_unflagged": share(correct[~flagged]),
        "errors_flagged": share(flagged[~correct]),
    }


def calibrate(logits_val, labels_val, max_flag_rate=0.02, n_bins=15):
    """Temperature, threshold and the before/after figures, as metadata for the weights.

    The result holds the two keys the service reads (`temperature`, `uncertain_threshold`)
    and a `calibration` dict with ECE before and after, NLL before and after, and the
    threshold's criterion and validation stats.
    """
    logits_val = np.asarray(logits_val, dtype=np.float64)
    temperature = fit_temperature(logits_val, labels_val)
    raw = calibrated_probabilities(logits_val, 1.0)
    scaled = calibrated_probabilities(logits_val, temperature)
    choice = choose_uncertain_threshold(scaled, labels_val, max_flag_rate)
    return {
        TEMPERATURE_KEY: temperature,
        THRESHOLD_KEY: choice.pop("threshold"),
        "calibration": {
            "split": "validation",
            "n_bins": n_bins,
            "ece_before": expected_calibration_error(raw, labels_val, n_bins),
            "ece_after": expected_calibration_error(scaled, labels_val, n_bins),
            "nll_before": temperature_nll(logits_val, labels_val, 1.0),
            "nll_after": temperature_nll(logits_val, labels_val, temperature),
            "threshold": choice,
        },
    }


def read_calibration(metadata):
    """(temperature, uncertain_threshold) from a weights file's metadata.

    Weights trained before calibration existed have neither key: temperature 1.0 (plain
    softmax) and threshold None, meaning no calibrated threshold is known. Present values
    must be finite numbers, T in TEMPERATURE_RANGE and the threshold in [0, 1]; otherwise ValueError.
    """
    temperature = metadata.get(TEMPERATURE_KEY, 1.0)
    threshold = metadata.get(THRESHOLD_KEY)
    if not _is_number(temperature) or not TEMPERATURE_RANGE[0] <= temperature <= TEMPERATURE_RANGE[1]:
        low, high = TEMPERATURE_RANGE
        raise ValueError(
            f"metadata {TEMPERATURE_KEY!r} must be a number from {low} to {high}, got {temperature!r}"
        )
    if threshold is not None and (not _is_number(threshold) or not 0 <= threshold <= 1):
        raise ValueError(f"metadata {THRESHOLD_KEY!r} must be a number in [0, 1], got {threshold!r}")
    return float(temperature), None if threshold is None else float(threshold)


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
