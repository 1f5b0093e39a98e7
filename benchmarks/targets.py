"""Targets and verdicts, the same for every benchmark.

A benchmark states each of its targets once, as a `Target`, and prints every figure that has one
with the verdict beside it:

    p99 /predict page at 16: 9.8 ms  PASS (target < 50 ms)

It prints every figure whatever the verdicts. With --check it then exits 1 if any target was
missed, naming them in one line on stderr; without --check it exits 0: a measurement, not a test.
"""

import operator
import sys
from dataclasses import dataclass

COMPARE = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, ">": operator.gt}


@dataclass(frozen=True)
class Target:
    """A bound on one figure: Target("<=", 1.7, "x") holds it to at most 1.7x."""

    op: str
    limit: float
    unit: str = ""

    def met(self, value):
        return COMPARE[self.op](value, self.limit)  # False for NaN: a figure not measured misses

    def __str__(self):
        return f"target {self.op} {self.limit:g}{self.unit}"


class Verdicts:
    """The verdicts of one run, and the names of the targets it missed."""

    def __init__(self):
        self.missed = []

    def report(self, label, figure, value, target):
        """Print `label: figure  PASS (target ...)`, or MISS, judging `value` against `target`."""
        print(f"{label}: {figure}  {self.verdict(label, target.met(value), target)}", flush=True)

    def verdict(self, name, ok, target):
        """ "PASS (target)" or "MISS (target)"; a miss is remembered under `name`."""
        if not ok:
            self.missed.append(" ".join(name.split()))
        return f"{'PASS' if ok else 'MISS'} ({target})"

    def exit_status(self, check):
        """1 if a target was missed and --check was given (said on stderr), else 0."""
        if check and self.missed:
            print(f"error: missed {len(self.missed)} target(s): {'; '.join(self.missed)}", file=sys.stderr)
            return 1
        return 0


def add_check_option(parser):
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a target is missed (after printing every figure)"
    )
