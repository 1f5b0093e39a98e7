"""The documentation site builds with `mkdocs build --strict`: every link, every anchor and every page
of the navigation resolves, including the links into the code and the pages made from SECURITY.md,
CHANGELOG.md and the model card (docs/hooks.py).

Outside CI the module is skipped when MkDocs is not installed (the `docs` or `dev` extra); under
CI=true it fails instead.
"""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from tests.machine import REPO, skip_or_fail


@pytest.fixture(scope="module", autouse=True)
def mkdocs_installed():
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        skip_or_fail("mkdocs-material is not installed: pip install -e '.[docs]'")


def build(project, site):
    """The finished `mkdocs build --strict` of the project folder `project` into `site`."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_site_builds_strictly(tmp_path):
    done = build(REPO, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    site = tmp_path / "site"
    for page in ("index.html", "api/index.html", "results/index.html", "how-it-works/index.html"):
        assert (site / page).is_file(), page
    # the root files are pages of the site, with their own words
    assert "What an operator must decide" in (site / "security/index.html").read_text()
    assert "Unreleased" in (site / "changelog/index.html").read_text()
    assert "Model card" in (site / "model-card/index.html").read_text()
    # how-it-works.md's links to lines of code open the site's copy of that file at that line
    guide = (site / "how-it-works/index.html").read_text()
    assert 'href="../code/model/mlp.py/#__codelineno-0-102"' in guide
    assert 'id="__codelineno-0-102"' in (site / "code/model/mlp.py/index.html").read_text()


BROKEN = {
    "[a page that is not there](nowhere.md)": "nowhere.md",
    "[an anchor that is not there](api.md#nowhere)": "#nowhere",
    "[a line past the end of a file](../model/mlp.py#L99999-L99999)": "#__codelineno-0-99999",
    "[a file that is not there](../model/nowhere.py#L1-L2)": "code/model/nowhere.py.md",
}


def test_each_kind_of_broken_link_fails_the_build(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "mkdocs.yml", project)
    shutil.copytree(REPO / "docs", project / "docs")
    for name in ("SECURITY.md", "CHANGELOG.md"):
        shutil.copy(REPO / name, project)
    for folder in ("model", "data"):  # the model card, and the code the guide links to
        shutil.copytree(
            REPO / folder, project / folder, ignore=shutil.ignore_patterns("*.npz", "__pycache__")
        )
    assert build(project, tmp_path / "site").returncode == 0  # the copy builds as it is
    with open(project / "docs" / "lab.md", "a") as page:
        page.write("\n" + "\n\n".join(BROKEN) + "\n")
    done = build(project, tmp_path / "site")
    assert done.returncode != 0
    for link, named in BROKEN.items():
        assert any("lab.md" in line and named in line for line in done.stderr.splitlines()), (
            link,
            done.stderr,
        )


def test_the_root_files_nested_lists_stay_nested_on_the_site():
    import markdown

    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    written_for_github = "- a\n  - b\n  continued\n\n```\n  code\n```\n"
    assert "<ul>\n<li>b" not in markdown.markdown(written_for_github)  # as Python-Markdown reads it
    shown = hooks.nested_as_mkdocs_reads_them(written_for_github)
    assert shown == "- a\n    - b\n    continued\n\n```\n  code\n```\n"
    assert "<ul>\n<li>b\ncontinued</li>" in markdown.markdown(shown)
