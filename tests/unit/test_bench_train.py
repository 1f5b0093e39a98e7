"""benchmarks/bench_train.py and its contenders' processes (benchmarks/train_contenders.py): the table
and the ratios with their verdicts, --check, the line protocol, and a real interleaved run.

The report is tested on given figures, so that each verdict, a PyTorch that is not there and a
contender that failed are checked exactly, and --check on them: exit 1 when a target is missed, 0
when every target is met, whatever the targets are replaced by. The real run (slow) replaces the
targets too, one impossible and the rest met by anything: on a shared 2-core machine one epoch per
contender says nothing steady about the ratios, so the test asserts the format of every line and
that --check follows the verdicts, never which verdict the load gave.
"""

import argparse
import io
import json
import re
import sys

import numpy as np
import pytest

from benchmarks import bench_train, train_contenders
from tests.bench_targets import set_targets

ARGS = bench_train.parse_args(["--epochs", "2"])
FIGURES = {  # median wall s/epoch: numpy 1.0, augmented 1.7, floor 0.5, torch 2.0
    "numpy": {"wall": [1.1, 0.9], "cpu": [1.0, 0.8], "accuracy": 0.9712, "peak_mb": 120.4},
    "numpy-augmented": {"wall": [1.8, 1.6], "cpu": [1.7, 1.5], "accuracy": 0.9801, "peak_mb": 121},
    "gemm-floor": {"wall": [0.4, 0.6], "cpu": [0.4, 0.5], "accuracy": None, "peak_mb": 270},
    "torch": {"wall": [2.0, 2.0], "cpu": [3.6, 3.6], "accuracy": 0.9705, "peak_mb": 420},
}
BASELINE = {"wall": [1.5, 1.5], "cpu": [1.2, 1.2], "accuracy": 0.9712, "peak_mb": 120}
LOAD = ((1.5, 1.0, 0.5), (1.75, 1.25, 0.5))


def ratios(out):
    return out.split("\n\n")[-1].splitlines()


def test_the_report_prints_every_contender_the_load_and_judges_each_ratio(capsys):
    verdicts = bench_train.report(FIGURES, ARGS, LOAD)
    out = capsys.readouterr().out
    assert "load average (1, 5, 15 min): 1.50 1.00 0.50 before, 1.75 1.25 0.50 after" in out
    assert re.search(r"^numpy +1\.000 +0\.900 +120 +97\.12%$", out, re.M)
    assert re.search(r"^gemm-floor +0\.500 +0\.450 +270 +-$", out, re.M)
    assert ratios(out) == [
        "numpy / GEMM floor: 2.00x (moonshot 1.3x; CPU 2.00x)  MISS (target <= 1.7x)",
        "numpy / torch: 0.50x (CPU 0.25x)  PASS (target <= 0.6x)",
        "augmented / plain: 1.70x  PASS (target <= 2x)",
        "numpy peak RSS: 120 MB  PASS (target < 500 MB)",
    ]
    assert verdicts.missed == ["numpy / GEMM floor"]


def test_without_torch_its_comparison_is_skipped_not_missed(capsys):
    without = {name: figures for name, figures in FIGURES.items() if name != "torch"}
    verdicts = bench_train.report(without, ARGS)
    assert (
        ratios(capsys.readouterr().out)[1] == "numpy / torch: skipped (no PyTorch here and no --torch-python)"
    )
    assert verdicts.missed == ["numpy / GEMM floor"]


def test_a_baseline_checkout_is_compared_unjudged_and_named_in_the_table(capsys):
    verdicts = bench_train.report({**FIGURES, "numpy-baseline": BASELINE}, ARGS)
    out = capsys.readouterr().out
    assert re.search(r"^numpy-baseline +1\.500 +1\.200 +120 +97\.12%$", out, re.M)
    assert ratios(out)[2] == "numpy / numpy-baseline: 0.67x (CPU 0.75x)"
    assert verdicts.missed == ["numpy / GEMM floor"]


def test_a_contender_that_failed_misses_every_target_that_needs_it(capsys):
    verdicts = bench_train.report({**FIGURES, "numpy": {"error": "MemoryError"}}, ARGS)
    out = capsys.readouterr().out
    assert re.search(r"^numpy +failed: MemoryError$", out, re.M)
    assert [line for line in ratios(out) if "MISS" in line] == [
        "numpy / GEMM floor: not measured (moonshot 1.3x; CPU not measured)  MISS (target <= 1.7x)",
        "numpy / torch: not measured (CPU not measured)  MISS (target <= 0.6x)",
        "augmented / plain: not measured  MISS (target <= 2x)",
        "numpy peak RSS: not measured  MISS (target < 500 MB)",
    ]
    assert len(verdicts.missed) == 4


