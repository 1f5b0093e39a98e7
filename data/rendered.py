"""Images unlike MNIST, for evaluation only: rendered digits by style, and non-digits.

    from data.rendered import rendered_digits, non_digits, encode
    samples = rendered_digits(n_per_style=50, seed=0)     # [Sample], labels 0..9 in turn
    others = non_digits(n_per_category=50, seed=0)        # [Sample], label None
    png_or_jpeg_bytes = encode(samples[0])

Every sample is a grayscale page as a user would upload it: dark ink on a light canvas
of 140-320 px, digits typeset in the installed TrueType fonts (several families and
weights, ImageDraw stroke widths, slants, rotations, sizes and positions), drawn with a
thick round pen like a mouse on the drawing page, or JPEG-compressed. The non-digits are
letters, geometric shapes, noise and scribbles; letters and shapes that a person could
read as a digit (O, I, S, a circle, a bar ...) form their own "digit-like" categories.

Sample i of a style depends only on (seed, style, i): a larger N keeps the first N.
Fonts come from FONT_DIRS (Debian fonts-dejavu-core, fonts-liberation,
fonts-freefont-ttf); with none installed, Pillow's scalable built-in font stands in.
Pillow and NumPy only (outlier_pool also runs service.preprocess).

Training outliers, kept apart from the evaluation non-digits. Outlier exposure
(model/training.py) trains on non-digit images; the non-digits that eval_rendered
reports must not be the training material in another guise, so the two are drawn from
disjoint kinds:

    category    EVALUATION: non_digits()              TRAINING: outliers(split="train" / "val")
    letters     DejaVu + FreeFont faces only          Liberation faces + Pillow's built-in font
    symbols     -                                     # % & * @ = < > ~ in the same training fonts
    shapes      EVAL_SHAPES: rectangle diamond        TRAIN_SHAPES: square triangle pentagon plus
                hexagon star cross heart              arrow trapezoid parallelogram
    noise       seed stream "noise"                   seed streams "outliers-train/noise",
    scribbles   seed stream "scribbles"               "outliers-val/noise", ... (same generators)
    digit-like  letters and shapes, evaluation only   never (training on O, I, circles, bars
                                                      would teach the network to doubt 0 and 1)

The letters themselves (PLAIN_LETTERS) are the same in both: what is held out is the
typeface, not the alphabet. The "val" split is the training kinds with their own seed
stream: the held-out outliers that choose the outlier-exposure settings, so neither the
MNIST test set nor the evaluation non-digits select anything. On a machine without
DejaVu and FreeFont the evaluation letters fall back to Pillow's built-in font, which
is a training font: the disjointness needs fonts-dejavu-core (CI installs it).
"""

import io
import math
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/freefont"),
)
# Letters for evaluation and for training outliers come from disjoint typefaces
EVAL_LETTER_FONT_DIRS = (FONT_DIRS[0], FONT_DIRS[2])
TRAIN_LETTER_FONT_DIRS = (FONT_DIRS[1],)  # plus Pillow's built-in font
SKIP_FONTS = ("Math",)  # DejaVuMathTeXGyre: a maths font, its digits are ordinary but it adds nothing

# Letters a reader could take for a digit (0: O o Q D, 1: I l i, 2: Z z, 5: S s,
# 6: b G, 8: B, 9: g q). Reported separately: flagging them is not clearly right.
DIGIT_LIKE_LETTERS = "OoQDIliZzSsbGBgq"
PLAIN_LETTERS = "".join(
    c for c in "ABCEFHKLMNPRTUVWXYacdefhkmnprtuvwxy" if c not in DIGIT_LIKE_LETTERS
)  # j and J dropped too: a hooked stroke reads as 1 or 7 at 28 px

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
)
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
# Training outliers (outlier exposure): see the table at the top
OUTLIER_CATEGORIES = ("letters", "symbols", "shapes", "noise", "scribbles")
OUTLIER_SPLITS = ("train", "val")
OUTLIER_SYMBOLS = "#%&*@=<>~"


