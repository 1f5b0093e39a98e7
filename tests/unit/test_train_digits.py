"""The training digits beyond MNIST (data/synth/train_digits.py): what they are, and that they never
share a face or a pen path with the evaluation styles (data/synth/digit_styles.py)."""

import ast
import json
import re
from html import unescape
from pathlib import Path

import numpy as np

import mnist_mlp.data.synth.digit_styles as digit_styles
import mnist_mlp.data.synth.train_digits as train_digits
from mnist_mlp.data.synth.digit_styles import DIGIT_STYLES, rendered_digits
from mnist_mlp.data.synth.render import PAGE_EXPORT_SIDE, PAGE_LINE_WIDTH, font_files
from mnist_mlp.data.synth.skeleton import thin
from mnist_mlp.data.synth.train_digits import TRAIN_DIGIT_KINDS, TRAIN_FONT, restroked, training_digits
from mnist_mlp.model.contract import SIDE
from mnist_mlp.service import create_app
from tests.machine import skip_or_fail


def stroke_width(images):
    """2 * ink / total variation of (N, H, W) images: about a pen's width, in pixels."""
    f = images.astype(np.float64)
    variation = np.abs(np.diff(f, axis=1)).sum((1, 2)) + np.abs(np.diff(f, axis=2)).sum((1, 2))
    return 2 * f.sum((1, 2)) / variation


def imported_modules(module):
    tree = ast.parse(Path(module.__file__).read_text())
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_thin_leaves_a_one_pixel_line_and_works_on_a_batch():
    bars = np.zeros((2, 28, 28), bool)
    bars[0, 4:24, 10:16] = True  # a vertical bar 6 px wide
    bars[1, 12:17, 3:25] = True  # a horizontal one, 5 px high
    skeletons = thin(bars)
    assert skeletons[0].sum(axis=1)[8:20].max() == 1 and skeletons[0].any(axis=1)[8:20].all()
    assert skeletons[1].sum(axis=0)[7:21].max() == 1 and skeletons[1].any(axis=0)[7:21].all()
    assert (thin(bars[1]) == skeletons[1]).all()


def test_restroked_pen_widths_reach_past_mnists_own_on_both_sides(mnist):
    """Measured on the pages, before the preprocessing thins the heaviest pens again."""
    x_train, _, _, _ = mnist
    skeletons = thin(x_train[:200].reshape(-1, SIDE, SIDE) > 128)
    pages = [255 - np.asarray(restroked(s, np.random.default_rng(i))) for i, s in enumerate(skeletons)]
    widths = np.concatenate([stroke_width(page[None]) for page in pages]) / train_digits.SCALE
    mnist_widths = stroke_width(x_train[:2000].reshape(-1, SIDE, SIDE))
    assert np.percentile(widths, 10) < np.percentile(mnist_widths, 10)
    assert np.percentile(widths, 90) > np.percentile(mnist_widths, 90) + 0.5


def test_restroked_digits_keep_the_labels_of_the_images_they_come_from(mnist):
    x_train, y_train, _, _ = mnist
    threes = x_train[y_train == 3][:40]
    x, y, kinds = training_digits(threes, np.full(len(threes), 3), 40, seed=0)
    assert set(kinds) == set(TRAIN_DIGIT_KINDS)
    assert (y[kinds == "restroked"] == 3).all()
    for kind in ("font", "font_pen"):  # every digit in turn; a few refused pages may drop out
        assert np.bincount(y[kinds == kind], minlength=10).min() >= 3


def test_restroked_is_reproducible_and_depends_on_its_stream():
    skeleton = np.zeros((28, 28), bool)
    skeleton[5:23, 14] = True
    one, two = (np.asarray(restroked(skeleton, np.random.default_rng(s))) for s in (0, 0))
    other = np.asarray(restroked(skeleton, np.random.default_rng(1)))
    assert (one == two).all() and not np.array_equal(one, other)


def test_evaluation_styles_never_use_the_training_face():
    if not any(font_files().values()):
        skip_or_fail("no TrueType fonts in FONT_DIRS: the evaluation would fall back to the training face")
    assert TRAIN_FONT is None  # Pillow's built-in face, which font_files() never lists
    faces = {s.detail.split()[0] for s in rendered_digits(30, seed=2) if s.category not in PEN_STYLES}
    assert faces and "pillow-default" not in faces


PEN_STYLES = ("hand_drawn", "page_large", "page_half", "page_third")


def test_training_and_evaluation_digits_are_made_by_separate_modules():
    """Training pen paths are MNIST training skeletons, evaluation pen paths DIGIT_STROKES: neither
    module may borrow from the other."""
    assert not any("digit_styles" in m for m in imported_modules(train_digits))
    assert not any("train_digits" in m for m in imported_modules(digit_styles))
    assert set(PEN_STYLES) <= set(DIGIT_STYLES)


def test_the_page_is_handed_the_pen_the_renderer_draws_with():
    """One source, data/imaging/drawing.json: the page reads it from its body's data-pen (the browser test
    test_the_page_draws_with_the_renderers_pen checks that its export matches page_export)."""
    html = create_app().test_client().get("/").get_data(as_text=True)
    pen = json.loads(unescape(re.search(r"data-pen='([^']*)'", html).group(1)))
    assert pen == {"line_width": PAGE_LINE_WIDTH, "export_side": PAGE_EXPORT_SIDE}
