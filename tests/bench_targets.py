"""Helpers for testing the benchmarks' verdicts and --check: targets that no figure can meet or
that any figure meets, and the check that a printed verdict is the one its printed figure earns."""

import math
import re

from benchmarks.targets import Target


def impossible(target):
    """`target`'s bound moved past every number: < -inf, >= inf."""
    return Target(target.op, -math.inf if target.op.startswith("<") else math.inf, target.unit)


def met_by_anything(target):
    """`target`'s bound moved out of reach of every number: < inf, >= -inf."""
    return Target(target.op, math.inf if target.op.startswith("<") else -math.inf, target.unit)


def set_targets(monkeypatch, targets, missed=None):
    """Every Target of the dict `targets` met by anything, but the one named `missed`, which
    nothing meets; undone when the test ends."""
    for name, target in targets.items():
        monkeypatch.setitem(targets, name, impossible(target) if name == missed else met_by_anything(target))


def assert_verdict_follows_its_figure(out, label, figure):
    """`out` has the line `label: FIGURE  VERDICT (target OP LIMIT UNIT)`, where the regex `figure`
    matches FIGURE and its one group is the number judged, and VERDICT is what that number earns
    against the printed target: PASS if met, MISS if not.

    For a figure whose verdict the machine's load decides, this asserts the format and that the
    verdict is computed from the figure shown, never which verdict it is. Only a figure printed
    within half its last digit of the limit may have either: its rounding hides the side.
    """
    line = rf"^{re.escape(label)}: {figure}  (\w+) \(target (<=|<|>=|>) (-?[\d.]+|-?inf)(x| \w+)?\)$"
    found = re.search(line, out, re.M)
    assert found, f"no line {line!r} in:\n{out}"
    number, verdict, op, limit, _ = found.groups()
    value, target = float(number), Target(op, float(limit))
    half_digit = 0.5 * 10.0 ** -len(number.partition(".")[2])
    earned = {"PASS" if target.met(value) else "MISS"}
    if abs(value - target.limit) <= half_digit * (1 + 1e-9):
        earned = {"PASS", "MISS"}
    assert verdict in earned, f"{found[0]!r}: {number} earns {earned}"
