"""The loaded model: forward-only NumPy inference plus what the API reports about it."""

import hashlib
from pathlib import Path

import numpy as np

from model import WeightsError, load_weights
from model.calibration import calibrated_probabilities, read_calibration

# Weights trained before calibration carry no threshold chosen on validation data; for
# them a prediction is "uncertain" when the top digit gets less than even odds.
FALLBACK_UNCERTAIN_THRESHOLD = 0.5
INPUTS, CLASSES = 784, 10


class Classifier:
    """An MLP loaded once from `.npz`, with its metadata, file digest and model id."""

    def __init__(self, path):
        path = Path(path)
        self.mlp, self.metadata = load_weights(path)  # WeightsError names the file and the fault
        sizes = self.mlp.layer_sizes
        if (sizes[0], sizes[-1]) != (INPUTS, CLASSES):
            raise WeightsError(
                f"{path}: layer sizes {list(sizes)} do not map {INPUTS} pixels to {CLASSES} digits"
            )
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        self.model_id = f"mnist-mlp-{self.sha256[:12]}"
        try:
            self.temperature, threshold = read_calibration(self.metadata)
        except ValueError as exc:
            raise WeightsError(f"{path}: {exc}") from None
        self.uncertain_threshold = FALLBACK_UNCERTAIN_THRESHOLD if threshold is None else threshold

    @property
    def layer_sizes(self):
        return self.mlp.layer_sizes

    def probabilities(self, batch):
        """Softmax of the temperature-scaled logits, (N, 10), for inputs (N, 784) in [0, 1]."""
        return calibrated_probabilities(
            self.mlp.forward(np.asarray(batch, dtype=np.float32)), self.temperature
        )

    def predict(self, batch):
        """One answer per input row: digit, confidence, probabilities, uncertain.

        Ten numbers per row are read in plain Python: cheaper than as many NumPy calls.
        """
        answers = []
        for probs in self.probabilities(batch).tolist():
            confidence = max(probs)
            answers.append(
                {
                    "digit": probs.index(confidence),
                    "confidence": round(confidence, 6),
                    "probabilities": [round(p, 6) for p in probs],
                    "uncertain": confidence < self.uncertain_threshold,
                }
            )
        return answers


def prepared_inputs(values, shapes=((INPUTS,), (28, 28))):
    """float32 (N, 784) from numbers a client prepared itself; ValueError says what is wrong.

    `values` is a (nested) list of numbers in [0, 1] laid out as one of `shapes`; each
    784 consecutive values are one image.
    """
    try:
        array = np.array(values)
    except (ValueError, TypeError):  # ragged nesting
        raise ValueError("must be a list of numbers, not ragged") from None
    if array.dtype.kind not in "iuf":
        raise ValueError("must contain only numbers")
    if array.shape not in shapes:
        raise ValueError(
            f"has shape {list(array.shape)}; expected {' or '.join(str(list(s)) for s in shapes)}"
        )
    array = array.astype(np.float32).reshape(-1, INPUTS)
    if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
        raise ValueError("values must be in [0, 1] (MNIST pixels / 255, white digit on black)")
    return array
