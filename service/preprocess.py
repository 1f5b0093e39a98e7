"""Image bytes -> the 28x28 input the network expects, made the way MNIST itself was made.

    from service.preprocess import preprocess
    x = preprocess(image_bytes)        # float32 (784,), 0 = background, 1 = ink

This is the ONE preprocessing path: the HTTP API, the drawing page and the evaluation
scripts all call `preprocess`. Steps:

1. decode with Pillow (PNG, JPEG, GIF first frame, BMP, WebP), bounded by a pixel count
   checked from the header before any pixel is decoded; apply the EXIF orientation;
2. composite transparency over white, convert to grayscale in [0, 1];
3. make the digit light on dark: the background is the majority of the border pixels,
   so a light border means dark ink on paper and the image is inverted;
4. subtract the background and stretch the contrast so paper shading and JPEG noise
   become 0 and stroke cores 1, keeping the anti-aliased stroke edges in between;
5. crop to the ink's bounding box, scale the longer side to 20 px keeping the aspect
   ratio (anti-aliased), and paste into 28x28 so the centre of mass lands at the centre.

Failures raise a subclass of `PreprocessError`; the API maps them to HTTP statuses.
Only Pillow and NumPy are used, so this module imports cheaply anywhere.
"""

import io

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

SIDE = 28  # the network's input frame
FIT = 20  # MNIST fits the digit's longer side into 20 px ...
CENTRE = 14.0  # ... and puts its centre of mass at pixel index 14 (measured on the MNIST test set)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_PIXELS = 4096 * 4096
# Larger images are reduced before analysis: a digit must cover a fair share of a photo
# to be readable anyway, and the array work stays in milliseconds.
WORK_SIDE = 1024
MIN_CONTRAST = 0.15  # ink must stand this far (in [0, 1] gray levels) above the background
MIN_INK_PIXELS = 4  # fewer strong-ink pixels than this is a speck, not a digit
SHADING_MIN_SIDE = 100  # smaller images are not photos; their background is taken as flat
FLAT_BORDER = 0.05  # border levels spread less than this: no shading to remove
SHADING_GRID = 32  # cells per side for the shading estimate
SHADING_WINDOW = 7  # cells; wider than any stroke, narrower than the light falloff
BBOX_LEVEL = 0.1  # ink level that counts for the bounding box after the contrast stretch
LEVELS = np.arange(256, dtype=np.int64)


class PreprocessError(ValueError):
    """Base class: the image cannot be turned into a network input."""


class BadImage(PreprocessError):
    """The bytes are not a decodable image (HTTP 400)."""


class UnsupportedImage(PreprocessError):
    """A real image, but in a format the service does not accept (HTTP 415)."""


class ImageTooLarge(PreprocessError):
    """More pixels than allowed, or a decompression bomb (HTTP 413)."""


class NoDigitFound(PreprocessError):
    """The image holds no ink: blank, uniform or only noise (HTTP 422)."""


def preprocess(image_bytes, max_pixels=MAX_PIXELS):
    """float32 (784,) in [0, 1], white digit on black, from encoded image bytes."""
    return to_mnist_frame(to_gray(decode(image_bytes, max_pixels))).reshape(-1)


def decode(image_bytes, max_pixels=MAX_PIXELS):
    """The first frame of an accepted image format, upright per its EXIF orientation."""
    if not image_bytes:
        raise BadImage("empty image")
    try:
        image = Image.open(io.BytesIO(image_bytes))
    except Image.DecompressionBombError:
        raise ImageTooLarge("image has too many pixels (decompression bomb refused)") from None
    except UnidentifiedImageError:
        raise BadImage("cannot decode image: not a recognised image format") from None
    except Exception as exc:  # Pillow raises many types on hostile headers; all mean "undecodable"
        raise BadImage(f"cannot decode image ({type(exc).__name__})") from None
    if image.format not in FORMATS:
        raise UnsupportedImage(f"unsupported image format {image.format}; send PNG, JPEG, GIF, BMP or WebP")
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"image is {width}x{height} pixels; the limit is {max_pixels} pixels")
    if width < 1 or height < 1:
        raise BadImage("image has no pixels")
    # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: big photos cost a fraction to read.
    image.draft("RGB", (WORK_SIDE, WORK_SIDE))
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise ImageTooLarge("image has too many pixels (decompression bomb refused)") from None
    except Exception as exc:  # truncated data, corrupt chunks, broken EXIF ...
        raise BadImage(f"cannot decode image ({type(exc).__name__}: {exc})") from None
    if max(image.size) > WORK_SIDE:
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    return image


