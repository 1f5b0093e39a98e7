"""The deployment's tests: the container image (podman), the deployment manifests, and the wheel
installed into a fresh virtual environment. Marked `deploy`."""

import pytest

from tests.machine import mark_folder


def pytest_collection_modifyitems(items):
    mark_folder(items, __file__, pytest.mark.deploy)
