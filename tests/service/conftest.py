"""The service's tests: the Flask app through its test client, and the real servers (mnist-serve, the lab)
over HTTP. Marked `service`.

One app per test, made from `app_settings`: a module that needs other settings overrides `app_settings`,
and its tests get `app` and `client` built from them.
"""

import pytest

from mnist_mlp.service import create_app
from tests.machine import mark_folder


def pytest_collection_modifyitems(items):
    mark_folder(items, __file__, pytest.mark.service)


@pytest.fixture(scope="module")
def app_settings():
    """The settings create_app gets (the defaults unless a module overrides this fixture)."""
    return {}


@pytest.fixture
def app(app_settings):
    return create_app(app_settings)


@pytest.fixture
def client(app):
    return app.test_client()
