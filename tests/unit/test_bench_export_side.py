"""benchmarks/bench_export_side.py: the page's strokes exported at other sides, read and timed."""

import re

import numpy as np
import pytest

from benchmarks import bench_export_side
from mnist_mlp.data.synth.render import PAGE_EXPORT_SIDE, page_export


def test_the_page_side_is_the_default_and_other_sides_draw_the_same_strokes():
    (_, _, lines), *_ = bench_export_side.drawings(1, seed=0)
    assert page_export(lines).tobytes() == page_export(lines, PAGE_EXPORT_SIDE).tobytes()
    small, large = page_export(lines, 28), page_export(lines, 112)
    assert (small.size, large.size) == ((28, 28), (112, 112))
    # the same drawing: its ink covers about the same share of the page at both sides
    ink = [1 - np.asarray(image).mean() / 255 for image in (small, large)]
    assert abs(ink[0] - ink[1]) < 0.2 * ink[1]


def test_it_prints_a_row_per_side_with_shares_and_times(capsys):
    bench_export_side.main(["--per-height", "20", "--sides", "28,56"])
    rows = [line for line in capsys.readouterr().out.splitlines() if re.match(r"\s*\d+px", line)]
    assert [row.split()[0] for row in rows] == ["28px", "56px"]
    for row in rows:
        right = [float(v) for v in re.findall(r"([\d.]+)% /", row)]
        assert len(right) == 3 and min(right) >= 80.0, row  # the shipped weights read page drawings
        assert re.search(r"[\d.]+ ms$", row)


@pytest.mark.parametrize("argv", [["--sides", "56,big"], ["--sides", "14"], ["--per-height", "0"]])
def test_bad_options_stop_in_one_line(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        bench_export_side.main(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
