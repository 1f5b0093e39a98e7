import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from mnist_mlp.data.synth.outliers import OUTLIER_CATEGORIES
from mnist_mlp.data.synth.train_digits import TRAIN_DIGIT_KINDS
from mnist_mlp.model import DEFAULT_WEIGHTS, WeightsError, load_weights
from mnist_mlp.model.cnn import load_teacher
from mnist_mlp.model.training import TrainConfig
from mnist_mlp.scripts import train
from tests.machine import REPO
from tests.tools import assert_usage_error, run_tool

# MNIST's digits only: no outlier pool or training digits to render, seconds per test
PLAIN = ("--no-outlier-exposure", "--train-digits", "0")


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "mnist_mlp.scripts.train", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def test_training_writes_weights_metrics_and_curves(small_mnist, tmp_path):
    out = tmp_path / "run" / "w.npz"
    train.main([*PLAIN, "--data-dir", str(small_mnist), "--epochs", "3", "--out", str(out), "--lr", "3e-3"])
    model, meta = load_weights(out)
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    png = out.with_suffix(".curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert metrics["train_size"] + metrics["val_size"] == 2000 and abs(metrics["val_size"] - 200) <= 5
    assert meta["test_accuracy"] == metrics["test_accuracy"] > 0.7
    assert (
        meta["seed"] == 0 and meta["data_source"] == str(small_mnist) and len(meta["data_fingerprint"]) == 16
    )
    assert meta["val_accuracy"] == max(h["val_accuracy"] for h in metrics["history"])


def test_training_digits_are_added_to_the_training_split_and_recorded(small_mnist, tmp_path):
    out = tmp_path / "td.npz"
    args = ["--data-dir", str(small_mnist), "--epochs", "1", "--out", str(out), "--no-outlier-exposure"]
    train.main([*args, "--train-digits", "30"])
    _, meta = load_weights(out)
    info = meta["training_digits"]
    assert info["per_kind"] == 30 and set(info["by_kind"]) == set(TRAIN_DIGIT_KINDS)
    assert all(25 <= n <= 30 for n in info["by_kind"].values())
    assert meta["train_size"] + meta["val_size"] == 2000  # the split's sizes: MNIST's images only


def test_outlier_exposure_run_records_its_pool_and_held_out_flags(small_mnist, tmp_path):
    out = tmp_path / "oe.npz"
    args = ["--data-dir", str(small_mnist), "--epochs", "2", "--out", str(out), "--val-fraction", "0.2"]
    train.main(
        [*args, "--outlier-exposure", "--outlier-pool", "12", "--outlier-val", "6", "--train-digits", "0"]
    )
    _, meta = load_weights(out)
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    info = meta["outlier_exposure"]
    assert info == metrics["outlier_exposure"] and info["split"] == "train"
    assert info["weight"] == 0.5 and info["batch"] == 64 and 0 < info["pool_size"] <= 5 * 12
    assert meta["val_fraction"] == 0.2 and metrics["val_size"] == pytest.approx(400, abs=5)
    assert "train_outlier_loss" in metrics["history"][-1]
    flags = metrics["val_outliers_flagged"]
    assert 0 <= flags["all"] <= 1 and set(flags["by_category"]) <= set(OUTLIER_CATEGORIES)


def test_outlier_exposure_is_on_by_default():
    args = train.parse_args([])
    assert args.outlier_exposure and args.outlier_val == 200
    assert train.parse_args(["--no-outlier-exposure"]).outlier_val == 0


def test_without_outlier_exposure_nothing_is_rendered(small_mnist, tmp_path, monkeypatch):
    def no_rendering(*_, **__):
        raise AssertionError("outlier_pool called without --outlier-exposure")

    monkeypatch.setattr(train, "outlier_pool", no_rendering)
    out = tmp_path / "plain.npz"
    train.main([*PLAIN, "--data-dir", str(small_mnist), "--epochs", "1", "--out", str(out)])
    _, meta = load_weights(out)
    assert meta["outlier_exposure"] is None and meta["val_fraction"] == 0.1


def test_same_seed_same_weights(small_mnist, tmp_path):
    paths = [tmp_path / f"{name}.npz" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (1, 1, 2)):
        args = ["--data-dir", str(small_mnist), "--epochs", "1", "--seed", str(seed), "--out", str(path)]
        train.main([*PLAIN, *args])
    a, b, c = (load_weights(p)[0].params for p in paths)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_diverging_run_stops_with_one_line_and_keeps_the_old_weights(small_mnist, tmp_path):
    out = tmp_path / "w.npz"
    out.write_bytes(b"previous weights")
    done = run_cli(*PLAIN, "--data-dir", small_mnist, "--epochs", "2", "--lr", "10", "--out", out)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "error: training diverged" in done.stderr.strip().splitlines()[-1]
    assert out.read_bytes() == b"previous weights"


def test_divergence_after_good_epochs_saves_the_best_of_them(small_mnist, tmp_path, monkeypatch):
    from mnist_mlp.model import training

    calls = {"n": 0}
    real = training.softmax_cross_entropy_

    def explodes_in_epoch_three(logits, labels):
        calls["n"] += 1
        loss, grad = real(logits, labels)
        return (float("nan") if calls["n"] > 2 * 15 else loss), grad  # 15 batches of 128 per epoch

    monkeypatch.setattr(training, "softmax_cross_entropy_", explodes_in_epoch_three)
    out = tmp_path / "w.npz"
    with pytest.raises(SystemExit) as stopped:
        train.main([*PLAIN, "--data-dir", str(small_mnist), "--epochs", "5", "--out", str(out)])
    assert stopped.value.code == 1
    _, meta = load_weights(out)
    assert meta["epochs"] in (1, 2)
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    assert len(metrics["history"]) == 2 and "loss became nan" in metrics["diverged"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "at least 1"),
        (["--optimizer", "lbfgs"], "invalid choice"),
        (["--val-fraction", "1.5"], "val-fraction"),
        (["--out", "weights.pkl"], "must end in .npz"),
        (["--outlier-exposure", "--outlier-batch", "0"], "--outlier-batch"),
        (["--data-dir", "/nonexistent"], "error: /nonexistent: no such folder"),
    ],
)
def test_bad_options_get_one_clear_line(args, message):
    done = run_cli(*args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert message in done.stderr


def test_without_data_dir_and_offline_the_user_is_told_what_to_do(monkeypatch, capsys):
    import urllib.error

    def offline(*_, **__):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setattr("sklearn.datasets.fetch_openml", offline)
    with pytest.raises(SystemExit) as stopped:
        train.main(["--epochs", "1"])
    assert stopped.value.code == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--data-dir" in error[0] and "no network" in error[0]


def test_the_curves_legend_says_why_training_differs_from_validation():
    plain = [{"epoch": 1, "train_loss": 0.3}]
    exposed = [{"epoch": 1, "train_loss": 0.3, "train_outlier_loss": 2.4}]
    assert "running mean" in train._train_label(plain, augmented=False)
    assert "augmented" not in train._train_label(plain, augmented=False)
    assert "augmented" in train._train_label(plain, augmented=True)
    assert "outlier term" in train._train_label(exposed, augmented=True)
    assert "outlier term" not in train._train_label(plain, augmented=True)


BAD_OPTIONS = [
    (["--lr", "-1"], "argument --lr: must be a number above 0, got -1"),
    (["--lr", "0"], "argument --lr: must be a number above 0, got 0"),
    (["--lr", "nan"], "argument --lr: must be a number above 0, got nan"),
    (["--lr", "inf"], "argument --lr: must be a number above 0, got inf"),
    (["--weight-decay", "-1"], "argument --weight-decay: must be a number at least 0, got -1"),
    (["--batch-size", "0"], "argument --batch-size: must be an integer at least 1, got 0"),
    (["--batch-size", "1.5"], "argument --batch-size: must be an integer at least 1, got 1.5"),
    (["--epochs", "0"], "argument --epochs: must be an integer at least 1, got 0"),
    (["--max-flag-rate", "2"], "argument --max-flag-rate: must be a number at least 0 and below 1, got 2"),
    (["--max-flag-rate", "1"], "argument --max-flag-rate: must be a number at least 0 and below 1, got 1"),
    (["--warmup-epochs", "-3"], "argument --warmup-epochs: must be a number at least 0, got -3"),
    (["--epochs", "5", "--warmup-epochs", "6"], "--warmup-epochs (6) must be at most --epochs (5)"),
    (["--seed", "-1"], "argument --seed: must be an integer at least 0, got -1"),
    (["--val-fraction", "0"], "argument --val-fraction: must be a number above 0 and below 1, got 0"),
    (["--val-fraction", "1"], "argument --val-fraction: must be a number above 0 and below 1, got 1"),
    (["--outlier-weight", "-0.5"], "argument --outlier-weight: must be a number at least 0, got -0.5"),
    (["--outlier-batch", "0"], "argument --outlier-batch: must be an integer at least 1, got 0"),
    (["--outlier-pool", "0"], "argument --outlier-pool: must be an integer at least 1, got 0"),
    (["--outlier-val", "-1"], "argument --outlier-val: must be an integer at least 0, got -1"),
    (["--train-digits", "-1"], "argument --train-digits: must be an integer at least 0, got -1"),
    (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs' (choose from 'adam', 'sgd')"),
    (
        ["--schedule", "step"],
        "argument --schedule: invalid choice: 'step' (choose from 'cosine', 'constant')",
    ),
    (
        ["--init", "ones"],
        "argument --init: invalid choice: 'ones' (choose from 'he', 'zeros', 'too_small', 'too_large')",
    ),
    (["--out", "weights.pkl"], "--out must end in .npz, got weights.pkl"),
    (["--out", "{file}/w.npz"], "argument --out: cannot write {file}/w.npz: {file} is not a folder"),
    (["--out", "{folder}"], "argument --out: {folder} is a folder, not a file"),
    (
        ["--data-dir", "{folder}/missing"],
        "{folder}/missing: no such folder; --data-dir names the folder of the MNIST IDX files",
    ),
    (["--data-home", "{file}"], "--data-home {file} is a file, not a folder"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (
        ["--label-smoothing", "1"],
        "argument --label-smoothing: must be a number at least 0 and below 1, got 1",
    ),
    (["--ema-decay", "1"], "argument --ema-decay: must be a number at least 0 and below 1, got 1"),
    (["--distill-temperature", "0"], "argument --distill-temperature: must be a number above 0, got 0"),
    (
        ["--distill-alpha", "1.5"],
        "argument --distill-alpha: must be a number at least 0 and at most 1, got 1.5",
    ),
    (["--network", "rnn"], "argument --network: invalid choice: 'rnn' (choose from 'mlp', 'cnn')"),
    (["--teacher", "{file}"], "--teacher {file}: not an .npz file"),
    (["--teacher", "{folder}/t.npz"], "--teacher {folder}/t.npz: No such file or directory"),
    (
        ["--teacher", str(DEFAULT_WEIGHTS)],
        f"--teacher {DEFAULT_WEIGHTS}: not a ConvNet teacher (write one with mnist-train --network cnn)",
    ),
    (
        ["--teacher", "{file}", "--label-smoothing", "0.1"],
        "--label-smoothing and --teacher exclude each other: both replace the one-hot targets",
    ),
    (["--network", "cnn", "--teacher", "{file}"], "--teacher trains the served MLP, not --network cnn"),
    (
        ["--network", "cnn", "--init", "zeros"],
        "--init chooses the MLP's initial weights, not --network cnn's",
    ),
    (["--cnn-shape", "8,16,32"], "--cnn-shape needs --network cnn"),
    (
        ["--network", "cnn", "--cnn-shape", "8,0,32"],
        "argument --cnn-shape: must be three positive integers C1,C2,HIDDEN, got 8,0,32",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_every_bad_option_stops_in_one_line_before_any_data_is_loaded(args, message, mnist_dir, tmp_path):
    """The real MNIST folder is given first (a later --data-dir wins): loading it and rendering
    the training digits and outliers takes the old code 35 s before it fails, or trains in full."""
    assert_usage_error("mnist-train", args, message, tmp_path, "--data-dir", mnist_dir)


def test_every_training_setting_is_an_option_with_its_default():
    args = train.parse_args([])
    for setting in fields(TrainConfig):
        assert getattr(args, setting.name) == setting.default, setting.name


def test_label_smoothing_and_the_weights_average_reach_the_training_loop(small_mnist, tmp_path):
    out = tmp_path / "w.npz"
    args = ["--data-dir", str(small_mnist), "--epochs", "1", "--out", str(out)]
    train.main([*PLAIN, *args, "--label-smoothing", "0.1", "--ema-decay", "0.99"])
    config = load_weights(out)[1]["train_config"]
    assert (config["label_smoothing"], config["ema_decay"]) == (0.1, 0.99)


def test_a_cnn_teacher_then_a_student_distilled_from_it(small_mnist, tmp_path):
    """The two commands of distillation on 1,800 digits (a narrow ConvNet: seconds, not minutes):
    the teacher file is refused as served weights, and the student records which teacher it
    learnt from and the soft term's KL."""
    teacher, student = tmp_path / "teacher.npz", tmp_path / "student.npz"
    data = ["--data-dir", str(small_mnist), "--epochs", "2", "--lr", "3e-3"]
    train.main([*PLAIN, *data, "--network", "cnn", "--cnn-shape", "8,16,64", "--out", str(teacher)])
    with pytest.raises(WeightsError, match="distillation teacher"):
        load_weights(teacher)
    _, info = load_teacher(teacher)
    assert info["val_accuracy"] > 0.7 and (info["architecture"], info["channels"]) == ("convnet", [8, 16])
    soft = ["--teacher", str(teacher), "--distill-temperature", "2", "--distill-alpha", "0.5"]
    train.main([*PLAIN, *data, *soft, "--out", str(student)])
    _, meta = load_weights(student)
    assert meta["network"] == "mlp" and meta["teacher"]["path"] == str(teacher)
    assert meta["teacher"]["val_accuracy"] == info["val_accuracy"]
    assert (meta["train_config"]["distill_temperature"], meta["train_config"]["distill_alpha"]) == (2, 0.5)
    history = json.loads(student.with_suffix(".metrics.json").read_text())["history"]
    assert all(h["train_distill_kl"] > 0 for h in history)
    assert history[-1]["train_distill_kl"] < history[0]["train_distill_kl"]


def test_an_out_folder_that_does_not_exist_yet_is_made_at_the_end_only(small_mnist, tmp_path):
    out = tmp_path / "new" / "deeper" / "w.npz"
    args = train.parse_args(["--out", str(out)])
    assert args.out == out and not (tmp_path / "new").exists()  # checked, not made, while parsing
    train.main([*PLAIN, "--data-dir", str(small_mnist), "--epochs", "1", "--out", str(out)])
    assert load_weights(out)[1]["epochs"] == 1


def test_outputs_default_to_runs_which_git_ignores():
    from mnist_mlp.scripts import evaluate, export

    assert train.parse_args([]).out == Path("runs/mnist_mlp.npz")
    assert evaluate.parse_args([]).json == Path("runs/evaluation.json")
    assert export.parse_args([]).onnx == Path("runs/mnist_mlp.onnx")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    for name in ("runs/mnist_mlp.npz", "runs/evaluation.confusion.png", "runs/mnist_mlp.onnx"):
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=REPO)
        assert ignored.returncode == 0, f"git does not ignore {name}"


def test_the_log_says_what_the_training_set_is_made_of(small_mnist, tmp_path, capsys):
    out = tmp_path / "w.npz"
    args = ["--no-outlier-exposure", "--data-dir", str(small_mnist), "--epochs", "1", "--out", str(out)]
    train.main([*args, "--train-digits", "30"])
    _, meta = load_weights(out)
    rendered = sum(meta["training_digits"]["by_kind"].values())
    total = meta["train_size"] + rendered
    expected = f"training on {total:,} images ({meta['train_size']:,} MNIST + {rendered:,} rendered), "
    assert expected + f"validating on {meta['val_size']:,}; " in capsys.readouterr().err
    train.main([*PLAIN, "--data-dir", str(small_mnist), "--epochs", "1", "--out", str(out)])
    alone = f"training on {meta['train_size']:,} images ({meta['train_size']:,} MNIST), validating on "
    assert alone in capsys.readouterr().err


# The README's quick run: a comment ending in "about N s", then the command on the next line.
QUICK_RUN = re.compile(r"^# (a quick run[^\n]*about (\d+) s)\n(mnist-train [^\n]+)$", re.MULTILINE)
# The README states the time on an idle 2-core machine; a CI machine running the suite may be
# slower, so the run may take up to three times that. The old quick run (12,000 rendered digits
# added silently, 23-27 s for a stated 5 s) fails this.
QUICK_RUN_MARGIN = 3


@pytest.mark.slow
def test_the_readme_quick_run_takes_the_time_the_readme_states(mnist_dir, tmp_path):
    found = QUICK_RUN.search((REPO / "README.md").read_text())
    assert found, "the README has no quick run: '# a quick run ... about N s' above an mnist-train command"
    stated, command = int(found[2]), shlex.split(found[3])
    assert "--data-dir" not in command  # the README's commands read MNIST as a user's first run does
    # offline, the README says, MNIST_DATA_DIR names a folder of the four IDX files
    env = {**os.environ, "MNIST_DATA_DIR": str(mnist_dir)}
    done, seconds = run_tool(command[0], *command[1:], cwd=tmp_path, timeout=60 * stated, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert seconds <= QUICK_RUN_MARGIN * stated, f"{found[1]}: took {seconds:.1f} s"
    assert "(54,001 MNIST), validating on 5,999" in done.stderr  # MNIST alone, as the README says
