"""The network's input contract, stated once: 28x28 pixels in, 10 digits out.

A network input is one row of INPUTS = SIDE * SIDE float32 values in [0, 1]: the MNIST
pixel (0..255, white digit on black, row-major) divided by 255. `as_inputs` goes from
pixels to inputs, `to_pixels` back (rounded to the nearest level), and `prepared_inputs`
checks numbers a client prepared itself.
"""

import numpy as np

SIDE = 28  # pixels per row and per column
INPUTS = SIDE * SIDE  # 784
CLASSES = 10  # the digits 0..9
PIXEL_SCALE = 1.0 / 255.0  # uint8 pixel -> network input
INPUT_MEANING = "28x28 MNIST pixels / 255, white digit on black, row-major"


def as_inputs(x, dtype=np.float32, out=None):
    """Network inputs in [0, 1] from uint8 pixels, or from floats already scaled."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return np.multiply(x, np.dtype(dtype).type(PIXEL_SCALE), out=out, dtype=dtype)
    return np.asarray(x, dtype=dtype)


def to_pixels(inputs):
    """uint8 pixels from network inputs in [0, 1], each rounded to the nearest of the 256 levels."""
    return np.rint(np.clip(inputs, 0, 1) * 255).astype(np.uint8)


def prepared_inputs(values, shapes=((INPUTS,), (SIDE, SIDE))):
    """float32 (N, 784) from numbers a client prepared itself; ValueError says what is wrong.

    `values` is a (nested) list of numbers in [0, 1] laid out as one of `shapes`; each
    INPUTS consecutive values are one image.
    """
    try:
        array = np.array(values)
    except (ValueError, TypeError):  # ragged nesting
        raise ValueError("must be a list of numbers, not ragged") from None
    if array.dtype.kind not in "iuf":
        raise ValueError("must contain only numbers")
    if array.shape not in shapes:
        raise ValueError(
            f"has shape {list(array.shape)}; expected {' or '.join(str(list(s)) for s in shapes)}"
        )
    array = array.astype(np.float32).reshape(-1, INPUTS)
    if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
        raise ValueError(f"values must be in [0, 1] ({INPUT_MEANING})")
    return array
