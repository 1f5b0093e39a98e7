"""preprocess(): formats, polarity, limits, and MNIST re-rendered as users send it."""

import numpy as np
import pytest
from PIL import Image

import mnist_mlp.data.imaging.preprocess as preprocess_module
from mnist_mlp.data.imaging.preprocess import (
    MAX_ROUNDNESS,
    BadImage,
    ImageTooLarge,
    NoDigitFound,
    UnsupportedImage,
    decode,
    fitted_ink,
    preprocess,
    roundness,
    to_mnist_frame,
)
from mnist_mlp.data.synth.render import PAGE_EXPORT_SIDE, page_export
from mnist_mlp.model import DEFAULT_WEIGHTS, load_weights
from tests.images import RENDER_KINDS, drawn_digit, encode, mnist_test_set, render

SAMPLE = 1000


@pytest.fixture(scope="module")
def mlp():
    return load_weights(DEFAULT_WEIGHTS)[0]


@pytest.fixture(scope="module")
def sample():
    """1,000 fixed MNIST test images, their labels and their renderings as user uploads."""
    x_test, y_test = mnist_test_set()
    rng = np.random.default_rng(4)
    idx = rng.choice(len(x_test), SAMPLE, replace=False)
    blobs = [render(x_test[i], RENDER_KINDS[n % len(RENDER_KINDS)], rng) for n, i in enumerate(idx)]
    return x_test[idx], y_test[idx], blobs


def frame(data):
    return preprocess(data).reshape(28, 28)


def test_output_is_mnist_shaped():
    x = preprocess(encode(drawn_digit()))
    assert x.shape == (784,) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    rows, cols = np.nonzero(x.reshape(28, 28) > 0.1)
    assert rows.max() - rows.min() + 1 <= 21 and cols.max() - cols.min() + 1 <= 21  # fitted to 20 px
    mass = x.reshape(28, 28)
    com = [(mass.sum(axis=1 - a) * np.arange(28)).sum() / mass.sum() for a in (0, 1)]
    assert np.allclose(com, 14.0, atol=0.6)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_accepted_formats_and_either_polarity_agree(fmt):
    dark_on_light = frame(encode(drawn_digit().convert("RGB"), fmt))
    light_on_dark = frame(encode(drawn_digit(ink=255, paper=0).convert("RGB"), fmt))
    assert np.abs(dark_on_light - light_on_dark).mean() < 0.03


def test_transparency_is_composited_over_white():
    rgba = Image.new("RGBA", (120, 160), (0, 0, 0, 0))
    rgba.putalpha(Image.eval(drawn_digit(), lambda v: 255 - v))
    assert np.abs(frame(encode(rgba)) - frame(encode(drawn_digit()))).mean() < 0.02


def test_opaque_rgba_reads_as_its_gray_levels():
    opaque = drawn_digit().convert("RGBA")  # alpha 255 everywhere, as a canvas export
    assert np.array_equal(frame(encode(opaque)), frame(encode(drawn_digit())))


def test_exif_orientation_is_applied():
    upright = drawn_digit()
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a sideways camera stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = encode(stored.convert("RGB"), "JPEG", exif=exif.tobytes(), quality=95)
    assert np.abs(frame(data) - frame(encode(upright))).mean() < 0.03


def test_gif_first_frame_is_used():
    first, second = drawn_digit(), Image.new("L", (120, 160), 255)
    data = encode(first, "GIF", save_all=True, append_images=[second])
    assert frame(data).max() > 0.9


def test_sixteen_bit_grayscale():
    deep = Image.fromarray((np.asarray(drawn_digit(), dtype=np.uint16) * 257).astype(np.uint16))
    assert np.abs(frame(encode(deep)) - frame(encode(drawn_digit()))).mean() < 0.02


def test_prepared_mnist_frame_passes_through_nearly_unchanged():
    x_test, _ = mnist_test_set()
    raw = x_test[:50].reshape(-1, 28, 28)
    again = np.stack([to_mnist_frame(img) for img in raw])
    assert np.abs(again - raw / 255.0).mean() < 0.01


