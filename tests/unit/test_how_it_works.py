"""docs/how-it-works.md stays true: every command runs and prints what the page shows, every link
points at its code, every lab experiment is linked.

The commands run as written in a scratch folder, reading the small_mnist subset of
tests/unit/test_train_cli.py as the page tells readers to name their MNIST folder ($MNIST_DATA_DIR).
A command ending in
"# exit status N: words" must exit with N and say those words. The output shown after a
command (a ```text block) must come out, line by line and in order, with the same words; a
command that reads no MNIST must print the same numbers too, while one that does prints its
own (the page shows the full MNIST's, the test runs on 2,000 images).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_mlp.lab.experiments import EXPERIMENTS
from tests.machine import REPO

GUIDE = REPO / "docs" / "how-it-works.md"
TEXT = GUIDE.read_text()
SECTIONS = re.split(r"^## ", TEXT, flags=re.M)[1:]
LINKS = re.findall(r"\[`([\w.]+)`\]\(\.\./((?:model|data|lab)/\w+\.py)#L(\d+)-L(\d+)\)", TEXT)
LAB_LINKS = re.findall(r"\]\(http://127\.0\.0\.1:8001/#([\w-]+)\)", TEXT)
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def experiments(text):
    """(command, the output shown after it or None) for every ```sh block, one command each."""
    found = []
    for kind, body in re.findall(r"```(sh|text)\n(.*?)```", text, re.S):
        if kind == "sh":
            lines = [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("#")]
            assert len(lines) == 1, f"one command per block, so its output can follow it: {lines}"
            found.append([lines[0], None])
        else:
            assert found and found[-1][1] is None, f"an output block follows no command: {body[:80]}"
            found[-1][1] = body
    return [tuple(pair) for pair in found]


EXPERIMENTS_ON_PAGE = experiments(TEXT)
# The commands that read MNIST print the subset's numbers, not the full set's the page shows.
READS_MNIST = re.compile(r"\bmnist-train\b|\bmnist-evaluate\b|mnist_mlp\.lab\.experiment|\bload_mnist\(")


def expected_exit(command):
    found = re.search(r"#\s*exit status (\d+):\s*(.+)$", command)
    return (int(found.group(1)), found.group(2).strip()) if found else (0, None)


def skeleton(line):
    """The words of a line: its numbers as #, its spaces collapsed."""
    return " ".join(NUMBER.sub("#", line).split())


def numbers(line):
    return [float(n.replace(",", "")) for n in NUMBER.findall(line)]


def assert_prints(expected, output, same_numbers):
    """Every expected line comes out, in order, with the same words (and numbers, if asked)."""
    lines = [line for line in output.replace("\r", "\n").splitlines() if line.strip()]
    at = 0
    for wanted in expected.strip().splitlines():
        while at < len(lines) and skeleton(lines[at]) != skeleton(wanted):
            at += 1
        assert at < len(lines), f"not printed: {wanted!r}\noutput:\n{output}"
        if same_numbers:
            assert numbers(lines[at]) == pytest.approx(numbers(wanted), rel=1e-3, abs=1e-8), (
                wanted,
                lines[at],
            )
        at += 1


def test_every_section_has_an_experiment_with_its_output_and_links_into_the_code():
    assert len(SECTIONS) == 12
    for section in SECTIONS:
        title = section.splitlines()[0]
        shown = experiments(section)
        assert shown and all(output for _, output in shown), (
            f"section {title!r} needs a command and its output"
        )
    assert len(LINKS) >= 25


def test_every_experiment_of_the_lab_is_linked_and_every_link_is_one():
    keys = {experiment.key for experiment in EXPERIMENTS}
    assert set(LAB_LINKS) == keys


@pytest.mark.parametrize("symbol, path, first, last", LINKS)
def test_every_link_shows_the_code_it_names(symbol, path, first, last):
    lines = (REPO / path).read_text().splitlines()
    first, last = int(first), int(last)
    assert 1 <= first <= last <= len(lines)
    shown = "\n".join(lines[first - 1 : last])
    assert re.search(rf"\b{re.escape(symbol.split('.')[-1])}\b", shown), (symbol, shown)


@pytest.mark.parametrize(
    "command, expected", EXPERIMENTS_ON_PAGE, ids=[c[:70] for c, _ in EXPERIMENTS_ON_PAGE]
)
def test_every_command_runs_and_prints_what_the_page_shows(command, expected, small_mnist, tmp_path):
    status, words = expected_exit(command)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MNIST_DATA_DIR": str(small_mnist),
    }
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert done.returncode == status, done.stdout + done.stderr
    if words:
        assert words in done.stderr
    else:
        assert done.stdout.strip()
    printed = done.stdout + "\n" + done.stderr if status else done.stdout
    assert_prints(expected, printed, same_numbers=not READS_MNIST.search(command))
    if "input_gradients" in command:  # backward pass and finite difference print the same slope
        backward, nudged = map(float, re.findall(r"= (-?[\d.]+)", done.stdout))
        assert backward == pytest.approx(nudged, rel=1e-6) and backward != 0
    if "--init zeros" in command:
        accuracy = float(re.search(r"test accuracy (\d\.\d+)", done.stdout).group(1))
        assert accuracy < 0.25  # chance, near 1 in 10
        assert "flags 0.00% of test digits" in done.stdout  # one confidence for every image
    if "--out runs/" in command and status == 0:
        out = tmp_path / re.search(r"--out (\S+)", command).group(1)
        assert out.with_suffix(".curves.png").exists()


def test_a_changed_word_or_number_is_caught():
    assert_prints("loss if the right answer is 0: 0.066", "loss if the right answer is 0: 0.0660", True)
    with pytest.raises(AssertionError):
        assert_prints("loss if the right answer is 0: 0.066", "loss if the right answer is 0: 0.070", True)
    with pytest.raises(AssertionError):
        assert_prints("best epoch 3: val accuracy 0.96", "best epoch 3: validation accuracy 0.96", False)
    assert_prints("a 1\nb 2", "a 5\nnoise\nb 7", False)
    with pytest.raises(AssertionError):
        assert_prints("b 2\na 1", "a 5\nb 7", False)  # in order
