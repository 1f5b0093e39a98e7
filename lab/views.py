"""What the page draws, computed from the network being trained: the functions each view names.

The training thread calls `gradient_norms` and `dead_unit_shares` from fit's on_step hook
(lab/history.py), with model/training.py's `evaluate` for the accuracies; `first_layer_png`
renders a copy of the weights when the page asks for the picture.
"""

import math

import numpy as np

from ..data.heatmap import diverging_rgba
from ..data.preview import png_bytes
from ..model.contract import SIDE, as_inputs

MAX_TILES = 64  # first-layer units shown, 8 x 8
TILE_GAP = 1  # transparent pixels between two units


def gradient_norms(model):
    """||dL/dW_l|| for every weight layer, first to last: the step's gradients, from backward.

    float64 sums: a diverging run's squares overflow float32 long before its loss is caught.
    """
    return [math.sqrt(np.square(g, dtype=np.float64).sum()) for g in model.grad_weights]


def dead_unit_shares(model, probe):
    """Per hidden layer, the share of units that pass no gradient for any probe image.

    A unit's gradient is scaled by its activation's slope (MLP.activation_slope): a ReLU
    whose output is 0 for every image is dead, as is a sigmoid saturated to exactly 0 or 1.
    """
    _, hidden = model.forward_hidden(as_inputs(probe, model.dtype))  # [a_1 (B, n_1), ...]
    return [float((model.activation_slope(a) == 0).all(axis=0).mean()) for a in hidden]


def first_layer_png(weights):
    """First-layer weights (or their change since the start), each unit's 784 as a 28x28 tile.

    weights (784, n_units); up to MAX_TILES units, 8 to a row; orange > 0, blue < 0, each tile
    scaled to its own largest |value| (data/heatmap.py), so a pattern shows however small.
    """
    n = min(weights.shape[1], MAX_TILES)
    columns = min(n, 8)
    rows = math.ceil(n / columns)
    step = SIDE + TILE_GAP
    mosaic = np.zeros((rows * step - TILE_GAP, columns * step - TILE_GAP, 4), dtype=np.uint8)
    for unit in range(n):
        top, left = (unit // columns) * step, (unit % columns) * step
        mosaic[top : top + SIDE, left : left + SIDE] = diverging_rgba(weights[:, unit])
    return png_bytes(mosaic, compress_level=1)  # redrawn every second: speed before bytes
