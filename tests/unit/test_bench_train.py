"""benchmarks/bench_train.py: the table and the ratios with their verdicts, --check, and a real
epoch of every contender.

The report is tested on given figures, so that each verdict, a PyTorch that is not installed
and a contender that failed are checked exactly, and --check on them: exit 1 when a target is
missed, 0 when every target is met, whatever the targets are replaced by. The real run (slow)
asserts the format only of the timed ratios, with each verdict the one its printed figure earns,
whichever that is: one epoch per contender on a shared 2-core machine says nothing steady about
them. It asserts the verdict of the peak RSS: memory, which the load does not change, far under
its target.
"""

import re

import pytest

from benchmarks import bench_train
from tests.bench_targets import assert_verdict_follows_its_figure, set_targets
from tests.tools import run_module

ARGS = bench_train.parse_args(["--epochs", "2"])
FIGURES = {  # median s/epoch: numpy 1.0, augmented 1.7, floor 0.5, torch 2.0, sklearn 0.5
    "numpy": {"seconds": [1.1, 0.9], "accuracy": 0.9712, "peak_mb": 120.4},
    "numpy-augmented": {"seconds": [1.8, 1.6], "accuracy": 0.9801, "peak_mb": 121},
    "gemm-floor": {"seconds": [0.4, 0.6], "accuracy": None, "peak_mb": 270},
    "torch": {"seconds": [2.0, 2.0], "accuracy": 0.9705, "peak_mb": 420},
    "sklearn": {"seconds": [0.5, 0.5], "accuracy": 0.9784, "peak_mb": 700},
}


def ratios(out):
    return out.split("\n\n")[-1].splitlines()


def test_the_report_prints_every_contender_and_judges_each_ratio(capsys):
    verdicts = bench_train.report(FIGURES, ARGS)
    out = capsys.readouterr().out
    assert re.search(r"^numpy +1\.000 +120 +97\.12%$", out, re.M)
    assert re.search(r"^gemm-floor +0\.500 +270 +-$", out, re.M)
    assert ratios(out) == [
        "numpy / GEMM floor: 2.00x (moonshot 1.3x)  MISS (target <= 1.7x)",
        "numpy / torch: 0.50x  PASS (target <= 0.6x)",
        "numpy / sklearn: 2.00x",
        "augmented / plain: 1.70x  PASS (target <= 2x)",
        "numpy peak RSS: 120 MB  PASS (target < 500 MB)",
    ]
    assert verdicts.missed == ["numpy / GEMM floor"]


def test_without_torch_its_comparison_is_skipped_not_missed(capsys):
    without = {name: figures for name, figures in FIGURES.items() if name != "torch"}
    verdicts = bench_train.report(without, ARGS)
    assert "numpy / torch: skipped (PyTorch not installed;" in ratios(capsys.readouterr().out)[1]
    assert verdicts.missed == ["numpy / GEMM floor"]


def test_a_contender_that_failed_misses_every_target_that_needs_it(capsys):
    verdicts = bench_train.report({**FIGURES, "numpy": {"error": "MemoryError"}}, ARGS)
    out = capsys.readouterr().out
    assert re.search(r"^numpy +failed: MemoryError$", out, re.M)
    assert [line for line in ratios(out) if "MISS" in line] == [
        "numpy / GEMM floor: not measured (moonshot 1.3x)  MISS (target <= 1.7x)",
        "numpy / torch: not measured  MISS (target <= 0.6x)",
        "augmented / plain: not measured  MISS (target <= 2x)",
        "numpy peak RSS: not measured  MISS (target < 500 MB)",
    ]
    assert len(verdicts.missed) == 4


@pytest.mark.parametrize(
    ("missed", "check", "status"), [(None, True, 0), ("peak_mb", True, 1), ("peak_mb", False, 0)]
)
def test_check_exits_1_only_when_asked_and_missed(missed, check, status, monkeypatch, capsys):
    monkeypatch.setattr(bench_train, "measure", lambda name, args: FIGURES[name])
    set_targets(monkeypatch, bench_train.TARGETS, missed)
    assert bench_train.main(["--epochs", "2", *(["--check"] if check else [])]) == status
    out, err = capsys.readouterr()
    assert out.count("MISS") == (missed is not None)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == (["error: missed 1 target(s): numpy peak RSS"] if status else [])


@pytest.mark.slow
def test_one_real_epoch_of_every_contender(mnist_dir):
    args = ("--epochs", "1", "--data-dir", mnist_dir)
    run = run_module("bench_train", *args, package="benchmarks", timeout=600)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    rows = dict(re.findall(r"^([\w-]+) +[\d.]+ +\d+ +([\d.]+%|-)$", out, re.M))
    assert {"numpy", "numpy-augmented", "gemm-floor"} <= set(rows), out
    assert float(rows["numpy"].rstrip("%")) > 90  # one epoch of Adam reads most test digits
    assert_verdict_follows_its_figure(out, "numpy / GEMM floor", r"([\d.]+)x \(moonshot [\d.]+x\)")
    if "torch" in rows:
        assert_verdict_follows_its_figure(out, "numpy / torch", r"([\d.]+)x")
    else:
        assert re.search(r"^numpy / torch: skipped \(PyTorch not installed;", out, re.M), out
    assert_verdict_follows_its_figure(out, "augmented / plain", r"([\d.]+)x")
    assert re.search(r"^numpy peak RSS: \d+ MB  PASS \(target < [\d.]+ MB\)$", out, re.M), out
