"""Non-digit generators: letters, outlined or filled shapes, noise, scribbles.

Which fonts, shapes and seed streams each set uses is decided in `outliers`, which keeps
the evaluation non-digits and the training outliers apart.
"""

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .render import (
    Sample,
    crop,
    font_name,
    jitter,
    paste_on_page,
    pick_font,
    random_canvas,
    slant,
    stroke_mask,
    text_mask,
    wobble,
)

# Letters a reader could take for a digit (0: O o Q D, 1: I l i, 2: Z z, 5: S s,
# 6: b G, 8: B, 9: g q). Reported separately: flagging them is not clearly right.
DIGIT_LIKE_LETTERS = "OoQDIliZzSsbGBgq"
PLAIN_LETTERS = "".join(
    c for c in "ABCEFHKLMNPRTUVWXYacdefhkmnprtuvwxy" if c not in DIGIT_LIKE_LETTERS
)  # j and J dropped too: a hooked stroke reads as 1 or 7 at 28 px


def letter(rng, index, letters, category, font_dirs, builtin_share=0.0):
    """Letter `index` of `letters` in a face from `font_dirs`, a `builtin_share` of them in
    Pillow's built-in font."""
    char = letters[index % len(letters)]
    group = str(rng.choice(["regular", "regular", "bold", "italic"]))
    canvas = random_canvas(rng)
    if builtin_share and rng.random() < builtin_share:
        font = None
    else:
        font = pick_font(rng, group, dirs=font_dirs)
    mask = text_mask(char, font, int(rng.uniform(0.45, 0.75) * min(canvas) / 0.73))
    mask = slant(mask, rng.uniform(-5, 5))
    page = paste_on_page(rng, mask, canvas, jitter(rng))
    return Sample("non_digit", category, None, page, detail=f"{char} {font_name(font)}")


def polygon(n, inner=None, phase=-90.0):
    """Regular polygon (or star with inner radius `inner`) in [-1, 1]^2."""
    corners = 2 * n if inner else n
    angles = np.deg2rad(phase + 360.0 * np.arange(corners) / corners)
    radius = np.where(np.arange(corners) % 2, inner, 1.0) if inner else np.ones(corners)
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def heart():
    t = np.linspace(0, 2 * np.pi, 60)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y], axis=1) / 17.0


ARROW = np.array([(-1, -0.2), (0.3, -0.2), (0.3, -0.55), (1, 0), (0.3, 0.55), (0.3, 0.2), (-1, 0.2)])
PLUS = np.array(
    [(-0.25, -1), (0.25, -1), (0.25, -0.25), (1, -0.25), (1, 0.25), (0.25, 0.25)]
    + [(0.25, 1), (-0.25, 1), (-0.25, 0.25), (-1, 0.25), (-1, -0.25), (-0.25, -0.25)]
)


def shape(rng, index, shapes, category):
    """Shape `index` of the table `shapes` (name -> outline in [-1, 1]^2), outlined or filled."""
    name = sorted(shapes)[index % len(shapes)]
    outline = shapes[name]()
    angle = rng.uniform(-20, 20)
    canvas = random_canvas(rng)
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
    mask = slant(crop(mask), angle)
    page = paste_on_page(rng, mask, canvas, jitter(rng))
    return Sample("non_digit", category, None, page, detail=f"{name} {'filled' if filled else 'outline'}")


def noise(rng, index):
    """Four kinds in turn: uniform pixels, grain on paper, salt and pepper, smooth blotches."""
    width, height = random_canvas(rng)
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


def scribbles(rng, index):
    """Random walks (1-3 strokes), zigzags, and blank-ish pages with a faint tick or dots."""
    canvas = random_canvas(rng)
    kind = ("walk", "walk", "zigzag", "blankish")[index % 4]
    if kind == "blankish":
        page = _blankish(rng, canvas)
        return Sample("non_digit", "scribbles", None, page, detail=kind)
    if kind == "walk":
        lines = [_random_walk(rng, int(rng.integers(15, 60))) for _ in range(int(rng.integers(1, 4)))]
    else:
        n = int(rng.integers(4, 9))
        lines = [np.stack([np.arange(n) * 0.4, (np.arange(n) % 2) * rng.uniform(0.6, 1.5)], axis=1)]
        lines = [wobble(rng, lines[0], 0.02) @ _rotation(rng.uniform(0, 180))]
    height = rng.uniform(0.3, 0.7) * min(canvas)
    mask = stroke_mask(lines, height, rng.uniform(0.03, 0.12) * height)
    mask.thumbnail((canvas[0] - 8, canvas[1] - 8))  # a walk can be far wider than tall
    page = paste_on_page(rng, mask, canvas, jitter(rng))
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
