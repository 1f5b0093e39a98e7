"""What the command-line scripts share: one-line failures and the project version."""

import sys
from importlib import metadata

DISTRIBUTION = "mnist-mlp-service"


def fail(problem, status=1):
    """Stop with `error: <problem>` on stderr and a non-zero exit, never a traceback."""
    print(f"error: {problem}", file=sys.stderr)
    raise SystemExit(status)


def project_version():
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"
