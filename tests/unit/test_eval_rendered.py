"""The rendered evaluation sets (data/synth/digit_styles.py, data/synth/outliers.py) and a small run
of eval_rendered."""

import json

import numpy as np
import pytest

from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.data.synth import render
from mnist_mlp.data.synth.digit_styles import DIGIT_STYLES, rendered_digits
from mnist_mlp.data.synth.non_digits import DIGIT_LIKE_LETTERS, PLAIN_LETTERS
from mnist_mlp.data.synth.outliers import (
    EVAL_SHAPES,
    NON_DIGIT_CATEGORIES,
    PLAIN_NON_DIGITS,
    TRAIN_SHAPES,
    non_digits,
)
from mnist_mlp.data.synth.render import encode
from mnist_mlp.model import DEFAULT_WEIGHTS
from mnist_mlp.scripts import eval_rendered

N = 10  # per style: every digit once


@pytest.fixture(scope="module")
def digits():
    return rendered_digits(N, seed=3)


@pytest.fixture(scope="module")
def others():
    return non_digits(N, seed=3)


def pixels(sample):
    return np.asarray(sample.image)


def test_digits_come_in_every_style_with_labels_0_to_9(digits):
    assert [s.category for s in digits] == [style for style in DIGIT_STYLES for _ in range(N)]
    assert [s.label for s in digits] == list(range(10)) * len(DIGIT_STYLES)
    assert all(s.kind == "digit" for s in digits)


def test_non_digits_cover_every_category_without_labels(others):
    assert [s.category for s in others] == [c for c in NON_DIGIT_CATEGORIES for _ in range(N)]
    assert all(s.label is None and s.kind == "non_digit" for s in others)
    assert set(PLAIN_NON_DIGITS) < set(NON_DIGIT_CATEGORIES)


def test_same_seed_same_images_and_more_samples_keep_the_first(digits, others):
    again = rendered_digits(N + 5, seed=3)
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(digits, again[:N]))
    assert all(encode(a) == encode(b) for a, b in zip(others[:5], non_digits(N, seed=3)[:5]))


def test_another_seed_gives_other_images(digits):
    other = rendered_digits(N, seed=4)
    same = [
        a.image.size == b.image.size and np.array_equal(pixels(a), pixels(b)) for a, b in zip(digits, other)
    ]
    assert sum(same) < len(same) // 10


def test_digit_pages_are_dark_ink_on_light_paper(digits):
    for sample in digits:
        page = pixels(sample)
        border = np.concatenate([page[0], page[-1], page[:, 0], page[:, -1]])
        assert np.median(border) >= 150, sample.detail  # light paper all round
        assert page.min() <= np.median(border) - 60, sample.detail  # and visible ink
        assert min(page.shape) >= 20


def test_every_rendered_image_encodes_and_digits_preprocess(digits, others):
    for sample in digits:
        data = encode(sample)
        assert data[:4] == (b"\xff\xd8\xff\xe0" if sample.fmt == "JPEG" else b"\x89PNG")
        x = preprocess(data)
        assert x.shape == (784,) and x.max() > 0.5
    assert all(encode(s) for s in others)


def test_jpeg_style_is_jpeg(digits):
    assert {s.fmt for s in digits if s.category == "jpeg"} == {"JPEG"}
    assert {s.fmt for s in digits if s.category != "jpeg"} == {"PNG"}


def test_digit_like_letters_are_kept_out_of_plain_letters():
    assert not set(PLAIN_LETTERS) & set(DIGIT_LIKE_LETTERS)
    assert {"O", "I", "l", "S", "Z", "B", "G", "g", "q"} <= set(DIGIT_LIKE_LETTERS)


