"""Run one of the project's tools the way a user does: `python -m mnist_mlp.scripts.NAME ARGS`,
or the installed console script (`mnist-predict ARGS`)."""

import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO


def run_module(name, *args, stdin=None, text=True, timeout=300):
    """The finished process of `python -m mnist_mlp.scripts.<name> args` run from the repository."""
    return subprocess.run(
        [sys.executable, "-m", f"mnist_mlp.scripts.{name}", *map(str, args)],
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
