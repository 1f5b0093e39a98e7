"""Digits for TRAINING beyond MNIST's writers, never the evaluation styles.

    x, y, kinds = training_digits(x_train, y_train, n_per_kind=4000, seed=0)   # uint8 (N, 784)

MNIST's writers used one kind of pen, and MNIST's scanner one resolution. These digits
show the network other pens and other inputs, made by the project itself:

    kind        TRAINING: training_digits()                EVALUATION: digit_styles.py
    pen paths   "restroked": skeletons of the MNIST        DIGIT_STROKES: hand-made pen
                TRAINING images (never validation or       templates, drawn with a wobble,
                test) redrawn with a round pen 1-4.5 px    on pages and on the page's canvas
                wide, each point jittered
    fonts       "font": Pillow's built-in face             the installed faces of FONT_DIRS:
                (Aileron), bold by stroking, slanted,      DejaVu, Liberation, FreeFont
                turned; "font_pen": its skeletons
                re-stroked as the pen paths are (printed
                shapes, such as a closed 4, written)
    degraded    a share of every kind reduced to an 8-16   the evaluation's own digits,
                px tall digit and enlarged, blurred,       reduced, JPEG'd or on grey paper
                JPEG-compressed                            by the styles' own seed streams

So what the evaluation measures on fonts and pen strokes is always a face or a pen path the
network never trained on. On a machine with no TrueType fonts the evaluation falls back to
Pillow's built-in face, a training face: the split needs FONT_DIRS installed (CI installs
them), as the non-digit split of data/synth/outliers.py does. Every image goes through the
service's own frame-making (`preprocess.to_mnist_frame`), as an upload would.
"""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from ...model.contract import INPUTS, SIDE, to_pixels
from ..imaging.preprocess import FIT, NoDigitFound, to_mnist_frame
from .render import low_resolution, sample_rng, slant, text_mask
from .skeleton import thin

TRAIN_DIGIT_KINDS = ("restroked", "font", "font_pen")
TRAIN_FONT = None  # Pillow's built-in face: in no evaluation style (render.font_files never lists it)
PEN_WIDTHS = (1.0, 4.5)  # px in the 28x28 frame, drawn log-uniformly; MNIST's median is about 2
SCALE = 4  # pen paths are drawn this much larger than 28x28, then reduced by the preprocessing
POINT_JITTER = 0.15  # px, the hand's unsteadiness around each skeleton pixel
LOW_RES_SHARE = 0.25
JPEG_SHARE = 0.15
MARGIN = 6  # px of paper around the ink of a training page
# 8-neighbour steps that join skeleton pixels: each pair once
JOINS = ((0, 1), (1, 0), (1, 1), (1, -1))


def training_digits(x_train, y_train, n_per_kind, seed=0):
    """(uint8 (N, 784), labels (N,), kinds (N,)) of every TRAIN_DIGIT_KINDS kind.

    The restroked digits are MNIST images x_train (the training split only) with their
    labels y_train, picked at random; images the preprocessing refuses are left out.
    """
    inputs, labels, kinds = [], [], []
    for i, (page, label, kind) in enumerate(_pages(x_train, y_train, n_per_kind, seed)):
        try:
            frame = to_mnist_frame(np.asarray(degraded(page, sample_rng(seed, "train-digits/degraded", i))))
        except NoDigitFound:
            continue
        inputs.append(to_pixels(frame))
        labels.append(label)
        kinds.append(kind)
    return np.asarray(inputs, np.uint8).reshape(-1, INPUTS), np.asarray(labels), np.asarray(kinds)


def _pages(x_train, y_train, n_per_kind, seed):
    """(page, label, kind) of every kind in turn, one page at a time."""
    # a small split lends an image more than once: each copy gets its own pen
    lend = n_per_kind > len(x_train)
    picks = np.random.default_rng([seed, 17]).choice(len(x_train), n_per_kind, replace=lend)
    skeletons = thin(x_train[picks].reshape(-1, SIDE, SIDE) > 128)
    for i, (skeleton, label) in enumerate(zip(skeletons, y_train[picks])):
        yield restroked(skeleton, sample_rng(seed, "train-digits/restroked", i)), int(label), "restroked"
    for kind, draw in (("font", font_digit), ("font_pen", font_pen_digit)):
        for i in range(n_per_kind):
            yield draw(i % 10, sample_rng(seed, f"train-digits/{kind}", i)), i % 10, kind


