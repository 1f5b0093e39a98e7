"""What the command-line tools share: the parser and its option types, data options, one-line
failures, plurals, extras.

Every option is checked while the command line is parsed, before any data is loaded: a bad
one costs `PROG: error: argument --lr: must be a number above 0, got -1` and exit status 2.
"""

import argparse
import importlib.util
import math
import operator
import os
import sys
import tempfile
from pathlib import Path

from ..model.version import DISTRIBUTION, project_version

USAGE_ERROR = 2  # argparse's own status for a bad command line


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad command line costs one line on stderr, not the usage block."""

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def fail(problem, status=1):
    """Stop with `error: <problem>` on stderr and a non-zero exit, never a traceback."""
    print(f"error: {problem}", file=sys.stderr)
    raise SystemExit(status)


def parser(prog, doc):
    """A OneLineParser named `prog`, described by the first paragraph of `doc`, with
    --version and the defaults shown in --help."""
    parser = OneLineParser(
        prog=prog,
        description=doc.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {project_version()}")
    return parser


def number(kind=float, *, above=None, at_least=None, below=None, at_most=None):
    """An argparse `type=`: the text as a finite `kind` within the bounds given, or why not.

    type=number(above=0)             "must be a number above 0, got -1"
    type=number(int, at_least=1)     "must be an integer at least 1, got 0"
    """
    bounds = [
        (word, limit, test)
        for word, limit, test in (
            ("above", above, operator.gt),
            ("at least", at_least, operator.ge),
            ("below", below, operator.lt),
            ("at most", at_most, operator.le),
        )
        if limit is not None
    ]
    wanted = " and ".join(f"{word} {limit}" for word, limit, _ in bounds)
    noun = "an integer" if kind is int else "a number"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not all(test(value, limit) for _, limit, test in bounds):
            raise argparse.ArgumentTypeError(f"must be {noun} {wanted}, got {text}")
        return value

    return parse


def writable_file(text):
    """An argparse `type=` for a file to write: its folder exists or can be made, and a file can
    be created there. Nothing is left behind by the check."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    problem = _cannot_create_in(path.parent)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot write {path}: {problem}")
    return path


def writable_folder(text):
    """An argparse `type=` for a folder to write files into: it exists or can be made, and a
    file can be created in it."""
    path = Path(text)
    problem = _cannot_create_in(path)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot write into {path}: {problem}")
    return path


def _cannot_create_in(folder):
    """Why no file can be created in `folder` (made first if missing), or None when one can.

    The test is a real file, created and deleted at once in the nearest folder that exists:
    what the permissions, a read-only file system or a full inode table would refuse.
    """
    existing = Path(os.path.abspath(folder))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"cannot create a file in {existing} ({exc.strerror or exc})"
    return None


def add_data_options(parser):
    """--data-dir and --data-home, the same for every tool that reads MNIST."""
    parser.add_argument(
        "--data-dir", help="folder with the four MNIST IDX files (default: $MNIST_DATA_DIR, else OpenML)"
    )
    parser.add_argument("--data-home", help="scikit-learn's cache folder for the OpenML download")


def check_data_options(parser, args):
    """A usage error, at once, for a --data-dir that is no folder or a --data-home that is a file."""
    if args.data_dir and not os.path.isdir(args.data_dir):
        parser.error(f"{args.data_dir}: no such folder; --data-dir names the folder of the MNIST IDX files")
    if args.data_home and os.path.exists(args.data_home) and not os.path.isdir(args.data_home):
        parser.error(f"--data-home {args.data_home} is a file, not a folder")


def plural(count, noun, nouns=None):
    """'1 image', '2 images', '12,000 images'."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def require(prog, *modules, extra="train"):
    """Stop in one line, saying what to install, when an optional dependency is missing."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"{prog} needs {', '.join(missing)}: pip install '{DISTRIBUTION}[{extra}]'")
