"""The commands of the documentation site and of the README stay true.

- Every option a page (or the README) gives to one of the project's tools exists: each `mnist-*`
  command and each `python -m` module of the project in a ```sh block is checked against that
  tool's own `--help`.
- Every `curl` example, and every Python example that calls the API, runs against the real server
  (`mnist-serve`, with corrections and the admin route on) and gets the answer the page shows:
  JSON without an error, holding the keys the comment beside the command names.
- The ONNX example runs on a model written by the page's own `mnist-export` command.
- No page names an issue, or a folder outside the repository.

docs/how-it-works.md is also run, output included, by tests/unit/test_how_it_works.py.
"""

import functools
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.live_server import running
from tests.machine import REPO, skip_or_fail
from tests.tools import console_script

DOCS = REPO / "docs"
# The site's pages and the README, which is the way in to them.
PAGES = [*sorted(DOCS.glob("*.md")), REPO / "README.md"]
# What the site shows of files kept elsewhere (docs/hooks.py).
SHOWN = [REPO / "SECURITY.md", REPO / "CHANGELOG.md", REPO / "model" / "weights" / "MODEL_CARD.md"]
SAMPLE = REPO / "scripts" / "samples" / "page-digit.png"
ADMIN_TOKEN = "docs-test-admin-token-of-forty-characters"
FENCE = re.compile(r"^( *)```(\w+)[^\n]*\n(.*?)^\1```", re.M | re.S)
PYTHONS = ("python", "python3")
PACKAGES = ("mnist_mlp.", "benchmarks.")  # the modules whose options are checked
CONSOLE_SCRIPTS = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])


def blocks(page, language):
    """The code blocks of `language` on `page`, dedented (blocks inside tabs are indented)."""
    return [textwrap.dedent(body) for _, lang, body in FENCE.findall(page.read_text()) if lang == language]


