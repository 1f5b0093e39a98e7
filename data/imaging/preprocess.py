"""Image bytes -> the 28x28 input the network expects, made the way MNIST itself was made.

    from mnist_mlp.data.imaging.preprocess import preprocess
    x = preprocess(image_bytes)        # float32 (784,), 0 = background, 1 = ink

This is the ONE preprocessing path: the HTTP API, the drawing page and the evaluation
scripts all call `preprocess`. Steps:

1. decode with Pillow (PNG, JPEG, GIF first frame, BMP, WebP) within a decode budget read
   from the header before any pixel is decoded: a pixel count, the bytes of the decoded
   image, the scans of a progressive JPEG, the size of an RLE-compressed BMP (Pillow
   decodes those in Python); JPEGs decode reduced; apply the EXIF orientation;
2. composite transparency over white, convert to 8-bit grayscale;
3. make the digit light on dark: the background is the majority of the border pixels,
   so a light border means dark ink on paper and the image is inverted;
4. subtract the background and stretch the contrast so paper shading and JPEG noise
   become 0 and stroke cores 1, keeping the anti-aliased stroke edges in between;
5. crop to the ink's bounding box, scale the longer side to 20 px keeping the aspect
   ratio (anti-aliased);
   ink as round as a dot (a tap, a short tick) is no digit: every MNIST digit is longer;
6. thin strokes far heavier than MNIST's pen (a marker, a bold face, a small drawing
   enlarged) by a partial erosion, to MNIST's width;
7. paste into 28x28 so the centre of mass lands at the centre.

Failures raise a subclass of `PreprocessError` naming its `code`; the API maps them to HTTP statuses.
Only Pillow and NumPy are used: training, evaluation and the CLIs import it without Flask.
"""

import io

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from ...model.contract import SIDE, as_inputs

FIT = 20  # MNIST fits the digit's longer side into 20 px ...
CENTRE = 14.0  # ... and puts its centre of mass at pixel index 14 (measured on the MNIST test set)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_PIXELS = 4096 * 4096
# Decoded bytes allowed per image: what the full-size decode holds in memory. JPEGs are
# exempt, as they decode reduced (draft); WebP decodes through several full-size RGBA
# copies, hence its lower cap.
MAX_DECODED_BYTES = 48 * 2**20
MAX_DECODED_BYTES_WEBP = 16 * 2**20
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2}  # else 4
MAX_JPEG_SCANS = 32  # a progressive JPEG has about 10; each scan decodes the whole image again
MAX_RLE_PIXELS = 256 * 256  # Pillow's RLE BMP decoder runs in Python, a few pixels per bytecode
# Larger images are reduced before analysis: a digit must cover a fair share of a photo
# to be readable anyway, and the array work stays in milliseconds.
WORK_SIDE = 1024
MIN_CONTRAST = 0.15  # ink must stand this far above the background (a fraction of the 255 levels)
MIN_INK_PIXELS = 4  # fewer strong-ink pixels than this is a speck, not a digit
# Ink rounder than this after the fit is a dot or a short tick, not a digit. The roundest of
# MNIST's 60,000 training digits is 0.68 (a 0 written as a blob around a pinhole); a dot of the
# drawing page's pen is 0.84, and a tick as long as the pen is wide 0.76-0.80. Measured with
#   python -c "from mnist_mlp.data import load_mnist; from mnist_mlp.data.imaging.preprocess import
#   fitted_ink, roundness; x = load_mnist('MNIST_FOLDER')[0]; print(max(roundness(fitted_ink(
#   i.reshape(28, 28))) for i in x))"
MAX_ROUNDNESS = 0.75
SHADING_MIN_SIDE = 100  # smaller images are not photos; their background is taken as flat
FLAT_BORDER = 0.05  # border levels spread less than this (of 255): no shading to remove
SHADING_GRID = 32  # cells per side for the shading estimate
SHADING_WINDOW = 7  # cells; wider than any stroke, narrower than the light falloff
SHADING_OFFSET = 32  # levels kept below the paper estimate after shading removal
BBOX_LEVEL = 0.1  # ink level that counts for the bounding box after the contrast stretch
DEEP_MODES = ("I;16", "I;16B", "I;16L")
# Stroke width in the 20 px box, estimated as 2 * ink / total variation (a stroke of width w
# and length L has ink w L and edges 2 L). MNIST's median is about 2 px and its 95th
# percentile about 3: only heavier strokes are thinned, towards STROKE_TARGET.
MAX_STROKE = 3.0
STROKE_TARGET = 2.4
THINNING_PASSES = 2  # each erosion takes at most a pixel off either side of a stroke
LEVELS = np.arange(256, dtype=np.float64)  # the 8-bit gray levels, also used as pixel indices
# Where Pillow finds an orientation (Image.getexif): EXIF, as read by every accepted format, or
# XMP's tiff:Orientation. An image with none of them is upright, and ImageOps.exif_transpose, which
# parses what there is (tens of µs), would leave it as it is: it is only called for the others.
ORIENTATION_KEYS = ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")


