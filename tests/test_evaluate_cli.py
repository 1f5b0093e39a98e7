"""The evaluation report's figures, on hand-made probabilities (no MNIST files needed)."""

import numpy as np

from mnist_mlp.scripts.evaluate import flagged_figures


def test_flagged_share_and_accuracy_on_the_digits_not_flagged():
    probabilities = np.array(
        [
            [0.9, 0.1] + [0] * 8,  # right, sure
            [0.6, 0.4] + [0] * 8,  # right, flagged
            [0.3, 0.7] + [0] * 8,  # wrong, flagged
            [0.05, 0.95] + [0] * 8,  # wrong, sure
        ]
    )
    figures = flagged_figures(probabilities, np.array([0, 0, 0, 0]), threshold=0.75)
    assert figures == {"flagged_share": 0.5, "accuracy_not_flagged": 0.5, "uncertain_threshold": 0.75}
    everything_flagged = flagged_figures(probabilities, np.zeros(4, dtype=int), threshold=1.0)
    assert everything_flagged["flagged_share"] == 1 and everything_flagged["accuracy_not_flagged"] is None
