"""The unit tests: the model, the data, pure functions, and the command-line tools run in-process or as
a subprocess, with no server. Marked `unit`: `python -m pytest -m unit` runs only them."""

import pytest

from tests.machine import mark_folder


def pytest_collection_modifyitems(items):
    mark_folder(items, __file__, pytest.mark.unit)
