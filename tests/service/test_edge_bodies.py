"""The edge asks granian for a body only when the request has one: Content-Length or
Transfer-Encoding, or a protocol other than HTTP/1 (issue 25). The hostile-client tests
(test_hostile.py) check the limits over real sockets; these check which path each request takes."""

import asyncio
import json
from importlib import resources

import pytest

from mnist_mlp.service.edge import Edge

PNG = resources.files("mnist_mlp.scripts").joinpath("samples", "page-digit.png").read_bytes()
LIMIT = 100_000


class Scope:
    def __init__(self, method, path, headers, http_version="1.1"):
        self.method = method
        self.path = path
        self.headers = headers
        self.http_version = http_version
        self.query_string = ""
        self.server = "127.0.0.1:8000"
        self.client = "127.0.0.1:50000"
        self.scheme = "http"


class Proto:
    """granian's protocol object: the body whole (await proto()) or in chunks (async for)."""

    def __init__(self, chunks=()):
        self.chunks = list(chunks)
        self.reads = 0

    async def __call__(self):
        self.reads += 1
        return b"".join(self.chunks)

    def __aiter__(self):
        self.reads += 1
        return self._iterate()

    async def _iterate(self):
        for chunk in self.chunks:
            yield chunk


@pytest.fixture
def edge(app):
    return Edge(app, LIMIT, 5.0)


def respond(edge, scope, proto):
    status, _, body = asyncio.run(edge._respond(scope, proto))
    return status, json.loads(body) if body.startswith(b"{") else body


def test_a_request_without_a_body_is_answered_without_reading_one(edge):
    proto = Proto([b"never asked for"])
    status, _ = respond(edge, Scope("GET", "/healthz", {}), proto)
    assert status == 200 and proto.reads == 0


def test_a_body_with_a_length_is_read_whole(edge):
    proto = Proto([PNG])
    headers = {"content-length": str(len(PNG)), "content-type": "image/png"}
    status, answer = respond(edge, Scope("POST", "/predict", headers), proto)
    assert status == 200 and "digit" in answer and proto.reads == 1


def test_a_chunked_body_is_read_and_counted_against_the_limit(edge):
    proto = Proto([b"x" * 40_000] * 3)
    status, answer = respond(edge, Scope("POST", "/predict", {"transfer-encoding": "chunked"}), proto)
    assert status == 413 and answer["error"]["code"] == "request_too_large" and proto.reads == 1


def test_without_http_1_a_body_is_read_even_without_either_header(edge):
    proto = Proto([b"x" * 40_000] * 3)
    status, _ = respond(edge, Scope("POST", "/predict", {}, http_version="2"), proto)
    assert status == 413 and proto.reads == 1
