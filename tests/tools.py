"""Run one of the project's tools the way a user does: `python -m mnist_mlp.scripts.NAME ARGS`."""

import subprocess
import sys

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