class PreprocessError(ValueError):
    """Base class: the image cannot be turned into a network input.

    Each subclass names its failure with `code`, the same word in the HTTP API's errors and
    in mnist-predict's output lines.
    """


class BadImage(PreprocessError):
    """The bytes are not a decodable image (HTTP 400)."""

    code = "bad_image"


class UnsupportedImage(PreprocessError):
    """A real image, but in a format the service does not accept (HTTP 415)."""

    code = "unsupported_media_type"


class ImageTooLarge(PreprocessError):
    """More pixels than allowed, or a decompression bomb (HTTP 413)."""

    code = "image_too_large"


class NoDigitFound(PreprocessError):
    """The image holds no ink: blank, uniform or only noise (HTTP 422)."""

    code = "no_digit_found"


def preprocess(image_bytes, max_pixels=MAX_PIXELS):
    """float32 (784,) in [0, 1], white digit on black, from encoded image bytes."""
    return to_mnist_frame(to_gray(decode(image_bytes, max_pixels))).reshape(-1)


def pixel_count(image_bytes):
    """Width times height, from the header alone: what decoding the image would fill."""
    if not image_bytes:
        raise BadImage("empty image")
    try:
        width, height = _open(image_bytes, FORMATS).size
    except UnidentifiedImageError:
        raise _not_accepted(image_bytes) from None
    return width * height


def decode(image_bytes, max_pixels=MAX_PIXELS):
    """The first frame of an accepted image format, upright per its EXIF orientation."""
    if not image_bytes:
        raise BadImage("empty image")
    try:
        image = _open(image_bytes, FORMATS)  # only the accepted formats' parsers read the bytes
    except UnidentifiedImageError:
        raise _not_accepted(image_bytes) from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} pixels, {megapixels(width * height)}; "
            f"the limit is {megapixels(max_pixels)}"
        )
    if width < 1 or height < 1:
        raise BadImage("image has no pixels")
    _check_decode_work(image, image_bytes)
    # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: big photos cost a fraction to read.
    image.draft("RGB", (WORK_SIDE, WORK_SIDE))
    try:
        image.load()
        if any(key in image.info for key in ORIENTATION_KEYS):
            ImageOps.exif_transpose(image, in_place=True)  # a copy otherwise, even when upright
    except Image.DecompressionBombError:
        raise ImageTooLarge("image has too many pixels (decompression bomb refused)") from None
    except Exception as exc:  # truncated data, corrupt chunks, broken EXIF ...
        raise BadImage(f"cannot decode image ({type(exc).__name__}: {exc})") from None
    if max(image.size) > WORK_SIDE:
        if image.mode in DEEP_MODES:
            image = image.convert("I")  # Pillow resizes 32-bit integers, not 16-bit ones
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    return image


def _check_decode_work(image, image_bytes):
    """ImageTooLarge when decoding the image would cost more than the budget allows."""
    width, height = image.size
    if image.format == "JPEG":
        scans = image_bytes.count(b"\xff\xda")  # SOS markers: stuffing keeps 0xFF out of the coded data
        if scans > MAX_JPEG_SCANS:
            raise ImageTooLarge(f"JPEG has {scans} scans; the limit is {MAX_JPEG_SCANS}")
        return
    if image.tile and image.tile[0][0] == "bmp_rle" and width * height > MAX_RLE_PIXELS:
        raise ImageTooLarge(
            f"RLE-compressed BMP of {width}x{height} pixels; the limit is {MAX_RLE_PIXELS:,} pixels "
            "(send it uncompressed or as PNG)"
        )
    limit = MAX_DECODED_BYTES_WEBP if image.format == "WEBP" else MAX_DECODED_BYTES
    decoded = width * height * BYTES_PER_PIXEL.get(image.mode, 4)
    if decoded > limit:
        raise ImageTooLarge(
            f"{image.format} of {width}x{height} pixels in mode {image.mode} decodes to "
            f"{mebibytes(decoded)}; the limit is {mebibytes(limit)} (send a smaller image)"
        )


