"""Images for people to look at, as PNG: the network's 28x28 input, and any small picture.

The service returns the input as a data: URL (`/predict?preview=1`), `mnist-predict
--preview-dir` writes it to a file, and the heatmaps (heatmap.py) use the same encoding.
"""

import base64
import io

from PIL import Image

from ..model.contract import SIDE, to_pixels


def png_bytes(pixels, compress_level=6):
    """The PNG of a uint8 array (H, W) grey or (H, W, 4) RGBA; zlib's level 1 is some 4 times faster."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=compress_level)
    return buffer.getvalue()


def data_url(png):
    """A data: URL of PNG bytes, for JSON answers and the page."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def input_png(inputs):
    """PNG bytes of one network input, float32 (784,) in [0, 1], white digit on black."""
    return png_bytes(to_pixels(inputs).reshape(SIDE, SIDE))
