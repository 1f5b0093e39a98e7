"""Non-digits for evaluation and non-digits for training: never the same kinds.

Outlier exposure (model/training.py) trains on non-digit images, and eval_rendered
reports how many non-digits the service flags. Measured on the training material in
another guise, that figure would say nothing, so the two sets are drawn from disjoint
kinds:

    category    EVALUATION: non_digits()              TRAINING: outliers(split="train" / "val")
    letters     EVAL_LETTER_FONT_DIRS: DejaVu,        TRAIN_LETTER_FONT_DIRS: Liberation,
                FreeFont                              and Pillow's built-in font
    symbols     -                                     # % & * @ = < > ~ in the training fonts
    shapes      EVAL_SHAPES                           TRAIN_SHAPES
    noise,      seed streams "noise", "scribbles"     seed streams "outliers-train/noise",
    scribbles                                         "outliers-val/noise", ... (same generators)
    digit-like  letters and shapes, evaluation only   never (training on O, I, circles, bars
                                                      would teach the network to doubt 0 and 1)

The letters themselves are the same in both: what is held out is the typeface, not the
alphabet. The "val" split is the training kinds with their own seed stream: the held-out
outliers that choose the outlier-exposure settings, so neither the MNIST test set nor the
evaluation non-digits select anything. On a machine without DejaVu and FreeFont the
evaluation letters fall back to Pillow's built-in font, a training font: the split needs
fonts-dejavu-core (CI installs it).
"""

import numpy as np

from ...model.contract import INPUTS, to_pixels
from ..imaging.preprocess import NoDigitFound, preprocess
from .non_digits import (
    ARROW,
    DIGIT_LIKE_LETTERS,
    PLAIN_LETTERS,
    PLUS,
    heart,
    letter,
    noise,
    polygon,
    scribbles,
    shape,
)
from .render import FONT_DIRS, encode, sample_rng

EVAL_LETTER_FONT_DIRS = (FONT_DIRS[0], FONT_DIRS[2])  # DejaVu, FreeFont
TRAIN_LETTER_FONT_DIRS = (FONT_DIRS[1],)  # Liberation
TRAIN_BUILTIN_FONT_SHARE = 0.125  # training letters in Pillow's built-in font
EVAL_SHAPES = {
    "rectangle": lambda: polygon(4, phase=45) * (1.0, 0.55),
    "diamond": lambda: polygon(4) * (0.7, 1.0),
    "hexagon": lambda: polygon(6, phase=0),
    "star": lambda: polygon(5, inner=0.42),
    "cross": lambda: PLUS @ np.array([[0.7071, -0.7071], [0.7071, 0.7071]]),
    "heart": heart,
}
TRAIN_SHAPES = {
    "square": lambda: polygon(4, phase=45),
    "triangle": lambda: polygon(3),
    "pentagon": lambda: polygon(5),
    "plus": lambda: PLUS,
    "arrow": lambda: ARROW,
    "trapezoid": lambda: np.array([(-1, 0.6), (1, 0.6), (0.5, -0.6), (-0.5, -0.6)]),
    "parallelogram": lambda: np.array([(-1, 0.5), (0.4, 0.5), (1, -0.5), (-0.4, -0.5)]),
}
DIGIT_LIKE_SHAPES = {  # evaluation only, reported apart
    "circle": lambda: polygon(48),
    "ellipse": lambda: polygon(48) * (0.6, 1.0),
    "bar": lambda: polygon(4, phase=45) * (0.12, 1.0),  # a vertical bar is a 1
}
OUTLIER_SYMBOLS = "#%&*@=<>~"

NON_DIGIT_CATEGORIES = (
    "letters",
    "digit_like_letters",
    "shapes",
    "digit_like_shapes",
    "noise",
    "scribbles",
)
# Categories that count against the ">= 90 % of non-digits flagged" target.
PLAIN_NON_DIGITS = ("letters", "shapes", "noise", "scribbles")
OUTLIER_CATEGORIES = ("letters", "symbols", "shapes", "noise", "scribbles")
OUTLIER_SPLITS = ("train", "val")

_EVALUATION = {
    "letters": lambda rng, i: letter(rng, i, PLAIN_LETTERS, "letters", EVAL_LETTER_FONT_DIRS),
    "digit_like_letters": lambda rng, i: letter(
        rng, i, DIGIT_LIKE_LETTERS, "digit_like_letters", EVAL_LETTER_FONT_DIRS
    ),
    "shapes": lambda rng, i: shape(rng, i, EVAL_SHAPES, "shapes"),
    "digit_like_shapes": lambda rng, i: shape(rng, i, DIGIT_LIKE_SHAPES, "digit_like_shapes"),
    "noise": noise,
    "scribbles": scribbles,
}
_TRAINING = {
    "letters": lambda rng, i: letter(
        rng, i, PLAIN_LETTERS, "letters", TRAIN_LETTER_FONT_DIRS, TRAIN_BUILTIN_FONT_SHARE
    ),
    "symbols": lambda rng, i: letter(
        rng, i, OUTLIER_SYMBOLS, "symbols", TRAIN_LETTER_FONT_DIRS, TRAIN_BUILTIN_FONT_SHARE
    ),
    "shapes": lambda rng, i: shape(rng, i, TRAIN_SHAPES, "shapes"),
    "noise": noise,
    "scribbles": scribbles,
}


def non_digits(n_per_category, seed=0, categories=NON_DIGIT_CATEGORIES):
    """EVALUATION non-digits: n_per_category samples of every category."""
    return [
        _EVALUATION[category](sample_rng(seed, category, i), i)
        for category in categories
        for i in range(n_per_category)
    ]


def outliers(n_per_category, seed=0, split="train", categories=OUTLIER_CATEGORIES):
    """TRAINING non-digits: split "train" for the pool, "val" to select the settings on."""
    if split not in OUTLIER_SPLITS:
        raise ValueError(f"split must be one of {OUTLIER_SPLITS}, got {split!r}")
    return [
        _TRAINING[category](sample_rng(seed, f"outliers-{split}/{category}", i), i)
        for category in categories
        for i in range(n_per_category)
    ]


def outlier_pool(n_per_category, seed=0, split="train", categories=OUTLIER_CATEGORIES):
    """Training outliers as network inputs: (uint8 (N, 784) like MNIST, categories (N,)).

    Each image goes through the one `preprocess`, as an upload would; the ones it refuses
    (NoDigitFound: blank pages, most noise) never reach the network and are left out, so
    N can be below n_per_category * len(categories).
    """
    inputs, kinds = [], []
    for sample in outliers(n_per_category, seed, split, categories):
        try:
            x = preprocess(encode(sample))
        except NoDigitFound:
            continue
        inputs.append(to_pixels(x))
        kinds.append(sample.category)
    return np.asarray(inputs, dtype=np.uint8).reshape(-1, INPUTS), np.asarray(kinds, dtype=str)