def megapixels(count):
    """A pixel count in words, for messages: "16.8 megapixels"."""
    value = f"{count / 1e6:.3g}"
    return f"{value} megapixel{'' if value == '1' else 's'}"


def mebibytes(count):
    """A byte count in words, for messages: "48 MiB"."""
    return f"{count / 2**20:.3g} MiB"


def _open(image_bytes, formats):
    """Image.open on bytes; Pillow's many errors on hostile headers become ours."""
    try:
        return Image.open(io.BytesIO(image_bytes), formats=formats)
    except UnidentifiedImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge("image has too many pixels (decompression bomb refused)") from None
    except Exception as exc:
        raise BadImage(f"cannot decode image ({type(exc).__name__})") from None


def _not_accepted(image_bytes):
    """UnsupportedImage (HTTP 415) for a format Pillow knows but we do not accept, else BadImage."""
    try:
        known = _open(image_bytes, None).format
    except UnidentifiedImageError:
        return BadImage("cannot decode image: not a recognised image format")
    return UnsupportedImage(f"unsupported image format {known}; send PNG, JPEG, GIF, BMP or WebP")


def to_gray(image):
    """uint8 (H, W) gray levels (0 = black), transparency composited over white."""
    if image.mode in DEEP_MODES + ("I", "F"):
        # 16-bit and float grayscale: Pillow's convert("L") would clip instead of scaling.
        deep = np.asarray(image, dtype=np.float32)
        if deep.max() > 255:
            deep *= 255.0 / 65535.0
        return np.rint(deep).clip(0, 255).astype(np.uint8)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        if image.mode not in ("RGBA", "LA"):
            image = image.convert("LA")
        # Over white: gray = a * l + (1 - a) * 255, Pillow blending with the alpha as mask.
        # Only transparent pixels need it: an opaque image (a canvas export) is read as it is.
        alpha = image.getchannel("A")
        if alpha.getextrema()[0] < 255:
            paper = Image.new("L", image.size, 255)
            paper.paste(image.convert("L"), mask=alpha)
            image = paper
    return _pixels(image if image.mode == "L" else image.convert("L"))


def _pixels(image):
    """Read-only uint8 (H, W) levels of an "L" image.

    The same tobytes() that np.asarray(image) makes, without the array-interface
    protocol around it (a dict built in Python, then parsed by NumPy): a few µs a call.
    """
    return np.frombuffer(image.tobytes(), np.uint8).reshape(image.height, image.width)


def to_mnist_frame(gray):
    """float32 (28, 28) white-on-black digit in [0, 1] from uint8 (H, W) gray levels."""
    ink = fitted_ink(gray)
    round_, stroke = _outline(ink)
    if round_ > MAX_ROUNDNESS:
        raise NoDigitFound("no digit found: the ink is a dot or a short tick, rounder than any digit")
    return _centre(_thinned(ink, stroke) if stroke > MAX_STROKE else ink)


def fitted_ink(gray):
    """uint8 (h, w) ink, light on dark, from uint8 (H, W) gray levels: cropped to its bounding box,
    stretched to full contrast and scaled so its longer side is FIT px."""
    levels, border = _light_on_dark(gray)
    floor, peak = _ink_range(levels, border)
    # Crop to the pixels with at least BBOX_LEVEL of full ink, then stretch the levels:
    # ink = (level - floor) / (peak - floor), clipped to [0, 1], as uint8 through a
    # table of the 256 levels (interp clips at both ends; + 0.5 rounds when truncated).
    strong = levels > int(floor + BBOX_LEVEL * (peak - floor))
    rows = strong.any(axis=1).nonzero()[0]
    cols = strong.any(axis=0).nonzero()[0]
    crop = levels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    stretch = np.interp(LEVELS, (floor, peak), (0.5, 255.5)).astype(np.uint8)
    return _fit(stretch.take(crop))


