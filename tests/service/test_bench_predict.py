"""benchmarks/bench_predict.py runs end to end on a few hundred rendered test PNGs and prints every
figure; --check exits 1 when a target is missed, 0 when every target is met.

Format only, with each verdict the one its printed figure earns, whichever that is: both
targets are ratios of images per second, and on a few hundred images starting the tool and its
workers takes most of the time, which the machine's load stretches unevenly; the full run's
figures are the benchmark's to judge. The --check runs replace the targets by ones that any
figure meets, and then one of them by one that none meets.
"""

import re

import pytest

from benchmarks import bench_predict
from tests.bench_targets import assert_verdict_follows_its_figure, set_targets
from tests.tools import run_module


def test_bench_predict_times_both_job_counts_and_the_http_loop(mnist_dir):
    run = run_module("bench_predict", "--images", "200", "--data-dir", mnist_dir, package="benchmarks")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "wrote 200 PNGs" in out
    for name in ("jobs 1", "jobs 2", "HTTP loop"):
        rate, accuracy = re.search(rf"^ *{name}: +(\d+) images/s   accuracy ([\d.]+)%$", out, re.M).groups()
        assert int(rate) > 0 and float(accuracy) > 90, name
    for label in ("jobs 2 / jobs 1", "jobs 2 / HTTP loop"):
        assert_verdict_follows_its_figure(out, label, r"([\d.]+)x")


@pytest.mark.parametrize("missed", [None, "jobs"])
def test_check_exits_1_when_a_target_is_missed_and_0_when_all_are_met(missed, mnist_dir, monkeypatch, capsys):
    set_targets(monkeypatch, bench_predict.TARGETS, missed)
    status = bench_predict.main(["--images", "40", "--data-dir", str(mnist_dir), "--check"])
    out, err = capsys.readouterr()
    if missed is None:
        assert (status, err, out.count("PASS (target"), out.count("MISS")) == (0, "", 2, 0), out + err
    else:
        assert (status, out.count("MISS")) == (1, 1), out
        assert re.search(r"jobs 2 / jobs 1: [\d.]+x  MISS \(target >= infx\)", out), out
        assert err == "error: missed 1 target(s): jobs 2 / jobs 1\n"
