"""The code behind each view: a function's source and line numbers, read from the installed package.

The page shows them beside the pictures, so what is drawn and the lines that computed it
sit side by side; read with `inspect` at start-up, they cannot drift from the code.
"""

import inspect
import textwrap
from dataclasses import dataclass

from ..data.preprocess import preprocess
from ..model.losses import softmax_cross_entropy_
from ..model.mlp import MLP
from ..model.training import _Run, evaluate, fit
from .history import History
from .views import dead_unit_shares, first_layer_png, gradient_norms


@dataclass(frozen=True)
class CodeRef:
    name: str  # "MLP.backward"
    path: str  # "model/mlp.py", in the repository and under mnist_mlp/ once installed
    first: int  # line numbers in that file, both included
    last: int
    source: str  # those lines, dedented


def code_ref(function, marker=None):
    """The CodeRef of `function`; with `marker`, only the statement that contains it and its block."""
    lines, first = inspect.getsourcelines(function)
    if marker is not None:
        start = next(i for i, line in enumerate(lines) if marker in line)
        depth = _indent(lines[start])
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > depth):
            end += 1
        lines, first = lines[start:end], first + start
    module = inspect.getmodule(function).__name__  # mnist_mlp.model.mlp
    path = "/".join(module.split(".")[1:]) + ".py"
    return CodeRef(
        function.__qualname__, path, first, first + len(lines) - 1, textwrap.dedent("".join(lines))
    )


def _indent(line):
    return len(line) - len(line.lstrip())


def view_code():
    """Each view of the page -> the CodeRefs of what computes it, most direct first."""
    return {
        "loss": [code_ref(softmax_cross_entropy_), code_ref(History.__call__)],
        "accuracy": [code_ref(evaluate)],
        "grad_norms": [code_ref(gradient_norms), code_ref(MLP.backward)],
        "dead_units": [code_ref(dead_unit_shares), code_ref(MLP.activation_slope)],
        "first_layer": [code_ref(first_layer_png), code_ref(MLP.init_params)],
        "guard": [code_ref(_Run.epoch, marker="DIVERGED_LOSS")],
        "draw": [code_ref(preprocess), code_ref(MLP.predict_proba)],
        "training": [code_ref(fit)],
    }
