"""POST /admin/reload in process: off without ADMIN_TOKEN, the token checked, failed attempts
throttled, a short token refused at start-up, and 501 outside mnist-serve (the live reload is
tests/service/test_reload.py)."""

import pytest

from mnist_mlp.service import StartupError, create_app

TOKEN = "an-admin-token-of-32-characters!"


@pytest.fixture(scope="module")
def app_settings():
    return {"ADMIN_TOKEN": TOKEN}


def test_off_without_a_token():
    response = create_app().test_client().post("/admin/reload", headers={"Authorization": "Bearer "})
    assert (response.status_code, response.json["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "header",
    [None, TOKEN, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}2", f"Bearer {TOKEN[:-1]}", "Bearer "],
)
def test_the_token_must_match(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/admin/reload", headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (401, "unauthorized")


@pytest.mark.parametrize("token", ["s3cret", "x" * 31])
def test_a_short_token_stops_start_up(token):
    with pytest.raises(
        StartupError, match=rf"^ADMIN_TOKEN must be at least 32 characters \(it has {len(token)}\)"
    ):
        create_app({"ADMIN_TOKEN": token})


def test_failed_attempts_are_throttled_per_client(client):
    wrong = {"headers": {"Authorization": "Bearer wrong"}}
    statuses = [client.post("/admin/reload", **wrong).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    throttled = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (throttled.status_code, throttled.json["error"]["code"]) == (429, "too_many_requests")
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    # another client, even in the same IPv4 /24, is not held back; the right token still works for it
    other = {"environ_base": {"REMOTE_ADDR": "127.0.0.2"}}
    assert (
        client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, **other).status_code == 501
    )


def test_outside_mnist_serve_it_says_so(client):
    response = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (response.status_code, response.json["error"]["code"]) == (501, "not_supported")


def test_under_mnist_serve_it_changes_the_shared_reload_token(client):
    """What every worker's watcher looks at (the live reload is tests/service/test_reload.py)."""
    from mnist_mlp.service.shared import Shared
    from mnist_mlp.service.worker import Worker

    memory = Shared()
    Worker(client.application, memory)
    before = memory.token()
    response = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 202 and response.json["status"] == "reloading"
    assert memory.token() != before