@pytest.mark.parametrize(
    "image",
    [Image.new("L", (64, 64), 255), Image.new("RGB", (64, 64), (30, 30, 30)), Image.new("RGBA", (64, 64))],
    ids=["white", "dark", "transparent"],
)
def test_blank_images_have_no_digit(image):
    with pytest.raises(NoDigitFound):
        preprocess(encode(image))


# Strokes in the drawing page's canvas units: a tap, a tick as long as the pen is wide (1/16 of the
# canvas) and one half as long, and a "1" a third of the canvas high, the smallest the page tests.
DOT = [[(0.5, 0.5)]]
TICKS = [[(0.5, 0.5), (0.56, 0.5)], [(0.5, 0.5), (0.52, 0.53)], [(0.5, 0.5), (0.5, 0.56)]]
SMALL_ONE = [[(0.5, 0.33), (0.5, 0.66)]]


@pytest.mark.parametrize("side", [PAGE_EXPORT_SIDE, 10 * PAGE_EXPORT_SIDE], ids=["page", "10x larger"])
@pytest.mark.parametrize("lines", [DOT, *([tick] for tick in TICKS)], ids=["dot", "tick", "diagonal", "down"])
def test_a_dot_or_a_short_tick_is_no_digit(lines, side):
    with pytest.raises(NoDigitFound, match="a dot or a short tick"):
        preprocess(encode(page_export(lines, side)))


def test_a_small_digit_is_still_a_digit():
    assert frame(encode(page_export(SMALL_ONE))).max() > 0.9


def test_no_mnist_digit_is_as_round_as_a_dot(mnist):
    """The rule comes from MNIST's roundest training digit; no training or test digit meets it."""
    x_train, _, x_test, _ = mnist
    for images in (x_train, x_test):
        roundest = max(roundness(fitted_ink(image.reshape(28, 28))) for image in images)
        assert roundest < MAX_ROUNDNESS * 0.95, roundest


def test_jpeg_noise_alone_is_no_digit():
    noise = np.random.default_rng(0).normal(235, 4, (200, 200)).clip(0, 255).astype(np.uint8)
    with pytest.raises(NoDigitFound):
        preprocess(encode(Image.fromarray(noise), "JPEG", quality=50))


@pytest.mark.parametrize(
    "data", [b"", b"not an image", encode(drawn_digit())[:60]], ids=["empty", "text", "truncated"]
)
def test_undecodable_bytes(data):
    with pytest.raises(BadImage):
        preprocess(data)


def test_unsupported_format():
    with pytest.raises(UnsupportedImage):
        preprocess(encode(drawn_digit(), "TIFF"))


def test_pixel_bound_is_checked_before_decoding():
    data = encode(Image.new("L", (3000, 3000), 255))
    with pytest.raises(ImageTooLarge):
        preprocess(data, max_pixels=1000 * 1000)


@pytest.mark.parametrize(
    ("max_pixels", "limit"), [(1000 * 1000, "1 megapixel"), (4096 * 4096, "16.8 megapixels")]
)
def test_the_pixel_limit_is_said_in_megapixels(max_pixels, limit):
    with pytest.raises(
        ImageTooLarge, match=f"image is 5000x4000 pixels, 20 megapixels; the limit is {limit}$"
    ):
        decode(encode(Image.new("1", (5000, 4000))), max_pixels=max_pixels)


def test_the_decode_budget_is_said_in_mib(monkeypatch):
    monkeypatch.setattr(preprocess_module, "MAX_DECODED_BYTES", 2**20)
    with pytest.raises(
        ImageTooLarge, match=r"PNG of 1000x1000 pixels in mode RGBA decodes to 3.81 MiB; the limit is 1 MiB"
    ):
        preprocess(encode(Image.new("RGBA", (1000, 1000), "white")))