def restroked(skeleton, rng, scale=SCALE):
    """A page with the skeleton (bool, MNIST's 28x28 or finer) redrawn, `scale` times larger,
    by a round pen whose width is drawn for a 28-pixel frame."""
    fineness = skeleton.shape[0] / SIDE  # skeleton pixels per pixel of a 28x28 frame
    pen = scale * fineness * np.exp(rng.uniform(*np.log(PEN_WIDTHS)))
    rows, cols = np.nonzero(skeleton)
    jitter = rng.normal(0, POINT_JITTER * fineness, (len(rows), 2))
    points = (np.stack([cols, rows], axis=1) + 0.5 + jitter) * scale
    where = -np.ones(skeleton.shape, int)
    where[rows, cols] = np.arange(len(rows))
    mask = Image.new("L", (skeleton.shape[1] * scale, skeleton.shape[0] * scale), 0)
    draw = ImageDraw.Draw(mask)
    for x, y in points:
        draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    for d_row, d_col in JOINS:
        for a, b in _neighbour_pairs(where, d_row, d_col):
            draw.line((*points[a], *points[b]), fill=255, width=round(pen))
    return _on_paper(mask)


def _neighbour_pairs(where, d_row, d_col):
    """Index pairs (a, b) of skeleton pixels b = a + (d_row, d_col)."""
    padded = np.pad(where, 1, constant_values=-1)
    height, width = where.shape
    shifted = padded[1 + d_row : 1 + d_row + height, 1 + d_col : 1 + d_col + width]
    both = (where >= 0) & (shifted >= 0)
    return zip(where[both], shifted[both])


def font_digit(label, rng):
    """A page with `label` in the built-in face: a random size, stroke (bold), slant and turn."""
    return _on_paper(_font_mask(label, rng, max_bold=0.09))


def _font_mask(label, rng, max_bold):
    size = int(rng.uniform(28, 110))
    mask = text_mask(str(label), TRAIN_FONT, size, int(rng.uniform(0, max_bold) * size))
    return slant(mask, rng.uniform(-12, 12), rng.uniform(-0.15, 0.35))


def font_pen_digit(label, rng):
    """`label` in the built-in face as a pen writes it: the glyph's skeleton, re-stroked.

    The glyph is thinned in a frame twice MNIST's, where the skeleton keeps the openings of
    the face (the gap of a 6, the flag of a 1) that 28 px, or a bold stroke, would close.
    """
    mask = _font_mask(label, rng, max_bold=0.0)
    mask.thumbnail((2 * FIT, 2 * FIT), Image.Resampling.BOX)
    frame = Image.new("L", (2 * SIDE, 2 * SIDE), 0)
    frame.paste(mask, ((2 * SIDE - mask.width) // 2, (2 * SIDE - mask.height) // 2))
    return restroked(thin(np.asarray(frame) > 128), rng, scale=2)


def _on_paper(mask):
    """Dark ink on white paper, with a margin of paper around the ink."""
    return ImageOps.expand(Image.eval(mask, lambda level: 255 - level), MARGIN, fill=255)


def degraded(page, rng):
    """The page as a coarse scan (LOW_RES_SHARE) and/or as a JPEG (JPEG_SHARE), else as it is."""
    if rng.random() < LOW_RES_SHARE:
        digit_height = rng.uniform(8, 16)  # px; the ink is the page less its paper margins
        page = low_resolution(
            page, page.height * digit_height / (page.height - 2 * MARGIN), rng.uniform(0, 1.2)
        )
    if rng.random() < JPEG_SHARE:
        buffer = io.BytesIO()
        page.save(buffer, "JPEG", quality=int(rng.integers(15, 60)))
        page = Image.open(buffer).convert("L")
    return page