@dataclass(frozen=True)
class Sample:
    kind: str  # "digit" or "non_digit"
    category: str  # a DIGIT_STYLES or NON_DIGIT_CATEGORIES name
    label: int | None  # the digit, None for non-digits
    image: Image.Image  # mode "L", dark ink on light paper
    fmt: str = "PNG"
    quality: int = 0  # JPEG quality, 0 for PNG
    detail: str = ""  # font, shape or generator: what a person checks on the contact sheet


def encode(sample):
    """The bytes a client would upload: PNG, or JPEG at the sample's quality."""
    buffer = io.BytesIO()
    if sample.fmt == "JPEG":
        sample.image.save(buffer, "JPEG", quality=sample.quality)
    else:
        sample.image.save(buffer, "PNG")
    return buffer.getvalue()


def rendered_digits(n_per_style, seed=0, styles=DIGIT_STYLES):
    """n_per_style samples of every style, labels 0, 1, ..., 9, 0, ... within a style."""
    return [
        _DIGIT_STYLES[style](_rng(seed, style, i), i % 10) for style in styles for i in range(n_per_style)
    ]


def non_digits(n_per_category, seed=0, categories=NON_DIGIT_CATEGORIES):
    """n_per_category samples of every non-digit category."""
    return [
        _NON_DIGITS[category](_rng(seed, category, i), i)
        for category in categories
        for i in range(n_per_category)
    ]


def outliers(n_per_category, seed=0, split="train", categories=OUTLIER_CATEGORIES):
    """Non-digits of the TRAINING kinds (see the top): split "train" for the pool, "val" to select on."""
    if split not in OUTLIER_SPLITS:
        raise ValueError(f"split must be one of {OUTLIER_SPLITS}, got {split!r}")
    return [
        _OUTLIERS[category](_rng(seed, f"outliers-{split}/{category}", i), i)
        for category in categories
        for i in range(n_per_category)
    ]


def outlier_pool(n_per_category, seed=0, split="train", categories=OUTLIER_CATEGORIES):
    """Training outliers as network inputs: (uint8 (N, 784) like MNIST, categories (N,)).

    Each image goes through the service's own `preprocess`, as an upload would; the
    ones it refuses (NoDigitFound: blank pages, most noise) never reach the network and
    are left out, so N can be below n_per_category * len(categories).
    """
    from service.preprocess import NoDigitFound, preprocess

    inputs, kinds = [], []
    for sample in outliers(n_per_category, seed, split, categories):
        try:
            x = preprocess(encode(sample))
        except NoDigitFound:
            continue
        inputs.append(np.rint(x * 255).astype(np.uint8))
        kinds.append(sample.category)
    return np.asarray(inputs, dtype=np.uint8).reshape(-1, 784), np.asarray(kinds, dtype=str)


def _rng(seed, name, index):
    # crc32, not hash(): Python salts str hashes per process
    return np.random.default_rng([seed, zlib.crc32(name.encode()), index])


# ---------------------------------------------------------------- fonts


@cache
def font_files(dirs=FONT_DIRS):
    """{"regular"|"bold"|"italic"|"light": [paths]} of the fonts installed in `dirs`, sorted."""
    groups = {"regular": [], "bold": [], "italic": [], "light": []}
    for folder in dirs:
        for path in sorted(folder.glob("*.ttf")) if folder.is_dir() else ():
            name = path.stem
            if any(s in name for s in SKIP_FONTS):
                continue
            if "Oblique" in name or "Italic" in name:
                groups["italic"].append(str(path))
            elif "Bold" in name:
                groups["bold"].append(str(path))
            elif "Light" in name:
                groups["light"].append(str(path))
            else:
                groups["regular"].append(str(path))
    return groups


def _family(paths, word):
    """The fonts whose file name says `word` (Serif, Mono); Sans = neither."""
    if word == "Sans":
        return [p for p in paths if "Serif" not in p and "Mono" not in p]
    return [p for p in paths if word in Path(p).stem]


@cache
def _font(path, size):
    if path is None:  # no TrueType fonts installed: Pillow's scalable built-in font
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def _pick_font(rng, group, family=None, dirs=FONT_DIRS):
    paths = font_files(dirs)[group] or font_files(dirs)["regular"]
    if family:
        paths = _family(paths, family) or paths
    return str(rng.choice(paths)) if paths else None