@pytest.mark.parametrize(
    ("missed", "check", "status"),
    [(None, True, 0), ("peak_mb", True, 1), ("peak_mb", False, 0), ("floor", True, 1)],
)
def test_check_exits_1_only_when_asked_and_missed(missed, check, status, monkeypatch, capsys):
    pixels, labels = np.zeros((2, 784), np.uint8), np.zeros(2, np.uint8)
    monkeypatch.setattr(bench_train, "load_mnist", lambda *_: (pixels, labels, pixels, labels))
    monkeypatch.setattr(bench_train, "measure", lambda names, *_: ({n: FIGURES[n] for n in names}, LOAD))
    monkeypatch.setattr(bench_train, "torch_python", lambda args: "python")
    set_targets(monkeypatch, bench_train.TARGETS, missed)
    assert bench_train.main(["--epochs", "2", *(["--check"] if check else [])]) == status
    out, err = capsys.readouterr()
    assert out.count("MISS") == (missed is not None) and out.count("PASS") == 4 - (missed is not None)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    label = {"peak_mb": "numpy peak RSS", "floor": "numpy / GEMM floor"}.get(missed)
    assert errors == ([f"error: missed 1 target(s): {label}"] if status else [])


class Counting:
    def __init__(self):
        self.epochs = 0

    def epoch(self):
        self.epochs += 1

    def accuracy(self, x_test, y_test):
        return 0.5


def test_a_contender_answers_one_json_line_per_command_and_stops_at_done():
    contender, stdout = Counting(), io.StringIO()
    stdin = io.StringIO("epoch\nepoch\nbogus\ndone\nepoch\n")
    train_contenders.serve(contender, None, None, stdin, stdout)
    lines = stdout.getvalue().splitlines()
    assert lines[0] == "ready" and contender.epochs == 2  # nothing after done
    answers = [json.loads(line) for line in lines[1:]]
    assert [sorted(a) for a in answers[:2]] == [["cpu", "wall"]] * 2
    assert all(a["wall"] >= 0 and a["cpu"] >= 0 for a in answers[:2])
    assert answers[2] == {"error": "unknown command 'bogus'"}
    assert answers[3]["accuracy"] == 0.5 and answers[3]["peak_mb"] > 0
    assert len(answers) == 4


