"""The evaluation report's figures, on hand-made probabilities (no MNIST files needed), and
mnist-evaluate's answer to bad options."""

import json

import numpy as np
import pytest

from mnist_mlp.model import MLP, save_weights
from mnist_mlp.scripts import evaluate
from mnist_mlp.scripts.evaluate import flagged_figures
from tests.tools import assert_usage_error


def test_flagged_share_and_accuracy_on_the_digits_not_flagged():
    probabilities = np.array(
        [
            [0.9, 0.1] + [0] * 8,  # right, sure
            [0.6, 0.4] + [0] * 8,  # right, flagged
            [0.3, 0.7] + [0] * 8,  # wrong, flagged
            [0.05, 0.95] + [0] * 8,  # wrong, sure
        ]
    )
    figures = flagged_figures(probabilities, np.array([0, 0, 0, 0]), threshold=0.75)
    assert figures == {"flagged_share": 0.5, "accuracy_not_flagged": 0.5, "uncertain_threshold": 0.75}
    everything_flagged = flagged_figures(probabilities, np.zeros(4, dtype=int), threshold=1.0)
    assert everything_flagged["flagged_share"] == 1 and everything_flagged["accuracy_not_flagged"] is None


BAD_OPTIONS = [
    (
        ["--json", "{file}/report.json"],
        "argument --json: cannot write {file}/report.json: {file} is not a folder",
    ),
    (["--json", "{folder}"], "argument --json: {folder} is a folder, not a file"),
    (
        ["--data-dir", "{folder}/missing"],
        "{folder}/missing: no such folder; --data-dir names the folder of the MNIST IDX files",
    ),
    (["--data-home", "{file}"], "--data-home {file} is a file, not a folder"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_every_bad_option_stops_in_one_line_before_the_test_set_is_loaded(args, message, mnist_dir, tmp_path):
    assert_usage_error("mnist-evaluate", args, message, tmp_path, "--data-dir", mnist_dir)


def test_weights_that_never_predict_some_digits_get_a_report_not_a_traceback(mnist_dir, tmp_path, capsys):
    """Weights that answer 0 for everything (as --init zeros trains to) leave nine precisions undefined."""
    model = MLP((784, 16, 10))
    for array in (*model.weights, *model.biases):
        array[...] = 0
    model.biases[-1][0] = 1
    weights, report_path = tmp_path / "zeros.npz", tmp_path / "report.json"
    save_weights(weights, model)
    evaluate.main(["--weights", str(weights), "--data-dir", str(mnist_dir), "--json", str(report_path)])
    report = json.loads(report_path.read_text())
    assert [report["per_class"][str(d)]["precision"] for d in range(1, 10)] == [None] * 9
    out = capsys.readouterr().out
    assert "  0: precision 0.0980  recall 1.0000" in out
    assert "  7: precision n/a  recall 0.0000" in out
