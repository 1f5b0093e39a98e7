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


def test_outside_mnist_serve_it_says_so(client, monkeypatch):
    monkeypatch.delenv("MNIST_SERVE_STATE_DIR", raising=False)
    response = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert (response.status_code, response.json["error"]["code"]) == (501, "not_supported")


def test_a_state_folder_that_cannot_be_written_is_a_503(client, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_SERVE_STATE_DIR", str(tmp_path / "removed"))
    response = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert (response.status_code, response.json["error"]["code"]) == (503, "reload_unavailable")