def test_decompression_bomb_is_refused():
    # A PNG header claiming 100000 x 100000 pixels: Pillow's own bomb check fires on open.
    bomb = encode(Image.new("1", (1, 1)))
    bomb = bomb[:16] + (100000).to_bytes(4, "big") * 2 + bomb[24:]
    with pytest.raises((ImageTooLarge, BadImage)):
        preprocess(bomb, max_pixels=10**12)


def test_rerendered_mnist_agrees_with_raw_predictions(mlp, sample):
    x, _, blobs = sample
    raw = mlp.predict(x / np.float32(255))
    rerendered = mlp.predict(np.stack([preprocess(b) for b in blobs]))
    agreement = (raw == rerendered).mean()
    by_kind = {k: (raw == rerendered)[i :: len(RENDER_KINDS)].mean() for i, k in enumerate(RENDER_KINDS)}
    print(f"agreement {agreement:.3f} by kind {by_kind}")
    assert agreement >= 0.97, by_kind


def test_accuracy_through_http_matches_model(mlp, sample):
    """1,000 uploads through the Flask app: within 1 point of the model's accuracy on the raw images."""
    from mnist_mlp.service import create_app

    x, y, blobs = sample
    client = create_app().test_client()
    digits = []
    for blob in blobs:
        response = client.post("/predict", data=blob, content_type="application/octet-stream")
        assert response.status_code == 200, response.json
        digits.append(response.json["digit"])
    http_accuracy = (np.array(digits) == y).mean()
    # The same 1,000 images, raw: comparing like with like removes +-0.5 point of sampling noise.
    model_accuracy = (mlp.predict(x / np.float32(255)) == y).mean()
    test_accuracy = load_weights(DEFAULT_WEIGHTS)[1]["test_accuracy"]  # all 10,000, as the card states
    print(f"HTTP accuracy {http_accuracy:.3f}, model on these raw images {model_accuracy:.3f}")
    print(f"model on the whole test set {test_accuracy:.4f}")
    assert abs(http_accuracy - model_accuracy) <= 0.01
    assert abs(http_accuracy - test_accuracy) <= 0.01


def stroke_width(frame):
    """2 * ink / total variation: about the pen's width in pixels."""
    variation = np.abs(np.diff(frame, axis=0)).sum() + np.abs(np.diff(frame, axis=1)).sum()
    return 2 * frame.sum() / variation


def ring(sides, caps):
    """A light-on-dark "0" on a 100 px page: `sides` px thick left and right, `caps` top and bottom."""
    page = np.zeros((100, 100), np.uint8)
    page[10:90, 30:70] = 255
    page[10 + caps : 90 - caps, 30 + sides : 70 - sides] = 0
    return page


def test_strokes_far_heavier_than_mnists_are_thinned(monkeypatch):
    thinned = stroke_width(to_mnist_frame(ring(16, 16)))
    monkeypatch.setattr(preprocess_module, "MAX_STROKE", float("inf"))
    unthinned = stroke_width(to_mnist_frame(ring(16, 16)))
    assert unthinned > 3.5 and thinned < preprocess_module.STROKE_TARGET + 0.6


def test_mnist_strokes_are_left_as_they_are(monkeypatch):
    x_test, _ = mnist_test_set()
    pages = x_test[:200].reshape(-1, 28, 28)
    frames = [to_mnist_frame(page) for page in pages]
    monkeypatch.setattr(preprocess_module, "MAX_STROKE", float("inf"))
    untouched = [np.array_equal(f, to_mnist_frame(page)) for f, page in zip(frames, pages)]
    assert np.mean(untouched) > 0.85  # the rest are MNIST's heaviest strokes


def test_thinning_keeps_the_hairlines_of_a_bold_serif_face():
    """Heavy sides, 3 px top and bottom: the sides thin, the top and bottom stay."""
    frame = to_mnist_frame(ring(18, 3))
    rows = frame.max(axis=1)
    ink_rows = np.flatnonzero(rows > 0.1)
    assert (
        rows[ink_rows[0] : ink_rows[0] + 2].max() > 0.5
        and rows[ink_rows[-1] - 1 : ink_rows[-1] + 1].max() > 0.5
    )
