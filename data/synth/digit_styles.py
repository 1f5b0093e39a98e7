"""Digits unlike MNIST's, for evaluation only: typeset in many faces, drawn with a pen, degraded.

    samples = rendered_digits(n_per_style=50, seed=0)     # [Sample], labels 0..9 in turn

Nineteen styles (DIGIT_STYLES): font families and weights, ImageDraw stroke widths,
slants, rotations, sizes and positions, a thick round pen like a mouse on the drawing
page, JPEG, grey paper; pen paths drawn large, half and a third of the drawing page's
canvas high and exported as the page exports them (`render.page_export`); digits
scanned at 8-16 px and enlarged; strongly slanted digits. None of them is used in
training: data/synth/train_digits.py keeps the training digits apart.
"""

import math

import numpy as np

from .render import (
    PAGE_LINE_WIDTH,
    Sample,
    font_name,
    jitter,
    low_resolution,
    page_export,
    paste_on_page,
    pick_font,
    random_canvas,
    sample_rng,
    slant,
    stroke_mask,
    text_mask,
    wobble,
)

DIGIT_STYLES = (
    "sans",
    "serif",
    "mono",
    "bold",
    "thin",
    "heavy_stroke",
    "italic",
    "small",
    "large",
    "off_centre",
    "rotated",
    "hand_drawn",
    "jpeg",
    "gray_paper",
    "page_large",
    "page_half",
    "page_third",
    "low_res",
    "slanted",
)
PAGE_HEIGHTS = {"page_large": (0.6, 0.9), "page_half": (0.45, 0.55), "page_third": (0.3, 0.36)}


def rendered_digits(n_per_style, seed=0, styles=DIGIT_STYLES):
    """n_per_style samples of every style, labels 0, 1, ..., 9, 0, ... within a style."""
    return [
        _DIGIT_STYLES[style](sample_rng(seed, style, i), i % 10)
        for style in styles
        for i in range(n_per_style)
    ]


def _typeset(rng, label, style, group, family=None, height=(0.45, 0.75), stroke=0.0, angle=0.0, shear=0.0):
    """A font-rendered digit on a canvas, its glyph height a share `height` of the canvas."""
    canvas = random_canvas(rng)
    font = pick_font(rng, group, family)
    px = rng.uniform(*height) * min(canvas)
    # Font size sets the em, not the digit: digits are about 0.73 em tall in these fonts
    size = max(8, int(px / 0.73))
    mask = text_mask(str(label), font, size, int(stroke * size))
    mask = slant(mask, angle, shear)
    page = paste_on_page(rng, mask, canvas, jitter(rng))
    return Sample("digit", style, label, page, detail=font_name(font))


def _sans(rng, label):
    return _typeset(rng, label, "sans", "regular", "Sans", angle=rng.uniform(-3, 3))


def _serif(rng, label):
    return _typeset(rng, label, "serif", "regular", "Serif", angle=rng.uniform(-3, 3))


def _mono(rng, label):
    return _typeset(rng, label, "mono", "regular", "Mono", angle=rng.uniform(-3, 3))


def _bold(rng, label):
    return _typeset(rng, label, "bold", "bold", angle=rng.uniform(-3, 3))


def _thin(rng, label):
    # ExtraLight where installed; elsewhere a regular face at a large size is the thinnest stroke
    return _typeset(rng, label, "thin", "light", "Sans", height=(0.6, 0.85))


def _heavy_stroke(rng, label):
    # ImageDraw's stroke outlines every glyph edge: a marker pen on a regular face
    return _typeset(rng, label, "heavy_stroke", "regular", stroke=rng.uniform(0.04, 0.08))


def _italic(rng, label):
    return _typeset(rng, label, "italic", "italic", shear=rng.uniform(0.0, 0.2))


def _small(rng, label):
    canvas = random_canvas(rng, 200, 320)
    font = pick_font(rng, str(rng.choice(["regular", "bold"])))
    mask = text_mask(str(label), font, int(rng.uniform(12, 22) / 0.73))
    page = paste_on_page(rng, mask, canvas, tuple(rng.uniform(0.2, 0.8, 2)))
    return Sample("digit", "small", label, page, detail=font_name(font))


