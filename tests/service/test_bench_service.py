"""benchmarks/bench_service.py runs end to end: every route answered, every figure printed; and
--check exits 1 when a target is missed, 0 when every target is met.

Verdicts asserted (PASS): RSS per worker, memory the machine's load hardly moves, well under its
target; and the in-process preprocess + forward, an order of magnitude under its target, a
margin a loaded machine does not close. Format only, with each verdict the one its printed
figure earns, whichever that is: the throughput ratios, p99 latency and start-to-ready, timings
of a server sharing 2 cores with its load generator and with whatever else runs. The --check
runs replace the targets by ones that any figure meets, and then one of them by one that none
meets.
"""

import re

import pytest

from benchmarks import bench_service
from tests.bench_targets import assert_verdict_follows_its_figure, set_targets
from tests.tools import run_module

ROUTES = ("/predict mnist28", "/predict page", "/healthz")


def test_bench_service_drives_every_route_and_prints_every_figure(mnist_dir):
    run = run_module(
        "bench_service", "--seconds", "0.3", "--turns", "1", "--data-dir", mnist_dir, package="benchmarks"
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    rows = re.findall(r"^ +(\d+) (/\S+(?: \w+)?) +(\d+) +([\d.]+) +([\d.]+) +([\d.]+) +(\d+)$", out, re.M)
    assert {(int(level), route) for level, route, *_ in rows} == {
        (level, route) for level in (1, 4, 16) for route in ROUTES
    }
    for _, route, rps, _, _, cpu_ms, errors in rows:
        assert int(errors) == 0, route  # every request answered 200
        assert int(rps) > 0 and float(cpu_ms) > 0, route
    for level in (" 1", " 4", "16"):
        for name in ("mnist28", "page"):
            label = f"predict {name}/healthz throughput at {level}"
            assert_verdict_follows_its_figure(out, label, r"([\d.]+)")
    for name in ("mnist28", "page"):
        assert_verdict_follows_its_figure(out, f"p99 /predict {name} at 16", r"([\d.]+) ms")
    assert_verdict_follows_its_figure(out, "start to ready", r"([\d.]+) s")
    assert re.search(r"in-process forward alone, batch 1: [\d.]+ us median \(predicts 7, label 7\)", out)
    for verdict in (
        r"RSS per worker: [\d.]+, [\d.]+ MB  PASS \(target < [\d.]+ MB\)",
        r"in-process preprocess \+ forward, mnist28: [\d.]+ ms median  PASS \(target < [\d.]+ ms\)",
        r"in-process preprocess \+ forward, page: [\d.]+ ms median  PASS \(target < [\d.]+ ms\)",
    ):
        assert re.search(verdict, out), verdict


@pytest.mark.parametrize("missed", [None, "pre_fwd_ms"])
def test_check_exits_1_when_a_target_is_missed_and_0_when_all_are_met(missed, mnist_dir, monkeypatch, capsys):
    set_targets(monkeypatch, bench_service.TARGETS, missed)
    status = bench_service.main(["--seconds", "0.1", "--turns", "1", "--data-dir", str(mnist_dir), "--check"])
    out, err = capsys.readouterr()
    if missed is None:
        assert (status, err, out.count("MISS")) == (0, "", 0), out + err
        assert out.count("PASS (target") >= 12  # every figure with a target was judged
    else:
        assert status == 1, out
        assert out.count("MISS") == 2 and "page: " in out
        assert re.search(r"forward, page: [\d.]+ ms median  MISS \(target < -inf ms\)", out), out
        assert err == (
            "error: missed 2 target(s): in-process preprocess + forward, mnist28; "
            "in-process preprocess + forward, page\n"
        )
