"""What the command-line tools share: the parser, data options, one-line failures, extras."""

import argparse
import importlib.util
import sys

from ..model.version import DISTRIBUTION, project_version


def fail(problem, status=1):
    """Stop with `error: <problem>` on stderr and a non-zero exit, never a traceback."""
    print(f"error: {problem}", file=sys.stderr)
    raise SystemExit(status)


def parser(prog, doc):
    """An ArgumentParser named `prog`, described by the first paragraph of `doc`, with
    --version and the defaults shown in --help."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=doc.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {project_version()}")
    return parser


def add_data_options(parser):
    """--data-dir and --data-home, the same for every tool that reads MNIST."""
    parser.add_argument(
        "--data-dir", help="folder with the four MNIST IDX files (default: $MNIST_DATA_DIR, else OpenML)"
    )
    parser.add_argument("--data-home", help="scikit-learn's cache folder for the OpenML download")


def require(prog, *modules, extra="train"):
    """Stop in one line, saying what to install, when an optional dependency is missing."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"{prog} needs {', '.join(missing)}: pip install '{DISTRIBUTION}[{extra}]'")
