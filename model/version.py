"""The project's version, for the weights' metadata and the service's /v2 metadata."""

import functools
import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "mnist-mlp-service"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@functools.cache  # fixed for the process: /v2 metadata need not read pyproject.toml per request
def project_version():
    """The installed distribution's version, else the checkout's pyproject.toml version."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        try:
            return tomllib.loads(PYPROJECT.read_text())["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"