def test_a_contender_that_cannot_start_is_reported_failed_not_hung(tmp_path):
    args = bench_train.parse_args(["--epochs", "1"])
    results, _ = bench_train.measure(["gemm-floor"], args, tmp_path / "missing.npz")
    assert results["gemm-floor"]["error"].startswith("FileNotFoundError")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--lr", "nan"], "--lr must be positive and finite"),
        (["--lr", "inf"], "--lr must be positive and finite"),
        (["--batch-size", "60001"], "--batch-size must be <= 60000 (the training images)"),
        (
            ["--torch-python", "/bin/echo"],
            "--torch-python /bin/echo: is not a Python that can `import numpy, torch`",
        ),
        (["--baseline-python", "/bin/false"], "--baseline-python /bin/false: is not a Python that can"),
        (["--torch-python", "/no/such/python"], "--torch-python /no/such/python: no such program"),
        (["--data-dir", "/no/such/folder"], "/no/such/folder: no such folder"),
    ],
)
def test_bad_options_stop_in_one_line_before_any_contender_starts(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        bench_train.parse_args(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_missing_mnist_files_stop_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        bench_train.main(["--data-dir", str(tmp_path)])  # a folder without the IDX files
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.startswith("error: ") and len(err.splitlines()) == 1, err


def test_a_python_that_has_what_a_contender_imports_passes_the_probe():
    assert bench_train.probe(sys.executable, bench_train.PROBES["baseline_python"]) is None
    assert "No module named 'no_such_module'" in bench_train.probe(sys.executable, "numpy, no_such_module")


def tiny_arrays(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
@pytest.mark.parametrize("lr", [1, 10, 1e30])
def test_our_epoch_raises_when_a_too_large_learning_rate_makes_the_loss_diverge(lr):
    x, y = tiny_arrays()
    ours = train_contenders.Ours(x, y, argparse.Namespace(batch_size=16, lr=lr))
    with pytest.raises(RuntimeError, match=r"^training diverged: loss became \S+ at step \d+ \(--lr "):
        ours.epoch()


def test_our_epoch_at_a_sane_learning_rate_does_not_raise():
    x, y = tiny_arrays()
    ours = train_contenders.Ours(x, y, argparse.Namespace(batch_size=16, lr=1e-3))
    ours.epoch()
    ours.epoch()


def write_tiny_npz(folder):
    x, y = tiny_arrays()
    return bench_train.write_arrays((x, y, x[:16], y[:16]), folder)


def test_a_diverging_contender_fails_and_bench_train_exits_1_even_without_check(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(bench_train, "load_mnist", lambda *_: tiny_arrays() * 2)
    monkeypatch.setattr(bench_train, "NAMES", ("numpy",))
    status = bench_train.main(["--epochs", "1", "--lr", "10", "--batch-size", "16"])
    out, err = capsys.readouterr()
    assert re.search(
        r"^numpy +failed: RuntimeError: training diverged: loss became \S+ at step \d+", out, re.M
    )
    assert "PASS" not in out
    assert status == 1
    assert re.search(r"^error: numpy failed: RuntimeError: training diverged", err, re.M), err


def fake_contender(tmp_path, body):
    """An executable standing in for a contender's Python: it ignores its arguments and runs `body`."""
    path = tmp_path / "fake-python"
    path.write_text(f"#!{sys.executable}\nimport os, sys, time\n{body}\n")
    path.chmod(0o755)
    return str(path)


READY = "print('ready', flush=True); sys.stdin.readline()"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (f"{READY}; time.sleep(60)", "no answer within 0.5 s"),
        (f"{READY}; os.kill(os.getpid(), 9)", "killed by signal 9 (SIGKILL)"),
        (f"{READY}; sys.exit('MemoryError')", "MemoryError"),
        (f"{READY}; sys.exit(3)", "exited with status 3 without a word"),
        (f"{READY}; print('hello', flush=True); time.sleep(60)", "answered 'hello', not a JSON object"),
        ("time.sleep(60)", "no answer within 0.5 s"),
        (
            "print('-m benchmarks.train_contenders', flush=True)",
            "said '-m benchmarks.train_contenders' instead of ready",
        ),
    ],
)
def test_a_contender_that_hangs_dies_or_babbles_is_killed_and_failed_with_its_reason(
    body, error, tmp_path, monkeypatch
):
    monkeypatch.setattr(bench_train, "ANSWER_TIMEOUT_S", 0.5)
    args = bench_train.parse_args(["--epochs", "1"])
    contender = bench_train.Contender("torch", fake_contender(tmp_path, body), args, tmp_path / "none.npz")
    try:
        assert contender.ask("epoch") is None
        assert contender.error == error
        assert contender.process.poll() is not None  # killed, not left behind
    finally:
        contender.close()


def test_a_contender_that_stops_answering_fails_the_run_after_every_figure(tmp_path, monkeypatch, capsys):
    pixels, labels = np.zeros((2, 784), np.uint8), np.zeros(2, np.uint8)
    monkeypatch.setattr(bench_train, "load_mnist", lambda *_: (pixels, labels, pixels, labels))
    monkeypatch.setattr(bench_train, "NAMES", ("gemm-floor",))
    monkeypatch.setattr(bench_train, "ANSWER_TIMEOUT_S", 0.5)
    monkeypatch.setattr(bench_train, "probe", lambda *_: None)
    torch = fake_contender(tmp_path, f"{READY}; time.sleep(60)")
    status = bench_train.main(["--epochs", "1", "--batch-size", "2", "--torch-python", torch])
    out, err = capsys.readouterr()
    assert re.search(r"^gemm-floor +[\d.]+ +[\d.]+ +\d+ +-$", out, re.M), out
    assert re.search(r"^torch +failed: no answer within 0\.5 s$", out, re.M), out
    assert "numpy / torch: not measured (CPU not measured)  MISS" in out
    assert status == 1 and err.splitlines()[-1] == "error: torch failed: no answer within 0.5 s", err


@pytest.mark.slow
def test_a_real_interleaved_run_prints_every_figure_and_check_follows_the_verdicts(
    mnist_dir, monkeypatch, capsys
):
    set_targets(monkeypatch, bench_train.TARGETS, "floor")
    status = bench_train.main(["--epochs", "1", "--data-dir", str(mnist_dir), "--check"])
    out, err = capsys.readouterr()
    rows = dict(re.findall(r"^([\w-]+) +[\d.]+ +[\d.]+ +\d+ +([\d.]+%|-)$", out, re.M))
    assert {"numpy", "numpy-augmented", "gemm-floor"} <= set(rows), out
    assert float(rows["numpy"].rstrip("%")) > 90  # two epochs of Adam (warm-up + 1) read most test digits
    assert re.search(r"^load average \(1, 5, 15 min\): [\d. ]+ before, [\d. ]+ after$", out, re.M), out
    floor = r"[\d.]+x \(moonshot [\d.]+x; CPU [\d.]+x\)"
    assert re.search(rf"^numpy / GEMM floor: {floor}  MISS \(target <= -infx\)$", out, re.M), out
    assert re.search(r"^augmented / plain: [\d.]+x  PASS \(target <= infx\)$", out, re.M), out
    assert re.search(r"^numpy peak RSS: \d+ MB  PASS \(target < inf MB\)$", out, re.M), out
    assert status == 1 and "error: missed 1 target(s): numpy / GEMM floor" in err
