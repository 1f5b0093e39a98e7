"""Images for the tests of every kind: the MNIST test set, and images as users send them."""

import io

import numpy as np
from PIL import Image, ImageDraw

from mnist_mlp.data.mnist import load_idx_dir
from tests.machine import mnist_dir_or_skip

RENDER_KINDS = ("png", "jpeg", "rgba", "shaded-jpeg")


def mnist_test_set():
    """(x_test uint8 (N, 784), y_test); skipped when the files are absent, but never under CI."""
    _, _, x_test, y_test = load_idx_dir(mnist_dir_or_skip())
    return x_test, y_test


def encode(image, fmt="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def render(pixels, kind, rng):
    """An MNIST digit (784 uint8) as a user would send it: black ink on white, scaled up,
    off-centre on a larger canvas, then saved as `kind` (one of RENDER_KINDS)."""
    side = int(rng.integers(60, 240))
    digit = Image.fromarray(255 - pixels.reshape(28, 28)).resize((side, side), Image.Resampling.BILINEAR)
    width, height = side + int(rng.integers(20, 300)), side + int(rng.integers(20, 300))
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(digit, (int(rng.integers(0, width - side)), int(rng.integers(0, height - side))))
    if kind == "png":
        return encode(canvas)
    if kind == "jpeg":
        return encode(canvas.convert("RGB"), "JPEG", quality=int(rng.integers(40, 90)))
    if kind == "rgba":  # black strokes on a transparent background, as a drawing canvas exports them
        rgba = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
        rgba.putalpha(Image.eval(canvas, lambda v: 255 - v))
        return encode(rgba)
    # A photographed page: light falling off across it, JPEG-compressed.
    light = 0.7 + 0.25 * np.linspace(0, 1, width, dtype=np.float32)
    shaded = (np.asarray(canvas, dtype=np.float32) * light).astype(np.uint8)
    return encode(Image.fromarray(shaded).convert("RGB"), "JPEG", quality=70)


def drawn_digit(size=(120, 160), ink=0, paper=255):
    """A hand-drawn-looking "1" with a short flag (a long one reads as 7), to exercise decoding
    without MNIST files."""
    image = Image.new("L", size, paper)
    w, h = size
    ImageDraw.Draw(image).line(
        [(w * 0.45, h * 0.25), (w * 0.55, h * 0.15), (w * 0.55, h * 0.85)], fill=ink, width=9
    )
    return image
