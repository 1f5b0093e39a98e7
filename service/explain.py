"""Inside the network: the `explanation` of answers, and GET /model/units/<layer>/<unit>.png.

An explanation (asked for with /predict?explain=1 or the /v2 parameter "explain") holds, per
image: "gradient" and "contrast" (784 numbers each, row-major 28x28), "runner_up", "hidden"
(the 128 and 64 activations), "logits" (10), and "heatmap" and "contrast_heatmap", PNG data:
URLs of gradient x input and contrast x input (model/explain.py says what each means).
"""

from flask import Blueprint, current_app, request

from ..data.heatmap import add_heatmaps, diverging_rgba
from ..data.preview import png_bytes
from ..model.explain import unit_pattern
from .errors import ApiError

bp = Blueprint("explain", __name__)


def explanations(clf, inputs, deadline):
    """One explanation per input row, heatmaps included, within the request's `deadline`.

    The heatmaps are the slow part (two PNGs a row): the deadline is checked before each row's.
    """
    rows = clf.explanations(inputs)
    for index in range(len(rows)):
        deadline.check(index, len(rows), "explanations", "ask for fewer explanations at once")
        add_heatmaps(rows[index : index + 1], inputs[index : index + 1])
    return rows


@bp.get("/model/units/<int:layer>/<int:unit>.png")
def unit_png(layer, unit):
    """What one hidden unit looks for, as a 28x28 diverging image (model/explain.py:unit_pattern)."""
    clf = current_app.extensions["classifier"]
    try:
        pattern = unit_pattern(clf.mlp, layer, unit)
    except ValueError as exc:
        raise ApiError(404, "not_found", f"no such unit: {exc}") from None
    response = current_app.response_class(png_bytes(diverging_rgba(pattern)), mimetype="image/png")
    response.set_etag(f"{clf.model_id}-{layer}-{unit}")  # the pattern changes only with the weights
    response.cache_control.no_cache = True
    return response.make_conditional(request)
