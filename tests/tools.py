"""Run one of the project's tools the way a user does: `python -m mnist_mlp.scripts.NAME ARGS`,
`python -m benchmarks.NAME ARGS` from the checkout, or the installed console script (`mnist-predict ARGS`)."""

import subprocess
import sys
import time
from pathlib import Path

from tests.machine import REPO


def run_module(name, *args, stdin=None, text=True, timeout=300, package="mnist_mlp.scripts"):
    """The finished process of `python -m <package>.<name> args` run from the repository."""
    return subprocess.run(
        [sys.executable, "-m", f"{package}.{name}", *map(str, args)],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=text,
        timeout=timeout,
    )


def console_script(name):
    """The path of the console script `name` installed beside this Python (pip install -e .)."""
    path = Path(sys.executable).with_name(name)
    assert path.exists(), f"{path} is missing: pip install -e '.[train,dev]'"
    return str(path)


def run_tool(name, *args, cwd=REPO, text=True, timeout=300, **kwargs):
    """(finished process, seconds) of the console script `name` run with `args`; `kwargs` go to
    subprocess.run (input=, stdin=, env=, ...)."""
    started = time.perf_counter()
    done = subprocess.run(
        [console_script(name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=text,
        timeout=timeout,
        **kwargs,
    )
    return done, time.perf_counter() - started


def assert_usage_error(tool, args, message, folder, *before):
    """Run `tool *before *args` in `folder` and check that it stops as a bad option must: exit 2,
    the one line `TOOL: error: MESSAGE (see TOOL --help)`, nothing on stdout, nothing written, and
    under 5 s (a tool that began loading data would take far longer).

    "{file}" in args and message stands for a regular file and "{folder}" for an empty folder,
    both made in `folder` here.
    """
    names = {"file": folder / "file", "folder": folder / "folder"}
    names["file"].write_text("a file, so nothing can be made under it")
    names["folder"].mkdir()
    done, seconds = run_tool(tool, *before, *(arg.format(**names) for arg in args), cwd=folder, timeout=30)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [f"{tool}: error: {message.format(**names)} (see {tool} --help)"]
    assert seconds < 5
    assert sorted(folder.iterdir()) == [names["file"], names["folder"]]