def _large(rng, label):
    # glyph nearly as tall as the canvas: 2-6 px from the edges
    font = pick_font(rng, str(rng.choice(["regular", "bold"])))
    mask = text_mask(str(label), font, int(rng.uniform(120, 260) / 0.73))
    margin = int(rng.integers(2, 7))
    canvas = (mask.width + 2 * margin + int(rng.integers(0, 80)), mask.height + 2 * margin)
    page = paste_on_page(rng, mask, canvas, jitter(rng, 0.2))
    return Sample("digit", "large", label, page, detail=font_name(font))


def _off_centre(rng, label):
    canvas = random_canvas(rng, 200, 320)
    font = pick_font(rng, str(rng.choice(["regular", "bold"])))
    mask = text_mask(str(label), font, int(rng.uniform(0.2, 0.35) * min(canvas) / 0.73))
    corner = rng.choice([0.12, 0.88], 2) + rng.uniform(-0.05, 0.05, 2)
    page = paste_on_page(rng, mask, canvas, tuple(corner))
    return Sample("digit", "off_centre", label, page, detail=font_name(font))


def _rotated(rng, label):
    angle = rng.uniform(10, 25) * rng.choice([-1, 1])
    sample = _typeset(rng, label, "rotated", str(rng.choice(["regular", "bold"])), angle=angle)
    return Sample("digit", "rotated", label, sample.image, detail=f"{sample.detail} {angle:+.0f}deg")


def _jpeg(rng, label):
    sample = _typeset(rng, label, "jpeg", str(rng.choice(["regular", "bold", "italic"])))
    quality = int(rng.integers(15, 50))
    return Sample("digit", "jpeg", label, sample.image, "JPEG", quality, f"{sample.detail} q{quality}")


def _gray_paper(rng, label):
    # a pencil on grey paper: lower contrast and grain, the paper still the lighter side
    canvas = random_canvas(rng)
    font = pick_font(rng, str(rng.choice(["regular", "bold"])))
    mask = text_mask(str(label), font, int(rng.uniform(0.45, 0.7) * min(canvas) / 0.73))
    ink, paper = int(rng.integers(40, 110)), int(rng.integers(170, 235))
    page = paste_on_page(rng, mask, canvas, jitter(rng), ink, paper, noise=rng.uniform(3, 10))
    return Sample("digit", "gray_paper", label, page, detail=f"{font_name(font)} {ink}/{paper}")