# ---------------------------------------------------------------- ink masks (255 = ink)


def text_mask(text, font_path, size, stroke=0):
    """The glyphs, white on black, cropped to their ink plus a 2 px margin."""
    font = _font(font_path, int(size))
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    mask = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(mask).text(
        (2 - left, 2 - top), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    return _crop(mask)


def stroke_mask(polylines, height, pen):
    """Polylines in unit coordinates (x right, y down, height 1) drawn with a round pen."""
    points = [np.asarray(line, dtype=float) for line in polylines]
    low = np.min([p.min(axis=0) for p in points], axis=0)
    high = np.max([p.max(axis=0) for p in points], axis=0)
    scale = height / max(high[1] - low[1], 1e-6)
    pad = pen
    size = np.ceil((high - low) * scale + 2 * pad).astype(int) + 1
    mask = Image.new("L", tuple(size), 0)
    draw = ImageDraw.Draw(mask)
    for line in points:
        xy = [tuple(p) for p in (line - low) * scale + pad]
        draw.line(xy, fill=255, width=int(pen), joint="curve")
        for x, y in (xy[0], xy[-1]):  # round caps, as a pen or a mouse brush leaves
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return _crop(mask)


def _crop(mask, margin=2):
    box = mask.getbbox()
    if box is None:
        return mask
    left, top, right, bottom = box
    return mask.crop((left - margin, top - margin, right + margin, bottom + margin))


def _slant(mask, angle=0.0, shear=0.0):
    """Rotate by `angle` degrees (counter-clockwise) and x-shear by `shear` (top to the right)."""
    if shear:
        # input x = x + shear y - shift: the top row moves right by shear * height (left if < 0)
        width, height = mask.size
        shift = shear * height if shear > 0 else 0.0
        mask = mask.transform(
            (width + int(abs(shear) * height) + 1, height),
            Image.Transform.AFFINE,
            (1, shear, -shift, 0, 1, 0),
            Image.Resampling.BICUBIC,
            fillcolor=0,
        )
    if angle:
        mask = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    return _crop(mask)


# ---------------------------------------------------------------- pages


def _page(rng, mask, canvas, centre=(0.5, 0.5), ink=0, paper=255, noise=0.0):
    """`mask` placed with its centre at `centre` (fractions) of a canvas (w, h), kept inside."""
    width, height = canvas
    width, height = max(width, mask.width + 4), max(height, mask.height + 4)
    x = int(np.clip(centre[0] * width - mask.width / 2, 2, width - mask.width - 2))
    y = int(np.clip(centre[1] * height - mask.height / 2, 2, height - mask.height - 2))
    page = Image.new("L", (width, height), paper)
    page.paste(ink, (x, y, x + mask.width, y + mask.height), mask)
    if noise:
        grain = rng.normal(0.0, noise, (height, width))
        page = Image.fromarray(np.clip(np.asarray(page) + grain, 0, 255).astype(np.uint8))
    return page


def _canvas(rng, low=140, high=320):
    """A square canvas most of the time, sometimes a 4:3 one either way round."""
    side = int(rng.integers(low, high + 1))
    shape = rng.choice(3)
    if shape == 1:
        return (side, side * 3 // 4)
    if shape == 2:
        return (side * 3 // 4, side)
    return (side, side)


def _jitter(rng, amount=0.08):
    return tuple(0.5 + rng.uniform(-amount, amount, 2))


# ---------------------------------------------------------------- digit styles


def _typeset(rng, label, style, group, family=None, height=(0.45, 0.75), stroke=0.0, angle=0.0, shear=0.0):
    """A font-rendered digit on a canvas, its glyph height a share `height` of the canvas."""
    canvas = _canvas(rng)
    font = _pick_font(rng, group, family)
    px = rng.uniform(*height) * min(canvas)
    # Font size sets the em, not the digit: digits are about 0.73 em tall in these fonts
    size = max(8, int(px / 0.73))
    mask = text_mask(str(label), font, size, int(stroke * size))
    mask = _slant(mask, angle, shear)
    page = _page(rng, mask, canvas, _jitter(rng))
    return Sample("digit", style, label, page, detail=_font_name(font))


def _font_name(path):
    return Path(path).stem if path else "pillow-default"


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
    canvas = _canvas(rng, 200, 320)
    font = _pick_font(rng, str(rng.choice(["regular", "bold"])))
    mask = text_mask(str(label), font, int(rng.uniform(12, 22) / 0.73))
    page = _page(rng, mask, canvas, tuple(rng.uniform(0.2, 0.8, 2)))
    return Sample("digit", "small", label, page, detail=_font_name(font))


def _large(rng, label):
    # glyph nearly as tall as the canvas: 2-6 px from the edges
    font = _pick_font(rng, str(rng.choice(["regular", "bold"])))
    mask = text_mask(str(label), font, int(rng.uniform(120, 260) / 0.73))
    margin = int(rng.integers(2, 7))
    canvas = (mask.width + 2 * margin + int(rng.integers(0, 80)), mask.height + 2 * margin)
    page = _page(rng, mask, canvas, _jitter(rng, 0.2))
    return Sample("digit", "large", label, page, detail=_font_name(font))


def _off_centre(rng, label):
    canvas = _canvas(rng, 200, 320)
    font = _pick_font(rng, str(rng.choice(["regular", "bold"])))
    mask = text_mask(str(label), font, int(rng.uniform(0.2, 0.35) * min(canvas) / 0.73))
    corner = rng.choice([0.12, 0.88], 2) + rng.uniform(-0.05, 0.05, 2)
    page = _page(rng, mask, canvas, tuple(corner))
    return Sample("digit", "off_centre", label, page, detail=_font_name(font))


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
    canvas = _canvas(rng)
    font = _pick_font(rng, str(rng.choice(["regular", "bold"])))
    mask = text_mask(str(label), font, int(rng.uniform(0.45, 0.7) * min(canvas) / 0.73))
    ink, paper = int(rng.integers(40, 110)), int(rng.integers(170, 235))
    page = _page(rng, mask, canvas, _jitter(rng), ink, paper, noise=rng.uniform(3, 10))
    return Sample("digit", "gray_paper", label, page, detail=f"{_font_name(font)} {ink}/{paper}")


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


def _wobble(rng, line, amount):
    """A hand's smooth deviation: a random walk of the pen, low-pass filtered."""
    line = np.asarray(line, dtype=float)
    if len(line) < 3:  # straight strokes: add intermediate points so they can bend
        line = np.concatenate([np.linspace(a, b, 8, endpoint=False) for a, b in zip(line[:-1], line[1:])])
        line = np.vstack([line, line[-1:]])
    steps = rng.normal(0, amount, line.shape)
    drift = np.cumsum(steps, axis=0)
    drift -= np.linspace(0, 1, len(line))[:, None] * drift[-1]  # ends stay near their places
    return line + drift


def _hand_drawn(rng, label):
    canvas = _canvas(rng, 200, 300)
    height = rng.uniform(0.45, 0.8) * min(canvas)
    # a random affine per drawing: slant, squash, tilt, as hands do
    shear, squash, tilt = rng.uniform(-0.25, 0.25), rng.uniform(0.75, 1.3), np.deg2rad(rng.uniform(-10, 10))
    matrix = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    matrix = matrix @ np.array([[squash, -shear], [0.0, 1.0]])
    lines = [_wobble(rng, line, 0.012) @ matrix.T for line in DIGIT_STROKES[label]]
    pen = rng.uniform(0.08, 0.17) * height
    mask = stroke_mask(lines, height, pen)
    page = _page(rng, mask, canvas, _jitter(rng, 0.12))
    return Sample("digit", "hand_drawn", label, page, detail=f"pen {pen:.0f}px")


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
}


# ---------------------------------------------------------------- non-digits


def _letter(rng, index, letters, category, training=False):
    char = letters[index % len(letters)]
    group = str(rng.choice(["regular", "regular", "bold", "italic"]))
    canvas = _canvas(rng)
    if training:  # Liberation, or one time in eight Pillow's built-in font
        font = None if rng.random() < 0.125 else _pick_font(rng, group, dirs=TRAIN_LETTER_FONT_DIRS)
    else:
        font = _pick_font(rng, group, dirs=EVAL_LETTER_FONT_DIRS)
    mask = text_mask(char, font, int(rng.uniform(0.45, 0.75) * min(canvas) / 0.73))
    mask = _slant(mask, rng.uniform(-5, 5))
    page = _page(rng, mask, canvas, _jitter(rng))
    return Sample("non_digit", category, None, page, detail=f"{char} {_font_name(font)}")


def _letters(rng, index):
    return _letter(rng, index, PLAIN_LETTERS, "letters")


def _digit_like_letters(rng, index):
    return _letter(rng, index, DIGIT_LIKE_LETTERS, "digit_like_letters")


def _polygon(n, inner=None, phase=-90.0):
    """Regular polygon (or star with inner radius `inner`) in [-1, 1]^2."""
    corners = 2 * n if inner else n
    angles = np.deg2rad(phase + 360.0 * np.arange(corners) / corners)
    radius = np.where(np.arange(corners) % 2, inner, 1.0) if inner else np.ones(corners)
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def _heart():
    t = np.linspace(0, 2 * np.pi, 60)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y], axis=1) / 17.0


