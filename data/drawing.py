"""The drawing page's pen, from drawing.json: the one source that both the page (service/page.py
hands it over) and the digits rendered as the page draws them (render.page_export) read.

    line_width   the stroke's width, a fraction of the canvas side: MNIST strokes are about
                 1/8 of the digit's height, and this is 1/8 of a digit half the canvas high
    export_side  px of the square PNG the page sends: twice the 28 px the network sees, so
                 small drawings keep their detail, yet half as much to decode as 112 px
"""

import json
from functools import cache
from importlib import resources


@cache
def page_pen():
    """{"line_width": float, "export_side": int}."""
    return json.loads(resources.files(__package__).joinpath("drawing.json").read_text())
