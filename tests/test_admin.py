"""POST /admin/reload in process: off without ADMIN_TOKEN, the token checked, and 501 outside
mnist-serve (the live reload is tests/test_reload.py)."""

import pytest

from mnist_mlp.service import create_app


@pytest.fixture
def client():
    return create_app({"ADMIN_TOKEN": "s3cret"}).test_client()


def test_off_without_a_token():
    response = create_app().test_client().post("/admin/reload", headers={"Authorization": "Bearer "})
    assert (response.status_code, response.json["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "header", [None, "s3cret", "Bearer wrong", "Basic s3cret", "Bearer s3cret2", "Bearer "]
)
def test_the_token_must_match(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/admin/reload", headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (401, "unauthorized")


def test_outside_mnist_serve_it_says_so(client):
    response = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert (response.status_code, response.json["error"]["code"]) == (501, "not_supported")


def test_under_mnist_serve_it_changes_the_shared_reload_token(client):
    """What every worker's watcher looks at (the live reload is tests/test_reload.py)."""
    from mnist_mlp.service.shared import Shared
    from mnist_mlp.service.worker import Worker

    memory = Shared()
    Worker(client.application, memory)
    before = memory.token()
    response = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 202 and response.json["status"] == "reloading"
    assert memory.token() != before