_ARROW = np.array([(-1, -0.2), (0.3, -0.2), (0.3, -0.55), (1, 0), (0.3, 0.55), (0.3, 0.2), (-1, 0.2)])
_PLUS = np.array(
    [(-0.25, -1), (0.25, -1), (0.25, -0.25), (1, -0.25), (1, 0.25), (0.25, 0.25)]
    + [(0.25, 1), (-0.25, 1), (-0.25, 0.25), (-1, 0.25), (-1, -0.25), (-0.25, -0.25)]
)
EVAL_SHAPES = {  # the evaluation's "shapes" category
    "rectangle": lambda: _polygon(4, phase=45) * (1.0, 0.55),
    "diamond": lambda: _polygon(4) * (0.7, 1.0),
    "hexagon": lambda: _polygon(6, phase=0),
    "star": lambda: _polygon(5, inner=0.42),
    "cross": lambda: _PLUS @ np.array([[0.7071, -0.7071], [0.7071, 0.7071]]),
    "heart": _heart,
}
TRAIN_SHAPES = {  # training outliers only
    "square": lambda: _polygon(4, phase=45),
    "triangle": lambda: _polygon(3),
    "pentagon": lambda: _polygon(5),
    "plus": lambda: _PLUS,
    "arrow": lambda: _ARROW,
    "trapezoid": lambda: np.array([(-1, 0.6), (1, 0.6), (0.5, -0.6), (-0.5, -0.6)]),
    "parallelogram": lambda: np.array([(-1, 0.5), (0.4, 0.5), (1, -0.5), (-0.4, -0.5)]),
}
DIGIT_LIKE_SHAPES = {
    "circle": lambda: _polygon(48),
    "ellipse": lambda: _polygon(48) * (0.6, 1.0),
    "bar": lambda: _polygon(4, phase=45) * (0.12, 1.0),  # a vertical bar is a 1
}


