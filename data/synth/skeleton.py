"""One-pixel skeletons of boolean images (Zhang-Suen thinning), a whole batch at a time.

    skeletons = thin(images > 128)     # (..., H, W) bool -> the same shape, bool

The pen path a writer's stroke followed, whatever the pen's width: the training digits
re-stroke MNIST's skeletons with other pens, and the browser tests trace them into mouse
strokes. Every step works on the stacked images at once (slices of a padded array).
"""

import numpy as np


def thin(binary):
    """Zhang-Suen thinning of (..., H, W) booleans."""
    img = np.pad(np.asarray(binary, dtype=np.uint8), [(0, 0)] * (np.ndim(binary) - 2) + [(1, 1), (1, 1)])
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            kill = _removable(img, step)
            if kill.any():
                img[..., 1:-1, 1:-1][kill] = 0
                changed = True
    return img[..., 1:-1, 1:-1].astype(bool)


def _removable(img, step):
    """The border pixels that sub-iteration `step` removes."""
    # P2..P9, clockwise from north
    n = [
        img[..., :-2, 1:-1], img[..., :-2, 2:], img[..., 1:-1, 2:], img[..., 2:, 2:],
        img[..., 2:, 1:-1], img[..., 2:, :-2], img[..., 1:-1, :-2], img[..., :-2, :-2],
    ]  # fmt: skip
    neighbours = sum(n)
    ring = n + [n[0]]
    transitions = sum(((ring[i] == 0) & (ring[i + 1] == 1)).astype(np.uint8) for i in range(8))
    p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
    if step == 0:
        side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    else:
        side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return (img[..., 1:-1, 1:-1] == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & side
