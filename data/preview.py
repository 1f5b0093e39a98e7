"""The network's 28x28 input as PNG bytes: what the model saw, for people to look at.

The service returns it as a data: URL (`/predict?preview=1`) and `mnist-predict
--preview-dir` writes it to a file.
"""

import io

from PIL import Image

from ..model.contract import SIDE, to_pixels


def input_png(inputs):
    """PNG bytes of one network input, float32 (784,) in [0, 1], white digit on black."""
    buffer = io.BytesIO()
    Image.fromarray(to_pixels(inputs).reshape(SIDE, SIDE)).save(buffer, "PNG")
    return buffer.getvalue()