def _shape(rng, index, shapes, category):
    name = sorted(shapes)[index % len(shapes)]
    outline = shapes[name]()
    angle = rng.uniform(-20, 20)
    canvas = _canvas(rng)
    radius = rng.uniform(0.2, 0.38) * min(canvas)
    mask = Image.new("L", (int(2.4 * radius) + 8, int(2.4 * radius) + 8), 0)
    xy = [tuple(p) for p in outline * radius + mask.width / 2]
    filled = rng.random() < 0.4
    pen = int(rng.uniform(0.04, 0.14) * radius) + 1
    draw = ImageDraw.Draw(mask)
    if filled:
        draw.polygon(xy, fill=255)
    else:
        draw.line([*xy, xy[0], xy[1]], fill=255, width=pen, joint="curve")
    mask = _slant(_crop(mask), angle)
    page = _page(rng, mask, canvas, _jitter(rng))
    return Sample("non_digit", category, None, page, detail=f"{name} {'filled' if filled else 'outline'}")


def _shapes(rng, index):
    return _shape(rng, index, EVAL_SHAPES, "shapes")


def _digit_like_shapes(rng, index):
    return _shape(rng, index, DIGIT_LIKE_SHAPES, "digit_like_shapes")


def _noise(rng, index):
    """Four kinds in turn: uniform pixels, grain on paper, salt and pepper, smooth blotches."""
    width, height = _canvas(rng)
    kind = ("uniform", "grain", "salt_pepper", "blotches")[index % 4]
    if kind == "uniform":
        pixels = rng.uniform(0, 255, (height, width))
    elif kind == "grain":
        pixels = 255 - np.abs(rng.normal(0, rng.uniform(10, 60), (height, width)))
    elif kind == "salt_pepper":
        pixels = np.where(rng.random((height, width)) < rng.uniform(0.01, 0.2), 0.0, 255.0)
    else:
        cells = rng.uniform(0, 255, (int(rng.integers(3, 9)),) * 2).astype(np.float32)
        pixels = np.asarray(Image.fromarray(cells).resize((width, height), Image.Resampling.BICUBIC))
    page = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return Sample("non_digit", "noise", None, page, detail=kind)


