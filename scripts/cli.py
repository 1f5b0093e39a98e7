"""What the command-line scripts share: data options and one-line failures."""

import sys


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