def shell_lines(page):
    """Each command line of the page's ```sh blocks, continuations joined, comment lines dropped."""
    lines = []
    for block in blocks(page, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


def commands(line):
    """The simple commands of a shell line, as token lists, environment assignments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found, current = [], []
    for token in lexer:
        if token and set(token) <= set("&|;<>()"):
            found.append(current)
            current = []
        else:
            current.append(token)
    found.append(current)
    return [dropped_assignments(tokens) for tokens in found if tokens]


def dropped_assignments(tokens):
    while tokens and re.fullmatch(r"[A-Z_]+=\S*", tokens[0]):
        tokens = tokens[1:]
    return tokens


def tool_of(tokens):
    """(the tool's argv prefix, its options used) for a command of the project, else None."""
    if not tokens:
        return None
    name = Path(tokens[0]).name
    if name in CONSOLE_SCRIPTS:
        prefix, rest = [name], tokens[1:]
        if name == "mnist-feedback" and rest and not rest[0].startswith("-"):
            prefix, rest = [name, rest[0]], rest[1:]
    elif name in PYTHONS and tokens[1:2] == ["-m"] and tokens[2:3] and tokens[2].startswith(PACKAGES):
        prefix, rest = ["-m", tokens[2]], tokens[3:]
    else:
        return None
    return tuple(prefix), tuple(sorted({token.split("=")[0] for token in rest if token.startswith("--")}))


TOOL_COMMANDS = sorted(
    {
        (page.name, *found)
        for page in [*PAGES, *SHOWN]
        for line in shell_lines(page)
        for tokens in commands(line)
        if (found := tool_of(tokens))
    }
)


@functools.cache
def options_of(prefix):
    """Every --option the tool's --help names."""
    argv = [sys.executable, *prefix] if prefix[0] == "-m" else [console_script(prefix[0]), *prefix[1:]]
    done = subprocess.run([*argv, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(prefix)} --help failed: {done.stderr}"
    return set(re.findall(r"--[\w-]+", done.stdout))


def test_the_pages_hold_commands_of_every_tool():
    tools = {prefix[-1] if prefix[0] == "-m" else prefix[0] for _, prefix, _ in TOOL_COMMANDS}
    for tool in (
        "mnist-serve",
        "mnist-train",
        "mnist-evaluate",
        "mnist-predict",
        "mnist-export",
        "mnist-feedback",
    ):
        assert tool in tools, tool
    assert "mnist_mlp.scripts.eval_rendered" in tools and "benchmarks.bench_service" in tools


@pytest.mark.parametrize("page, prefix, options", TOOL_COMMANDS, ids=[" ".join(c[1]) for c in TOOL_COMMANDS])
def test_every_option_a_page_uses_exists(page, prefix, options):
    missing = set(options) - options_of(prefix)
    assert not missing, f"{page}: {' '.join(prefix)} has no {sorted(missing)}"


def test_an_option_that_does_not_exist_is_caught():
    assert "--jobs" in options_of(("mnist-predict",)) and "--job" not in options_of(("mnist-predict",))
    assert tool_of(commands("HOST=0.0.0.0 mnist-predict a.png --jobs=2 | head")[0]) == (
        ("mnist-predict",),
        ("--jobs",),
    )


# ---------------------------------------------------------------- the API's examples, live

API_LINES = [
    (page.name, line)
    for page in PAGES
    for line in shell_lines(page)
    if line.startswith("curl") and ":8000" in line
]
API_PYTHON = [(page.name, block) for page in PAGES for block in blocks(page, "python") if ":8000" in block]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    with running(FEEDBACK_DB=str(folder / "feedback.sqlite3"), ADMIN_TOKEN=ADMIN_TOKEN) as (_, base):
        yield base.removeprefix("http://")


@pytest.fixture
def user_folder(tmp_path):
    """A folder holding the images the pages name: digit.png, and the repository's sample."""
    shutil.copy(SAMPLE, tmp_path / "digit.png")
    (tmp_path / "scripts" / "samples").mkdir(parents=True)
    shutil.copy(SAMPLE, tmp_path / "scripts" / "samples" / SAMPLE.name)
    return tmp_path


def run_in(folder, *argv):
    return subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)


def keys_shown(comment):
    return re.findall(r'"(\w+)":', comment)


def test_the_pages_call_every_route():
    called = " ".join(line for _, line in API_LINES)
    for route in (
        "/predict",
        "/feedback",
        "/model",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v2/models/mnist/infer",
    ):
        assert f":8000{route}" in called, route
    assert "/admin/reload" in called and API_PYTHON


@pytest.mark.parametrize("page, line", API_LINES, ids=[line[:80] for _, line in API_LINES])
def test_every_curl_example_answers_as_shown(page, line, server, user_folder):
    if shutil.which("curl") is None:
        skip_or_fail("no curl (apt-get install curl)")
    command = re.sub(r"(localhost|127\.0\.0\.1):8000", server, line)
    env = {"PATH": "/usr/bin:/bin", "ADMIN_TOKEN": ADMIN_TOKEN}
    done = subprocess.run(["bash", "-c", command], cwd=user_folder, capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, (page, line, done.stderr)
    written = re.search(r">\s*(\S+\.png)", command)
    if written:
        assert (user_folder / written.group(1)).read_bytes().startswith(b"\x89PNG"), line
        return
    if "/metrics" in command:
        assert b"mnist_http_requests_total" in done.stdout
        return
    answer = json.loads(done.stdout)
    assert "error" not in answer, (page, line, answer)
    comment = line.partition(" #")[2]
    for key in keys_shown(comment):
        assert key in answer, (page, line, key, answer)


@pytest.mark.parametrize("page, code", API_PYTHON, ids=[page for page, _ in API_PYTHON])
def test_every_python_example_of_the_api_runs(page, code, server, user_folder):
    code = re.sub(r"(localhost|127\.0\.0\.1):8000", server, code)
    done = run_in(user_folder, sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "7", done.stdout  # the sample is a 7


def test_the_onnx_example_runs(user_folder):
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        skip_or_fail("onnx and onnxruntime are not installed (the dev extra)")
    page = DOCS / "cli.md"
    export = next(line for line in shell_lines(page) if line.startswith("mnist-export"))
    weights = user_folder / "model" / "weights"
    weights.mkdir(parents=True)
    (weights / "mnist_mlp.npz").symlink_to(REPO / "model" / "weights" / "mnist_mlp.npz")
    name, *args = shlex.split(export)
    done = run_in(user_folder, console_script(name), *args)
    assert done.returncode == 0, done.stderr
    (code,) = [block for block in blocks(page, "python") if "onnxruntime" in block]
    done = run_in(user_folder, sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    digit, confidence, uncertain = done.stdout.split()
    assert digit == "7" and float(confidence) > 0.9 and uncertain == "False"


# ---------------------------------------------------------------- what no page may say


@pytest.mark.parametrize("page", [*PAGES, *SHOWN], ids=lambda page: page.name)
def test_no_page_names_an_issue_or_a_folder_outside_the_repository(page):
    text = page.read_text()
    assert not re.search(r"\bissues? \d+", text, re.I), page
    assert "../shared" not in text, page