def to_gray(image):
    """float32 (H, W) in [0, 1] (0 = black), transparency composited over white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit and float grayscale: Pillow's convert("L") would clip instead of scaling.
        gray = np.asarray(image, dtype=np.float32)
        return gray / (65535.0 if gray.max() > 255 else 255.0)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        # Over white: gray = a * l + (1 - a) = 1 - a * (1 - l), with l and a in [0, 1].
        lum, alpha = np.moveaxis(np.asarray(image.convert("LA"), dtype=np.float32) / 255.0, -1, 0)
        return 1.0 - alpha * (1.0 - lum)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def to_mnist_frame(gray):
    """float32 (28, 28) white-on-black digit from a float grayscale image in [0, 1]."""
    ink = _ink(gray)
    rows = np.flatnonzero(ink.max(axis=1) > BBOX_LEVEL)
    cols = np.flatnonzero(ink.max(axis=0) > BBOX_LEVEL)
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _centre(_fit(ink))


def _ink(gray):
    """Ink intensity in [0, 1]: background and its noise at 0, stroke cores at 1."""
    border = _border(gray)
    if _quantile(border, 0.5) > 0.5:  # light paper or canvas: dark ink
        gray = 1.0 - gray
        border = 1.0 - border[::-1]
    if _uneven(gray, border):
        gray = gray - _shading(gray, border)
        border = _border(gray)
    # Background level plus a robust noise margin (median absolute deviation): a digit
    # touching the border cannot shift it, yet JPEG ringing and grain fall below it.
    background = _quantile(border, 0.5)
    floor = background + 3.0 * 1.4826 * _quantile(np.sort(np.abs(border - background)), 0.5)
    # Above the floor lie faint stroke edges and stroke cores; Otsu splits the two and
    # the cores' level becomes 1, as MNIST strokes saturate.
    above = gray[gray > floor]
    strong = np.sort(above[above >= _otsu(above)]) if above.size else above
    peak = _quantile(strong, 0.9) if strong.size >= MIN_INK_PIXELS else floor
    if peak - floor < MIN_CONTRAST:
        raise NoDigitFound("no digit found: the image has no ink that stands out from the background")
    ink = gray - floor  # a new array either way: the caller's image is never modified
    ink *= 1.0 / (peak - floor)
    return np.clip(ink, 0.0, 1.0, out=ink)


def _border(gray):
    """The outermost pixels, sorted."""
    return np.sort(np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]]))


def _quantile(ascending, q):
    """The q-quantile of already sorted values; the calls here are too small for np.percentile's overhead."""
    return float(ascending[round(q * (len(ascending) - 1))])


def _uneven(gray, border):
    """Whether the background may be shaded: a photo-sized image whose border levels vary.

    Canvas drawings and MNIST-sized inputs are not photos, and an even border
    (canvas, screenshot, scan) means an even page.
    """
    spread = _quantile(border, 0.9) - _quantile(border, 0.1)
    return max(gray.shape) >= SHADING_MIN_SIDE and spread >= FLAT_BORDER


def _shading(gray, border):
    """Slowly varying background (light falloff on a photographed page), to subtract.

    A morphological opening over coarse cells removes the strokes, which are narrower
    than the window, and leaves the paper's own level. Smooth falloff inside the page
    stays within the levels seen along its border, so capping the estimate there keeps
    a bold digit that fills the window from being hollowed out.
    """
    height, width = gray.shape
    cells = Image.fromarray(gray).resize((SHADING_GRID, SHADING_GRID), Image.Resampling.BOX)
    opened = cells.filter(ImageFilter.MinFilter(SHADING_WINDOW)).filter(ImageFilter.MaxFilter(SHADING_WINDOW))
    background = np.asarray(opened.resize((width, height), Image.Resampling.BILINEAR))
    return np.minimum(background, _quantile(border, 0.75))


def _otsu(gray):
    """The gray level that best splits the values into two classes (Otsu, 256 bins).

    For a split after level k with class counts w0, w1 and level sums m0, m1, the
    between-class variance w0 w1 (m0/w0 - m1/w1)^2 equals (m0 w1 - m1 w0)^2 / (w0 w1),
    which needs no division by an empty class.
    """
    hist = np.bincount((gray * 255).astype(np.uint8).ravel(), minlength=256)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * LEVELS)
    w1 = w0[-1] - w0
    m1 = m0[-1] - m0
    spread = (m0 * w1 - m1 * w0).astype(np.float64) ** 2
    both = (w0 * w1).astype(np.float64)
    if not both.any():  # a single gray level: nothing to split
        return 0.5
    return float(np.argmax(np.divide(spread, both, out=np.zeros(256), where=both > 0))) / 255.0


def _fit(ink):
    """Scale so the longer side is FIT pixels, keeping the aspect ratio, anti-aliased."""
    height, width = ink.shape
    scale = FIT / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32)).resize(
        size, Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(fitted), 0.0, 1.0)


def _centre(digit):
    """Paste into SIDE x SIDE so the centre of mass is at CENTRE, never past the frame."""
    height, width = digit.shape
    mass = digit.sum()
    com_y = (digit.sum(axis=1) @ np.arange(height)) / mass
    com_x = (digit.sum(axis=0) @ np.arange(width)) / mass
    top = min(max(round(CENTRE - com_y), 0), SIDE - height)
    left = min(max(round(CENTRE - com_x), 0), SIDE - width)
    frame = np.zeros((SIDE, SIDE), dtype=np.float32)
    frame[top : top + height, left : left + width] = digit
    return frame