def _random_walk(rng, steps):
    """A smooth wandering pen path: the heading turns by small random amounts."""
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.45, steps))
    return np.cumsum(np.stack([np.cos(heading), np.sin(heading)], axis=1), axis=0)


def _scribbles(rng, index):
    """Random walks (1-3 strokes), zigzags, and blank-ish pages with a faint tick or dots."""
    canvas = _canvas(rng)
    kind = ("walk", "walk", "zigzag", "blankish")[index % 4]
    if kind == "blankish":
        page = _blankish(rng, canvas)
        return Sample("non_digit", "scribbles", None, page, detail=kind)
    if kind == "walk":
        lines = [_random_walk(rng, int(rng.integers(15, 60))) for _ in range(int(rng.integers(1, 4)))]
    else:
        n = int(rng.integers(4, 9))
        lines = [np.stack([np.arange(n) * 0.4, (np.arange(n) % 2) * rng.uniform(0.6, 1.5)], axis=1)]
        lines = [_wobble(rng, lines[0], 0.02) @ _rotation(rng.uniform(0, 180))]
    height = rng.uniform(0.3, 0.7) * min(canvas)
    mask = stroke_mask(lines, height, rng.uniform(0.03, 0.12) * height)
    mask.thumbnail((canvas[0] - 8, canvas[1] - 8))  # a walk can be far wider than tall
    page = _page(rng, mask, canvas, _jitter(rng))
    return Sample("non_digit", "scribbles", None, page, detail=kind)


def _rotation(degrees):
    t = np.deg2rad(degrees)
    return np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])


def _blankish(rng, canvas):
    """Almost nothing: a short faint tick, or a few specks."""
    page = Image.new("L", canvas, 255)
    draw = ImageDraw.Draw(page)
    width, height = canvas
    if rng.random() < 0.5:
        x, y = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
        dx, dy = rng.uniform(-0.1, 0.1, 2) * min(canvas)
        draw.line((x, y, x + dx, y + dy), fill=int(rng.integers(120, 200)), width=int(rng.integers(1, 4)))
    else:
        for _ in range(int(rng.integers(1, 6))):
            x, y = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
            r = rng.uniform(1, 3)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=int(rng.integers(0, 160)))
    return page.filter(ImageFilter.GaussianBlur(0.6))


_NON_DIGITS = {
    "letters": _letters,
    "digit_like_letters": _digit_like_letters,
    "shapes": _shapes,
    "digit_like_shapes": _digit_like_shapes,
    "noise": _noise,
    "scribbles": _scribbles,
}


def _training_letters(rng, index):
    return _letter(rng, index, PLAIN_LETTERS, "letters", training=True)


def _training_symbols(rng, index):
    return _letter(rng, index, OUTLIER_SYMBOLS, "symbols", training=True)


def _training_shapes(rng, index):
    return _shape(rng, index, TRAIN_SHAPES, "shapes")


_OUTLIERS = {  # noise and scribbles: the same generators, their own seed streams (in outliers())
    "letters": _training_letters,
    "symbols": _training_symbols,
    "shapes": _training_shapes,
    "noise": _noise,
    "scribbles": _scribbles,
}
