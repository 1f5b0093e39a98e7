"""docs/how-it-works.md stays true: every command in it runs, and every link points at its code.

The commands run as written in a scratch folder, on the small_mnist subset of
tests/test_train_cli.py in place of ../shared/mnist. A command ending in
"# exit status N: words" must exit with N and say those words.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_train_cli import small_mnist

__all__ = ["small_mnist"]  # the fixture, used by name

GUIDE = REPO / "docs" / "how-it-works.md"
TEXT = GUIDE.read_text()
COMMANDS = [
    line.strip()
    for block in re.findall(r"```sh\n(.*?)```", TEXT, re.S)
    for line in block.splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]
LINKS = re.findall(r"\[`([\w.]+)`\]\(\.\./(model/\w+\.py)#L(\d+)-L(\d+)\)", TEXT)


def expected_exit(command):
    found = re.search(r"#\s*exit status (\d+):\s*(.+)$", command)
    return (int(found.group(1)), found.group(2).strip()) if found else (0, None)


def test_the_guide_has_an_experiment_per_idea_and_links_into_the_model():
    assert len(COMMANDS) >= 9 and len(re.findall(r"^## ", TEXT, re.M)) == 9
    assert len(LINKS) >= 12


@pytest.mark.parametrize("symbol, path, first, last", LINKS)
def test_every_link_shows_the_code_it_names(symbol, path, first, last):
    lines = (REPO / path).read_text().splitlines()
    first, last = int(first), int(last)
    assert 1 <= first <= last <= len(lines)
    shown = "\n".join(lines[first - 1 : last])
    assert re.search(rf"\b{re.escape(symbol.split('.')[-1])}\b", shown), (symbol, shown)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_runs(command, small_mnist, tmp_path):
    status, words = expected_exit(command)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    shell = command.replace("../shared/mnist", shlex.quote(str(small_mnist)))
    done = subprocess.run(
        ["bash", "-c", shell], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert done.returncode == status, done.stdout + done.stderr
    if words:
        assert words in done.stderr
    else:
        assert done.stdout.strip()
    if "input_gradients" in command:  # backward pass and finite difference print the same slope
        backward, nudged = map(float, done.stdout.split())
        assert backward == pytest.approx(nudged, rel=1e-6) and backward != 0
    if "--init zeros" in command:
        accuracy = float(re.search(r"test accuracy (\d\.\d+)", done.stdout).group(1))
        assert accuracy < 0.25  # chance, near 1 in 10
    if "--out runs/" in command and status == 0:
        out = tmp_path / re.search(r"--out (\S+)", command).group(1)
        assert out.with_suffix(".curves.png").exists()
