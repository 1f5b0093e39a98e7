"""What the command-line scripts share: data options, one-line failures, the project version."""

import sys
import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "mnist-mlp-service"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def fail(problem, status=1):
    """Stop with `error: <problem>` on stderr and a non-zero exit, never a traceback."""
    print(f"error: {problem}", file=sys.stderr)
    raise SystemExit(status)


def add_data_options(parser):
    """--data-dir and --data-home, the same for every script that reads MNIST."""
    parser.add_argument(
        "--data-dir", help="folder with the four MNIST IDX files (default: $MNIST_DATA_DIR, else OpenML)"
    )
    parser.add_argument("--data-home", help="scikit-learn's cache folder for the OpenML download")


def project_version():
    """The installed distribution's version, else the checkout's pyproject.toml version."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        try:
            return tomllib.loads(PYPROJECT.read_text())["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"