def _arc(cx, cy, rx, ry, start, stop, n=24):
    """Points on an ellipse from angle `start` to `stop` (degrees; 0 = right, 90 = down)."""
    t = np.deg2rad(np.linspace(start, stop, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _chain(*parts):
    return np.concatenate([np.atleast_2d(p) for p in parts])


# Digits as a person draws them with a mouse: pen paths in a box about 0.6 wide, 1 tall.
DIGIT_STROKES = {
    0: [_arc(0.3, 0.5, 0.26, 0.46, -90, 270, 40)],
    1: [[(0.12, 0.22), (0.32, 0.04), (0.32, 0.98)]],
    2: [_chain(_arc(0.3, 0.3, 0.25, 0.24, 200, 400), [(0.04, 0.96), (0.6, 0.96)])],
    3: [_chain(_arc(0.3, 0.27, 0.22, 0.22, 200, 450), _arc(0.3, 0.72, 0.26, 0.24, 270, 520))],
    4: [[(0.46, 0.98), (0.46, 0.04), (0.02, 0.66), (0.62, 0.66)]],
    5: [_chain([(0.58, 0.04), (0.12, 0.04), (0.08, 0.46)], _arc(0.3, 0.68, 0.27, 0.28, 225, 520))],
    6: [_chain(_arc(0.4, 0.55, 0.36, 0.5, 290, 170, 20), _arc(0.32, 0.72, 0.25, 0.25, 170, 530))],
    7: [[(0.02, 0.04), (0.62, 0.04), (0.22, 0.98)]],
    8: [_arc(0.3, 0.27, 0.21, 0.22, 90, 450), _arc(0.3, 0.73, 0.26, 0.24, -90, 270)],
    9: [_chain(_arc(0.3, 0.3, 0.25, 0.26, 0, 360), [(0.55, 0.3), (0.5, 0.98)])],
}


def _hand_lines(rng, label):
    """DIGIT_STROKES[label] as one hand draws it: a random slant, squash and tilt, and a wobble."""
    shear, squash, tilt = rng.uniform(-0.25, 0.25), rng.uniform(0.75, 1.3), np.deg2rad(rng.uniform(-10, 10))
    matrix = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    matrix = matrix @ np.array([[squash, -shear], [0.0, 1.0]])
    return [wobble(rng, line, 0.012) @ matrix.T for line in DIGIT_STROKES[label]]


def _hand_drawn(rng, label):
    canvas = random_canvas(rng, 200, 300)
    height = rng.uniform(0.45, 0.8) * min(canvas)
    lines = _hand_lines(rng, label)
    pen = rng.uniform(0.08, 0.17) * height
    mask = stroke_mask(lines, height, pen)
    page = paste_on_page(rng, mask, canvas, jitter(rng, 0.12))
    return Sample("digit", "hand_drawn", label, page, detail=f"pen {pen:.0f}px")


def on_page_canvas(rng, lines, height):
    """Polylines scaled to `height` of the page's canvas (units 0..1), at a random place inside it."""
    low = np.min([line.min(axis=0) for line in lines], axis=0)
    high = np.max([line.max(axis=0) for line in lines], axis=0)
    scale = height / (high[1] - low[1])
    size = (high - low) * scale
    margin = PAGE_LINE_WIDTH  # the pen's half width and a little paper
    corner = margin + rng.uniform(0, 1, 2) * np.maximum(1 - 2 * margin - size, 0)
    return [(line - low) * scale + corner for line in lines]


def page_strokes(rng, label, style):
    """(polylines in canvas units, height): `label` drawn with the mouse on the page,
    PAGE_HEIGHTS[style] of the canvas high. The browser tests trace these on the real page."""
    height = rng.uniform(*PAGE_HEIGHTS[style])
    return on_page_canvas(rng, _hand_lines(rng, label), height), height


def _page_drawing(rng, label, style):
    """A digit drawn with the mouse on the page, as the page exports it."""
    lines, height = page_strokes(rng, label, style)
    return Sample("digit", style, label, page_export(lines), detail=f"{height:.0%} of the canvas")


def _low_res(rng, label):
    sample = _typeset(rng, label, "low_res", str(rng.choice(["regular", "bold"])))
    digit_height = rng.uniform(8, 16)  # px of the digit in the coarse scan
    ink_rows = np.flatnonzero(np.asarray(sample.image).min(axis=1) < 128)
    share = (ink_rows[-1] - ink_rows[0] + 1) / sample.image.height
    page = low_resolution(sample.image, digit_height / share, rng.uniform(0, 1.5))
    return Sample("digit", "low_res", label, page, detail=f"{sample.detail} {digit_height:.0f}px")


def _slanted(rng, label):
    shear = rng.uniform(0.25, 0.45) * rng.choice([-1, 1], p=[0.25, 0.75])  # most writers lean right
    sample = _typeset(rng, label, "slanted", str(rng.choice(["regular", "bold"])), shear=shear)
    return Sample("digit", "slanted", label, sample.image, detail=f"{sample.detail} shear {shear:+.2f}")


_DIGIT_STYLES = {
    "sans": _sans,
    "serif": _serif,
    "mono": _mono,
    "bold": _bold,
    "thin": _thin,
    "heavy_stroke": _heavy_stroke,
    "italic": _italic,
    "small": _small,
    "large": _large,
    "off_centre": _off_centre,
    "rotated": _rotated,
    "hand_drawn": _hand_drawn,
    "jpeg": _jpeg,
    "gray_paper": _gray_paper,
    "page_large": lambda rng, label: _page_drawing(rng, label, "page_large"),
    "page_half": lambda rng, label: _page_drawing(rng, label, "page_half"),
    "page_third": lambda rng, label: _page_drawing(rng, label, "page_third"),
    "low_res": _low_res,
    "slanted": _slanted,
}
