"""What one request may cost, bounded before the work is done: seconds of work and bytes of answer.

Time: a `Deadline` of REQUEST_BUDGET seconds starts with the view. Loops over images and over
explanations check it between items, so a request that runs long is answered 503
(`time_budget_exceeded`) after at most one more item, whatever it asked for.

Bytes: `check_answer` bounds the answer before anything is decoded or computed, from the most each
part can take per input. A JSON number is at most FLOAT_BYTES characters and a 28x28 PNG is at
most its rows stored uncompressed, so

    answer <= inputs x (prediction + preview + explanation)    [each part only when asked for]

and an answer that could exceed MAX_ANSWER_BYTES is refused 413 (`answer_too_large`).
"""

import functools
import math
import time

from flask import current_app

from ..model.contract import SIDE
from .errors import ApiError

FLOAT_BYTES = 25  # the longest JSON number and its comma: -2.2250738585072014e-308,
STRUCTURE_BYTES = 300  # per input: the names, brackets and quotes of one answer (escaped in /v2)
DATA_URL_PREFIX = len("data:image/png;base64,")


def png_url_bytes(channels):
    """The longest data: URL of a SIDE x SIDE PNG with `channels` bytes a pixel: rows stored raw."""
    raw = SIDE * (1 + SIDE * channels)  # a filter byte starts each row
    zlib = 2 + raw + 5 + 4  # header, one stored block (its 5-byte header), Adler-32
    png = 8 + 25 + (12 + zlib) + 12  # signature, IHDR, IDAT, IEND
    return DATA_URL_PREFIX + 4 * math.ceil(png / 3)


@functools.cache  # a few networks, two options
def item_bytes(layer_sizes, preview=False, explain=False):
    """The most one input's part of an answer can take, for a network of `layer_sizes`."""
    n_in, *hidden, n_out = layer_sizes
    size = STRUCTURE_BYTES + (n_out + 1) * FLOAT_BYTES  # probabilities and confidence (or digit)
    if preview:
        size += png_url_bytes(1)
    if explain:  # gradient, contrast, hidden activations, logits, runner-up; two RGBA heatmaps
        size += STRUCTURE_BYTES + (2 * n_in + sum(hidden) + n_out + 1) * FLOAT_BYTES + 2 * png_url_bytes(4)
    return size


def check_answer(items, layer_sizes, preview=False, explain=False):
    """413 if the answer for `items` inputs could be larger than MAX_ANSWER_BYTES."""
    limit = current_app.config["MAX_ANSWER_BYTES"]
    each = item_bytes(layer_sizes, preview, explain)
    if items * each > limit:
        asked = " with explanations" if explain else " with previews" if preview else ""
        raise ApiError(
            413,
            "answer_too_large",
            f"the answer for {items} inputs{asked} could take {items * each} bytes; the limit is "
            f"{limit} bytes: send at most {max(1, limit // each)} inputs a request{asked}",
        )


class Deadline:
    """REQUEST_BUDGET seconds from its making; `check` answers 503 once they have passed."""

    def __init__(self):
        self.seconds = current_app.config["REQUEST_BUDGET"]
        self.at = time.monotonic() + self.seconds

    def check(self, done, total, what, advice):
        """Raise the 503 if the time is up, having done `done` of `total` `what`."""
        if time.monotonic() > self.at:
            raise ApiError(
                503,
                "time_budget_exceeded",
                f"the request took longer than {self.seconds:g} s after {done} of {total} {what}; {advice}",
            )
