"""28x28 images of signed values (evidence for and against, a unit's weights) as PNG data URLs.

Diverging colours: positive values orange, negative blue, both readable on the light and the
dark page and on the white-on-black MNIST input; opacity grows with |value|, so the image can
lie over the input it explains. Pillow is needed for the PNG, so this lives in data/, not model/.
"""

import numpy as np

from ...model.contract import SIDE
from .preview import data_url, png_bytes

FOR_RGB = (255, 140, 0)  # orange: raises the score
AGAINST_RGB = (0, 140, 255)  # blue: lowers it


def diverging_rgba(values):
    """uint8 (28, 28, 4) for 784 signed values, scaled so the largest |value| is fully opaque."""
    values = np.asarray(values, dtype=np.float64).reshape(SIDE, SIDE)
    peak = np.abs(values).max()
    strength = np.abs(values) / peak if peak > 0 else np.zeros_like(values)
    rgba = np.empty((SIDE, SIDE, 4), dtype=np.uint8)
    rgba[..., :3] = np.where(values[..., None] >= 0, FOR_RGB, AGAINST_RGB)
    # square root: weaker evidence stays visible next to the strongest pixel
    rgba[..., 3] = np.rint(255 * np.sqrt(strength))
    return rgba


def heatmap_data_url(gradient, inputs):
    """gradient x input over the 28x28 input: how much each pixel's ink added to the score."""
    return data_url(png_bytes(diverging_rgba(np.multiply(gradient, inputs))))


def add_heatmaps(explanations, inputs):
    """Each of Classifier.explanations(inputs) gains "heatmap" and "contrast_heatmap" data: URLs."""
    for explanation, x in zip(explanations, inputs):
        explanation["heatmap"] = heatmap_data_url(explanation["gradient"], x)
        explanation["contrast_heatmap"] = heatmap_data_url(explanation["contrast"], x)
    return explanations
