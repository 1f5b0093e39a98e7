"""benchmarks/targets.py: a figure judged against its target, printed with PASS or MISS, and
--check turning a miss into exit status 1; and the tests' check that a printed verdict is the one
its printed figure earns."""

import math

import pytest

from benchmarks.targets import Target, Verdicts
from tests.bench_targets import assert_verdict_follows_its_figure


@pytest.mark.parametrize(
    ("target", "met", "missed"),
    [
        (Target("<=", 1.7, "x"), [1.7, 0.1], [1.71]),
        (Target("<", 50, " ms"), [49.9], [50]),
        (Target(">=", 0.6), [0.6, 3.0], [0.59]),
        (Target(">", 1), [1.01], [1]),
    ],
)
def test_a_target_holds_a_figure_to_its_bound_and_nan_meets_none(target, met, missed):
    assert all(target.met(value) for value in met)
    assert not any(target.met(value) for value in [*missed, math.nan])


def test_a_target_reads_as_its_bound():
    assert [str(t) for t in (Target("<=", 1.7, "x"), Target("<", 50, " ms"), Target(">=", 0.6))] == [
        "target <= 1.7x",
        "target < 50 ms",
        "target >= 0.6",
    ]


def test_every_figure_is_printed_with_its_verdict_and_only_check_turns_a_miss_into_exit_1(capsys):
    verdicts = Verdicts()
    verdicts.report("numpy / floor", "1.20x", 1.2, Target("<=", 1.7, "x"))
    verdicts.report("p99 at  16", "60.0 ms", 60.0, Target("<", 50, " ms"))
    verdicts.report("RSS", "70 MB", 70, Target("<", 80, " MB"))
    assert capsys.readouterr().out.splitlines() == [
        "numpy / floor: 1.20x  PASS (target <= 1.7x)",
        "p99 at  16: 60.0 ms  MISS (target < 50 ms)",
        "RSS: 70 MB  PASS (target < 80 MB)",
    ]
    assert verdicts.exit_status(check=False) == 0
    assert capsys.readouterr().err == ""
    assert verdicts.exit_status(check=True) == 1
    assert capsys.readouterr().err == "error: missed 1 target(s): p99 at 16\n"


def test_check_exits_0_when_every_target_is_met(capsys):
    verdicts = Verdicts()
    verdicts.report("RSS", "70 MB", 70, Target("<", 80, " MB"))
    assert verdicts.verdict("lr 10: diverged", True, "target diverged") == "PASS (target diverged)"
    assert verdicts.exit_status(check=True) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("line", "follows"),
    [
        ("jobs 2 / jobs 1: 1.85x  PASS (target >= 1.7x)", True),
        ("jobs 2 / jobs 1: 1.65x  MISS (target >= 1.7x)", True),
        ("jobs 2 / jobs 1: 1.65x  PASS (target >= 1.7x)", False),
        ("jobs 2 / jobs 1: 1.85x  MISS (target >= 1.7x)", False),
        ("jobs 2 / jobs 1: 1.70x  MISS (target >= 1.7x)", True),  # 1.695 to 1.705: either side
        ("jobs 2 / jobs 1: 1.71x  MISS (target >= 1.7x)", False),
        ("jobs 2 / jobs 1: 1.85x  pass (target >= 1.7x)", False),
        ("jobs 2 / jobs 1: 1.85x (target >= 1.7x)", False),
    ],
)
def test_a_printed_verdict_must_be_the_one_its_printed_figure_earns(line, follows):
    out = f"wrote 40 PNGs\n{line}\n"
    if follows:
        assert_verdict_follows_its_figure(out, "jobs 2 / jobs 1", r"([\d.]+)x")
    else:
        with pytest.raises(AssertionError):
            assert_verdict_follows_its_figure(out, "jobs 2 / jobs 1", r"([\d.]+)x")
