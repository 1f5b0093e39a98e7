"""benchmarks/serve_costs.py: its in-process figures print in their format, and a bad option stops in
one line before any server starts."""

import re

import pytest

from benchmarks import serve_costs
from tests.machine import REPO


@pytest.mark.slow  # 40,000 calls of preprocess, about 10 s
def test_preprocess_against_another_version_prints_both_medians_and_their_ratio(capsys):
    serve_costs.main(["preprocess", "--against", str(REPO / "data" / "imaging" / "preprocess.py")])
    out = capsys.readouterr().out
    medians = re.findall(r"^preprocess\(page PNG, 56x56 RGB\), (.+): median ([\d.]+) µs", out, re.M)
    assert [name for name, _ in medians][1:] == ["this tree"] and all(float(us) > 0 for _, us in medians)
    assert re.search(r"^this tree / .+preprocess\.py: [\d.]+$", out, re.M), out


def test_metrics_prints_the_median_cost_of_recording_a_request(capsys):
    serve_costs.main(["metrics"])
    assert re.fullmatch(r"metrics of one /healthz request: median [\d.]+ µs \(100 rounds of 500\)\n",
                        capsys.readouterr().out)  # fmt: skip


@pytest.mark.parametrize(
    "argv, message",
    [
        (["preprocess", "--against", "/no/such.py"], "--against /no/such.py: no such file"),
        (["syscalls", "--requests", "0"], "--requests must be at least 1"),
        (["syscalls", "/feedback"], "invalid choice: '/feedback'"),
    ],
)
def test_bad_options_stop_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        serve_costs.main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