def roundness(ink):
    """4 pi area / perimeter^2 of uint8 ink (h, w): 1 for a disc, less the longer and thinner the
    ink (about pi w / L for a stroke L long and w wide), whatever its size.

    Area and perimeter are those of the anti-aliased ink (levels / 255): its sum, and the sum of
    its gradient's length, which is the outline's length, averaged over the ink's levels.
    """
    return _outline(ink)[0]


def _outline(ink):
    """(roundness, stroke width) of uint8 ink (h, w), from one pass over its differences.

    The stroke width is `stroke_width`'s, 2 ink / total variation inside the crop: the inner
    differences of the same arrays. Both sums add whole levels, exact in float32 (below 2**24).
    """
    height, width = ink.shape
    padded = np.zeros((height + 2, width + 2), np.float32)  # the outline along the crop's edges counts too
    padded[1:-1, 1:-1] = ink
    down = padded[1:, :-1] - padded[:-1, :-1]  # (h + 1, w + 1), as `right`
    right = padded[:-1, 1:] - padded[:-1, :-1]
    perimeter = float(np.sqrt(down * down + right * right).sum())
    if not perimeter:  # no ink left after the fit: _centre says so
        return 0.0, 0.0
    area = float(padded.sum())
    # the first and last rows of `down` (columns of `right`) are the steps from the zero padding
    edges = float(np.abs(down[1:-1]).sum() + np.abs(right[:, 1:-1]).sum())
    return 4.0 * np.pi * 255.0 * area / perimeter**2, 2.0 * area / max(edges, 1.0)


def stroke_width(ink):
    """2 ink / total variation of float32 ink (h, w): about a stroke's width in px (see MAX_STROKE)."""
    edges = np.abs(np.diff(ink, axis=0)).sum() + np.abs(np.diff(ink, axis=1)).sum()
    return 2.0 * float(ink.sum()) / max(float(edges), 1.0)


def _light_on_dark(gray):
    """(levels, sorted border levels): the digit lighter than its background, paper shading removed."""
    border = _border(gray)
    if _quantile(border, 0.5) > 127:  # light paper or canvas: dark ink
        gray = 255 - gray
        border = 255 - border[::-1]
    if _uneven(gray, border):
        gray = _unshaded(gray, border)
        border = _border(gray)
    return gray, border


def _ink_range(levels, border):
    """(floor, peak): the levels taken as no ink and as full ink.

    The floor is the background level plus a robust noise margin (median absolute
    deviation): a digit touching the border cannot shift it, yet JPEG ringing and grain
    fall below it. Above the floor lie faint stroke edges and stroke cores; the cores are
    the upper half of the range up to the brightest 1 % of ink (specks cannot stretch
    it), and their 0.9 quantile becomes full ink, as MNIST strokes saturate.
    """
    background = _quantile(border, 0.5)
    deviations = np.abs(border - background)
    deviations.sort()
    floor = background + 3.0 * 1.4826 * _quantile(deviations, 0.5)
    first = min(int(floor) + 1, 255)  # the lowest level above the floor (a floor past 255 fails below)
    ink = levels[levels >= first]  # most pixels are background: count only the rest
    above = np.bincount(ink, minlength=256)[first:]  # pixel count per level
    cumulative = above.cumsum()
    bright = cumulative.searchsorted(0.99 * cumulative[-1])  # where the brightest 1 % of ink starts
    cores = above[(bright + 1) // 2 :]
    total = int(cores.sum())
    peak = floor
    if total >= MIN_INK_PIXELS:  # the cores' 0.9 quantile, read off their cumulative counts
        rank = round(0.9 * (total - 1))
        peak = 256 - len(cores) + int(cores.cumsum().searchsorted(rank, "right"))
    if peak - floor < MIN_CONTRAST * 255:
        raise NoDigitFound("no digit found: the image has no ink that stands out from the background")
    return floor, peak


def _border(gray):
    """The outermost pixels, sorted."""
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    border.sort()
    return border


def _quantile(ascending, q):
    """The q-quantile of already sorted values; the calls here are too small for np.percentile's overhead."""
    return float(ascending[round(q * (len(ascending) - 1))])


def _uneven(gray, border):
    """Whether the background may be shaded: a photo-sized image whose border levels vary.

    Canvas drawings and MNIST-sized inputs are not photos, and an even border
    (canvas, screenshot, scan) means an even page.
    """
    spread = _quantile(border, 0.9) - _quantile(border, 0.1)
    return max(gray.shape) >= SHADING_MIN_SIDE and spread >= FLAT_BORDER * 255


def _unshaded(gray, border):
    """The levels minus the paper's slowly varying level (light falloff on a photographed page).

    A morphological opening over coarse cells removes the strokes, which are narrower
    than the window, and leaves the paper's own level. Smooth falloff inside the page
    stays within the levels seen along its border, so capping the estimate there keeps
    a bold digit that fills the window from being hollowed out. The result is offset by
    SHADING_OFFSET so paper a little darker than the estimate keeps its noise instead of
    piling up at 0, which would hide it from the noise margin in `_ink_range`.
    """
    height, width = gray.shape
    cells = Image.fromarray(gray).resize((SHADING_GRID, SHADING_GRID), Image.Resampling.BOX)
    opened = cells.filter(ImageFilter.MinFilter(SHADING_WINDOW)).filter(ImageFilter.MaxFilter(SHADING_WINDOW))
    paper = np.asarray(opened.resize((width, height), Image.Resampling.BILINEAR))
    paper = np.minimum(paper, _quantile(border, 0.75)).astype(np.int16)
    return np.clip(gray - paper + SHADING_OFFSET, 0, 255).astype(np.uint8)


def _fit(ink):
    """uint8 ink scaled so its longer side is FIT pixels, keeping the aspect ratio, anti-aliased."""
    height, width = ink.shape
    scale = FIT / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):  # already FIT pixels long, as MNIST-sized uploads are
        return ink
    # frombuffer: fromarray's generic checks cost more than this small resize.
    image = Image.frombuffer("L", (width, height), ink, "raw", "L", 0, 1)
    # Bicubic's support widens with the reduction, so it anti-aliases as Lanczos does,
    # without Lanczos's two sines per filter tap.
    return _pixels(image.resize(size, Image.Resampling.BICUBIC))


