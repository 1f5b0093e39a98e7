"""Pages as users upload them: fonts, ink masks, canvases, and the bytes of a sample.

The building blocks of the rendered sets (`digit_styles`, `non_digits`, `outliers`):
dark ink on a light canvas of 140-320 px, glyphs from the installed TrueType fonts, pen
strokes with a round brush, PNG or JPEG. Sample i of a set depends only on (seed, set,
i), through `sample_rng`: a larger N keeps the first N. Fonts come from FONT_DIRS
(Debian fonts-dejavu-core, fonts-liberation, fonts-freefont-ttf); with none installed,
Pillow's scalable built-in font stands in. Pillow and NumPy only.
"""

import io
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .drawing import page_pen

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/freefont"),
)
SKIP_FONTS = ("Math",)  # DejaVuMathTeXGyre: a maths font, its digits are ordinary but it adds nothing
# The drawing page's export, with the page's own pen (drawing.json): strokes in canvas units
# drawn PAGE_LINE_WIDTH of the side wide, round caps and joins, on a PAGE_EXPORT_SIDE px PNG.
PAGE_LINE_WIDTH = page_pen()["line_width"]
PAGE_EXPORT_SIDE = page_pen()["export_side"]
SUPERSAMPLE = 4  # ImageDraw does not anti-alias; the canvas does: draw 4x larger, then average


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


def sample_rng(seed, name, index):
    """The random stream of sample `index` of the set `name`."""
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


def pick_font(rng, group, family=None, dirs=FONT_DIRS):
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
    return crop(mask)


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
    return crop(mask)


def page_export(polylines, export_side=PAGE_EXPORT_SIDE):
    """The PNG page the drawing page sends for these strokes: polylines in canvas units (0..1,
    x right, y down), black on white, `export_side` px (the page's PAGE_EXPORT_SIDE unless a
    benchmark tries another), anti-aliased like the canvas."""
    side = export_side * SUPERSAMPLE
    pen = PAGE_LINE_WIDTH * side
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    for line in polylines:
        xy = [tuple(p) for p in as_page_draws(np.asarray(line, dtype=float) * side)]
        draw.line(xy, fill=255, width=round(pen), joint="curve")
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    small = mask.resize((export_side, export_side), Image.Resampling.BOX)
    return Image.eval(small, lambda level: 255 - level)


def as_page_draws(points, steps=8):
    """The path the page's canvas strokes through `points` (N, 2): quadratic curves from
    midpoint to midpoint with the points as controls, then a line to the last, sampled."""
    if len(points) < 3:
        return points
    controls = points[1:-1]  # (M, 2)
    ends = (points[1:-1] + points[2:]) / 2  # each curve ends at the midpoint after its control
    starts = np.vstack([points[:1], ends[:-1]])
    t = np.linspace(0, 1, steps + 1)[1:, None, None]  # (S, 1, 1)
    curves = (1 - t) ** 2 * starts + 2 * (1 - t) * t * controls + t**2 * ends  # (S, M, 2)
    return np.vstack([points[:1], curves.transpose(1, 0, 2).reshape(-1, 2), points[-1:]])


def low_resolution(page, height, blur=0.0):
    """`page` as a coarse scan shows it: reduced so it is `height` px tall, enlarged back, blurred."""
    width = max(1, round(page.width * height / page.height))
    coarse = page.resize((width, max(1, round(height))), Image.Resampling.BOX)
    page = coarse.resize(page.size, Image.Resampling.BICUBIC)
    return page.filter(ImageFilter.GaussianBlur(blur)) if blur else page


def crop(mask, margin=2):
    box = mask.getbbox()
    if box is None:
        return mask
    left, top, right, bottom = box
    return mask.crop((left - margin, top - margin, right + margin, bottom + margin))


def slant(mask, angle=0.0, shear=0.0):
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
    return crop(mask)


def wobble(rng, line, amount):
    """A hand's smooth deviation: a random walk of the pen, low-pass filtered."""
    line = np.asarray(line, dtype=float)
    if len(line) < 3:  # straight strokes: add intermediate points so they can bend
        line = np.concatenate([np.linspace(a, b, 8, endpoint=False) for a, b in zip(line[:-1], line[1:])])
        line = np.vstack([line, line[-1:]])
    steps = rng.normal(0, amount, line.shape)
    drift = np.cumsum(steps, axis=0)
    drift -= np.linspace(0, 1, len(line))[:, None] * drift[-1]  # ends stay near their places
    return line + drift


# ---------------------------------------------------------------- pages


def paste_on_page(rng, mask, canvas, centre=(0.5, 0.5), ink=0, paper=255, noise=0.0):
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


def random_canvas(rng, low=140, high=320):
    """A square canvas most of the time, sometimes a 4:3 one either way round."""
    side = int(rng.integers(low, high + 1))
    shape = rng.choice(3)
    if shape == 1:
        return (side, side * 3 // 4)
    if shape == 2:
        return (side * 3 // 4, side)
    return (side, side)


def jitter(rng, amount=0.08):
    return tuple(0.5 + rng.uniform(-amount, amount, 2))


def font_name(path):
    return Path(path).stem if path else "pillow-default"
