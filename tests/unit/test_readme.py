"""The README stays a guide a newcomer reads top to bottom: short, the two set-up commands first,
and every link leading somewhere in the repository. Its commands are checked with the site's by
tests/service/test_docs_commands.py, its quick training run by tests/unit/test_train_cli.py, and .ci/run runs
its test command.
"""

import re

from tests.machine import REPO

README = REPO / "README.md"
MAX_LINES = 250
SET_UP = [
    "pip install . && mnist-serve",
    'pip install -e ".[train,dev]" && python -m pytest',
]
# [text](target) and ![alt](target), the target without a title
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_the_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines"


def test_the_two_set_up_commands_come_first():
    text = README.read_text()
    first_block = re.search(r"^```sh\n(.*?)^```$", text, re.M | re.S)
    assert first_block, "no command block"
    assert text.index(first_block[0]) < text.index("\n## "), "the commands come after a section"
    commands = [line.split("  #")[0].strip() for line in first_block[1].splitlines() if line.strip()]
    assert commands == SET_UP


def test_the_readme_says_what_the_tests_need_and_how_to_run_fewer():
    text = README.read_text()
    for needed in ("Chromium", "podman", "PostgreSQL", "CI=true", "minutes"):
        assert needed in text, needed
    assert 'python -m pytest -m "not browser and not container and not packaging"' in text


def test_every_link_of_the_readme_leads_into_the_repository():
    targets = LINK.findall(README.read_text())
    local = [target.split("#")[0] for target in targets if not re.match(r"\w+://", target)]
    assert "docs/screenshot.png" in local and "SECURITY.md" in local and "CHANGELOG.md" in local
    missing = [target for target in local if target and not (REPO / target).exists()]
    assert not missing, missing