def test_non_digits_are_the_evaluation_kinds_only(others):
    """Outlier exposure trains on Liberation letters and TRAIN_SHAPES: never scored on them."""
    for sample in others:
        if sample.category in ("letters", "digit_like_letters"):
            assert not sample.detail.split()[1].startswith("Liberation"), sample.detail
        if sample.category == "shapes":
            assert sample.detail.split()[0] in EVAL_SHAPES, sample.detail
    assert not set(EVAL_SHAPES) & set(TRAIN_SHAPES)


def test_without_fonts_pillows_builtin_font_stands_in(monkeypatch):
    monkeypatch.setattr(
        render, "font_files", lambda dirs=None: {"regular": [], "bold": [], "italic": [], "light": []}
    )
    samples = rendered_digits(3, seed=0, styles=("sans", "small", "jpeg"))
    assert {s.detail.split()[0] for s in samples} == {"pillow-default"}
    assert all(preprocess(encode(s)).max() > 0.5 for s in samples)


def test_end_to_end_small_run(mnist_dir, tmp_path, capsys):
    report_path = tmp_path / "out" / "rendered.json"
    eval_rendered.main(
        [
            "--weights",
            str(DEFAULT_WEIGHTS),
            "--data-dir",
            str(mnist_dir),
            "--json",
            str(report_path),
            "--per-style",
            str(N),
            "--markdown",
            str(tmp_path / "rendered.md"),
        ]
    )
    report = json.loads(report_path.read_text())
    digits, others, test = report["rendered_digits"], report["non_digits"], report["mnist_test"]
    assert list(digits["by_style"]) == list(DIGIT_STYLES)
    assert list(others["by_category"]) == list(NON_DIGIT_CATEGORIES)
    assert digits["overall"]["n"] == N * len(DIGIT_STYLES) and test["n"] == 10_000
    shares = [
        *(s[k] for s in [*digits["by_style"].values(), digits["overall"]] for k in ("accuracy", "flagged")),
        *(s[k] for s in [*others["by_category"].values(), others["plain"]] for k in ("flagged", "refused")),
        test["accuracy"],
        test["flagged"],
    ]
    assert all(0.0 <= v <= 1.0 for v in shares)
    for s in others["by_category"].values():  # flagged = uncertain + refused
        assert s["flagged"] == pytest.approx(s["uncertain"] + s["refused"])
    assert digits["overall"]["errors"] == 0 and others["plain"]["errors"] == 0
    assert digits["overall"]["accuracy"] >= 0.80
    assert test["accuracy"] >= 0.97 and test["flagged"] <= 0.10
    met = {"style_accuracy", "rendered_accuracy", "non_digits_flagged", "test_digits_flagged"}
    assert set(report["targets"]["met"]) == met
    assert report["non_digit_split"]["shapes"] == sorted(EVAL_SHAPES)
    assert "outlier_exposure" in report
    assert 0 < report["threshold"]["value"] < 1
    sheet = report_path.with_suffix(".samples.png").read_bytes()
    assert sheet.startswith(b"\x89PNG") and len(sheet) > 20_000
    assert "| **all** |" in (tmp_path / "rendered.md").read_text()
    printed = capsys.readouterr().out
    assert "hand_drawn" in printed and "MNIST test" in printed


def test_cli_rejects_a_bad_per_style():
    with pytest.raises(SystemExit):
        eval_rendered.parse_args(["--per-style", "0"])


def test_page_export_rounds_corners_as_the_canvas_does():
    """The page strokes quadratic curves through the midpoints: a corner is cut, the ends are kept."""
    path = render.as_page_draws(np.array([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]))
    assert tuple(path[0]) == (0.0, 0.0) and tuple(path[-1]) == (1.0, 1.0)
    assert np.hypot(*(path - (1.0, 0.0)).T).min() > 0.2


def test_page_drawings_are_the_pages_own_export():
    for sample in rendered_digits(3, seed=1, styles=("page_large", "page_half", "page_third")):
        assert sample.image.size == (render.PAGE_EXPORT_SIDE, render.PAGE_EXPORT_SIDE)
        assert sample.image.mode == "L" and np.asarray(sample.image).min() < 64
