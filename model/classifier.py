"""The loaded model: forward-only inference turning network inputs into answers.

    clf = Classifier("model/weights/mnist_mlp.npz")     # or Classifier.from_bytes(data, name)
    clf.predict_proba(x)    # (N, 10) calibrated probabilities, for x (N, 784) in [0, 1]
    clf.answers(x)          # [{"digit", "confidence", "probabilities", "uncertain"}, ...]
    clf.explanations(x)     # [{"gradient", "contrast", "runner_up", "hidden", "logits"}, ...]

The probabilities are softmax(logits / T) with the temperature T fitted on validation
data and stored in the weights' metadata, like the "uncertain" threshold.
"""

import hashlib

import numpy as np

from .calibration import calibrated_probabilities, is_uncertain, read_calibration
from .contract import CLASSES, INPUTS
from .explain import explain
from .weights import WeightsError, parse_weights, read_weights

# Weights trained before calibration carry no threshold chosen on validation data; for
# them a prediction is "uncertain" when the top digit gets less than even odds.
FALLBACK_UNCERTAIN_THRESHOLD = 0.5
LOGIT_BOUND = 1e30  # far below float32's 3.4e38: no layer of the forward pass can overflow
# Two inputs spread evenly over [0, 1) in no pixel order (the fractional parts of k phi and
# k sqrt 2): fixed probes for the answers check, without loading numpy.random in every worker.
SPREAD_PROBES = np.modf(np.outer([(1 + 5**0.5) / 2, 2**0.5], np.arange(INPUTS)))[0]


def logit_bound(mlp):
    """An upper bound on |logits| over every input in [0, 1] (u_0 = 1), from the weights alone.

    When every input of layer l lies in [-u_{l-1}, u_{l-1}],
        |z_l| <= u_{l-1} max_j sum_i |W_l[i, j]| + max |b_l|.
    A ReLU output lies in [0, |z_l|], so u_l is that bound; a sigmoid output lies in (0, 1)
    whatever z_l is, so u_l = 1.
    """
    u = 1.0
    for w, b in zip(mlp.weights, mlp.biases):
        z = u * float(np.abs(w, dtype=np.float64).sum(axis=0).max()) + float(np.abs(b).max())
        u = z if mlp.activation == "relu" else 1.0
    return z


class Classifier:
    """An MLP loaded once from `.npz`, with its metadata, file digest and model id."""

    def __init__(self, path):
        self._load(read_weights(path), path)  # WeightsError names the file and the fault

    @classmethod
    def from_bytes(cls, data, name):
        """The classifier of the bytes of a weights file; `name` is what errors call it."""
        classifier = cls.__new__(cls)
        classifier._load(data, name)
        return classifier

    def _load(self, data, name):
        self.mlp, self.metadata = parse_weights(data, name)
        sizes = self.mlp.layer_sizes
        if (sizes[0], sizes[-1]) != (INPUTS, CLASSES):
            raise WeightsError(
                f"{name}: layer sizes {list(sizes)} do not map {INPUTS} pixels to {CLASSES} digits"
            )
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.model_id = f"mnist-mlp-{self.sha256[:12]}"
        try:
            self.temperature, threshold = read_calibration(self.metadata)
        except ValueError as exc:
            raise WeightsError(f"{name}: {exc}") from None
        self.threshold_source = "weights metadata" if threshold is not None else "fallback"
        self.uncertain_threshold = FALLBACK_UNCERTAIN_THRESHOLD if threshold is None else threshold
        self._check_answers(name)

    def _check_answers(self, name):
        """WeightsError unless every input in [0, 1] gets finite probabilities summing to 1.

        Finite weights can still overflow float32 on the way (values near its limit), and a
        temperature can still be degenerate: such weights would answer NaN, which is not
        even JSON. `logit_bound` proves the logits finite for ALL inputs in one pass over
        the weights; a few probes then check the answers.
        """
        bound = logit_bound(self.mlp)
        probe = np.vstack([np.zeros(INPUTS), np.ones(INPUTS), SPREAD_PROBES])
        with np.errstate(all="ignore"):
            probs = self.predict_proba(probe)
        finite = bound / self.temperature < LOGIT_BOUND and np.isfinite(probs).all()
        if not (finite and np.allclose(probs.sum(axis=1), 1, atol=1e-4)):
            raise WeightsError(f"{name}: the weights can give non-finite answers (logits up to {bound:.3g})")

    @property
    def layer_sizes(self):
        return self.mlp.layer_sizes

    def predict_proba(self, batch):
        """Softmax of the temperature-scaled logits, (N, 10), for inputs (N, 784) in [0, 1]."""
        return calibrated_probabilities(
            self.mlp.forward(np.asarray(batch, dtype=np.float32)), self.temperature
        )

    def predict(self, batch):
        """The digit (N,) with the highest probability for each input row."""
        return self.mlp.forward(np.asarray(batch, dtype=np.float32)).argmax(axis=1)

    def answers(self, batch):
        """One answer per input row: digit, confidence, probabilities, uncertain.

        Ten numbers per row are read in plain Python: cheaper than as many NumPy calls.
        """
        answers = []
        for probs in self.predict_proba(batch).tolist():
            confidence = max(probs)
            answers.append(
                {
                    "digit": probs.index(confidence),
                    "confidence": round(confidence, 6),
                    "probabilities": [round(p, 6) for p in probs],
                    "uncertain": is_uncertain(confidence, self.uncertain_threshold),
                }
            )
        return answers

    def explanations(self, batch):
        """Why each row got its answer, as plain lists at full float32 precision (model/explain.py)."""
        why = explain(self.mlp, np.asarray(batch, dtype=np.float32))
        hidden = zip(*(layer.tolist() for layer in why.hidden))
        return [
            {"gradient": g, "contrast": c, "runner_up": r, "hidden": list(h), "logits": z}
            for g, c, r, h, z in zip(
                why.gradient.tolist(),
                why.contrast.tolist(),
                why.runner_up.tolist(),
                hidden,
                why.logits.tolist(),
            )
        ]
