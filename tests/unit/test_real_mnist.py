"""On the real MNIST files: a short training run, and the shipped weights through the evaluation CLI."""

import json

import pytest

from mnist_mlp.data.mnist import train_val_split
from mnist_mlp.model import DEFAULT_WEIGHTS, MLP
from mnist_mlp.model.training import TrainConfig, evaluate, fit
from mnist_mlp.scripts import evaluate as evaluate_cli

pytestmark = pytest.mark.slow


def test_a_short_run_reaches_95_percent_on_the_test_set(mnist):
    x_train, y_train, x_test, y_test = mnist
    x_tr, y_tr, x_val, y_val = train_val_split(x_train, y_train, 0.1, seed=0)
    model = MLP(seed=0)
    result = fit(model, x_tr, y_tr, TrainConfig(epochs=2, lr=2e-3), x_val, y_val)
    assert not result.diverged
    assert result.best_val_accuracy > 0.95
    assert evaluate(model, x_test, y_test)[1] >= 0.95


def test_evaluation_cli_reports_the_shipped_weights(mnist_dir, tmp_path, capsys):
    report_path = tmp_path / "report.json"
    evaluate_cli.main(
        ["--weights", str(DEFAULT_WEIGHTS), "--data-dir", str(mnist_dir), "--json", str(report_path)]
    )
    report = json.loads(report_path.read_text())
    assert report["test_size"] == 10_000 and report["accuracy"] >= 0.98
    assert sum(map(sum, report["confusion_matrix"])) == 10_000
    assert report["errors"] == 10_000 - sum(report["confusion_matrix"][d][d] for d in range(10))
    recalls = [report["per_class"][str(d)]["recall"] for d in range(10)]
    assert min(recalls) > 0.95
    # the service's promise: what it does not flag is right more often than the whole
    assert 0 < report["flagged_share"] < 0.05
    assert report["accuracy_not_flagged"] > report["accuracy"]
    threshold = report["uncertain_threshold"]
    for error in report["worst_errors"]:
        assert error["second"] not in (error["predicted"], None)
        assert error["uncertain"] == (error["confidence"] < threshold)
    for suffix in (".confusion.png", ".errors.png"):
        assert report_path.with_suffix(suffix).read_bytes().startswith(b"\x89PNG")
    assert f"test accuracy {report['accuracy']:.4f}" in capsys.readouterr().out


def test_evaluation_cli_refuses_a_corrupt_weights_file(mnist_dir, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SystemExit) as stopped:
        evaluate_cli.main(
            ["--weights", str(bad), "--data-dir", str(mnist_dir), "--json", str(tmp_path / "r.json")]
        )
    assert stopped.value.code == 1
    assert f"error: {bad}: not a readable .npz file" in capsys.readouterr().err