def _thinned(digit, width):
    """uint8 `digit`, whose strokes are `width` wide (`stroke_width`), eroded towards STROKE_TARGET
    while wider than MAX_STROKE.

    Each pass blends the digit with its erosion over the 3x3 cross, by as much as the excess
    width asks for (a full erosion narrows a stroke by about 2 px). Hairlines are kept: a
    pixel whose neighbours two pixels away on both sides (across or along) are under half
    its level lies on a stroke at most 3 px wide, as the thin parts of a bold serif face,
    which erosion would cut.
    """
    for done in range(THINNING_PASSES):
        ink = digit.astype(np.float32)
        if done:  # the first pass's width is the caller's
            width = stroke_width(ink)
            if width <= MAX_STROKE:
                break
        padded = np.pad(ink, 2)
        eroded = np.minimum(np.minimum(padded[1:-3, 2:-2], padded[3:-1, 2:-2]), padded[2:-2, 1:-3])
        np.minimum(eroded, np.minimum(padded[2:-2, 3:-1], ink), out=eroded)
        half = 0.5 * ink
        across = np.maximum(padded[:-4, 2:-2], padded[4:, 2:-2]) < half
        along = np.maximum(padded[2:-2, :-4], padded[2:-2, 4:]) < half
        share = np.where(across | along, 0.0, min(1.0, (width - STROKE_TARGET) / 2.0))
        digit = (ink + share * (eroded - ink) + 0.5).astype(np.uint8)
    return digit


def _centre(digit):
    """float32 (SIDE, SIDE) in [0, 1]: uint8 `digit` placed so its centre of mass is at CENTRE,
    never past the frame."""
    height, width = digit.shape
    row_mass = digit.sum(axis=1, dtype=np.float64)
    col_mass = digit.sum(axis=0, dtype=np.float64)
    mass = float(row_mass.sum())
    if not mass:  # a few faint specks, lost when the image shrank to 20 px
        raise NoDigitFound("no digit found: the ink is too small or too faint to survive the 20 px fit")
    top = min(max(round(CENTRE - float(row_mass @ LEVELS[:height]) / mass), 0), SIDE - height)
    left = min(max(round(CENTRE - float(col_mass @ LEVELS[:width]) / mass), 0), SIDE - width)
    frame = np.zeros((SIDE, SIDE), dtype=np.float32)
    as_inputs(digit, out=frame[top : top + height, left : left + width])
    return frame
