"""The HTTP edge: granian's RSGI interface in front of the Flask (WSGI) app.

granian's Rust core accepts connections, parses request lines and headers (with a read
timeout) and holds idle keep-alive connections without any Python thread. `Edge` then
reads each body asynchronously, bounded in bytes and in time, so a client that drips its
body or never sends it ties up nothing but its own socket (an HTTP/1 request with neither
Content-Length nor Transfer-Encoding has no body: none is asked for). Only a complete request
reaches Flask, which runs inline in the worker's event loop, like a sync worker that
never waits on the network:

    socket --granian--> scope, proto --Edge.__rsgi__--> body <= MAX_CONTENT_LENGTH within
    BODY_TIMEOUT --> WSGI environ --> Flask --> status, headers, bytes --> access log line

The few routes that wait on something other than the CPU (OFFLOADED: a correction waits on
its database, a scrape reads the workers' metrics files) run instead in threads, a few for
each route, so that a locked database stalls only corrections: never /healthz or /predict on
the same worker, nor a scrape, which would otherwise find every thread taken by corrections
in the very minutes it is needed. Each has IO_DEADLINE_S to be answered, waiting included,
else it is answered 503 (the thread finishes its work unseen); when its route's threads and
waiting places are all taken, a new one is answered 503 at once. Whether a request is
offloaded is asked of the app's own URL map, so that it is the route Flask will run: Werkzeug
upper-cases the method and merges repeated slashes, so `post //feedback` is a correction too.
What the edge refuses itself gets the same JSON error shape as the app (errors.payload).
"""

import asyncio
import functools
import io
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from werkzeug.exceptions import HTTPException

from .errors import payload
from .logs import access_line

JSON = "application/json"
# endpoint -> (threads, requests that may wait for one), per worker
OFFLOADED = {
    # the feedback store serialises its writes on one connection anyway; a burst of the page's
    # corrections fits in the waiting places
    "feedback.feedback": (2, 14),
    "metrics.metrics": (1, 3),  # Prometheus scrapes one at a time
}
ROUTES_CACHED = 256  # (method, path) pairs whose route is remembered: every real one, not every odd one
# Longer than the feedback store's own waits (a busy database answers its 503 first), within the
# 2 s or so a client can expect a "try again later" in
IO_DEADLINE_S = 2.5


class Edge:
    """An RSGI application serving the WSGI app `wsgi` (granian calls `__rsgi__`)."""

    def __init__(self, wsgi, max_body, body_timeout, log_format="text", out=None, on_start=None):
        self.wsgi = wsgi
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.log_format = log_format
        self.out = out or sys.stdout
        self._pools = {endpoint: _Pool(endpoint, *sizes) for endpoint, sizes in OFFLOADED.items()}
        self.on_start = on_start  # called once the worker is about to serve, its signal handlers set
        self._routes = wsgi.url_map.bind("")
        self._offloaded = functools.lru_cache(maxsize=ROUTES_CACHED)(self._route_offloaded)

    def __rsgi_init__(self, loop):
        if self.on_start is not None:
            self.on_start()

    async def __rsgi__(self, scope, proto):
        started = time.perf_counter()
        status, headers, body = await self._respond(scope, proto)
        proto.response_bytes(status, headers, body)
        self._log(scope, status, headers, started)

    async def _respond(self, scope, proto):
        """(status, headers, body bytes) for one request."""
        declared = scope.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return self._refusal(scope, 413, "request_too_large", self._too_large())
        chunked = scope.headers.get("transfer-encoding") is not None
        if declared is None and not chunked and scope.http_version.startswith("1"):
            # HTTP/1: a request with neither header has no body (RFC 9112, 6.3), and granian's core
            # reads none; asking for it anyway costs a wake-up of the event loop from granian's thread.
            body = b""
        else:
            body = await self._body(scope, proto, declared is not None and not chunked)
            if isinstance(body, tuple):  # refused
                return body
        endpoint = self._offloaded(scope.method, scope.path)
        if endpoint is not None:
            return await self._offload(scope, environ(scope, body, multithread=True), self._pools[endpoint])
        return call_wsgi(self.wsgi, environ(scope, body))

    async def _body(self, scope, proto, whole):
        """The request's body bytes, read within the limit and the timeout, else the refusal
        (status, headers, body) to answer with.

        Read in one call only a body whose length is known (`whole`): with Transfer-Encoding too,
        the length would be the chunks' and no longer bounded by the Content-Length check.
        """
        try:
            async with asyncio.timeout(self.body_timeout):
                return await (proto() if whole else self._read_body(proto))
        except TimeoutError:
            message = f"the request body did not arrive within {self.body_timeout:g} s"
            return self._refusal(scope, 408, "request_timeout", message)
        except _TooLarge:
            return self._refusal(scope, 413, "request_too_large", self._too_large())
        except Exception as exc:  # granian's protocol errors: malformed chunks, a connection cut short
            return self._refusal(scope, 400, "bad_request", f"the request body is malformed ({exc})")

    def _route_offloaded(self, method, path):
        """The OFFLOADED endpoint Flask would answer `method` `path` with, else None."""
        if method.upper() == "OPTIONS":
            return None  # Flask answers it itself, without the view
        try:
            endpoint, _ = self._routes.match(path, method)
        except HTTPException:  # no route, a wrong method, a redirect: the app answers at once
            return None
        return endpoint if endpoint in OFFLOADED else None

    async def _offload(self, scope, env, pool):
        """(status, headers, body) from one of `pool`'s threads within the deadline; 503 when it cannot be."""
        if not pool.slots.acquire(blocking=False):
            message = "this worker's threads for slow requests are all taken; try again in a moment"
            return self._refusal(scope, 503, "server_busy", message, retry_after=1)
        job = pool.threads.submit(call_wsgi, self.wsgi, env)
        job.add_done_callback(lambda _: pool.slots.release())  # run, or cancelled while waiting
        try:
            # on timeout the job is cancelled if it is still waiting; a running one ends on its own
            return await asyncio.wait_for(asyncio.wrap_future(job), IO_DEADLINE_S)
        except TimeoutError:
            message = f"the request was not answered within {IO_DEADLINE_S:g} s; try again later"
            return self._refusal(scope, 503, "deadline_exceeded", message, retry_after=1)

    async def _read_body(self, proto):
        """The whole body of a chunked upload, counted as it arrives: one over the limit stops at the limit.

        A body with a Content-Length (checked against the limit first) is read whole instead, in one
        call: the HTTP core reads no more than the declared length, and each chunk read here costs
        one more wake-up of the event loop from granian's thread.
        """
        parts, size = [], 0
        async for chunk in proto:
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            parts.append(chunk)
        return b"".join(parts)

    def _too_large(self):
        return f"the request body is larger than the limit of {self.max_body} bytes"

    def _refusal(self, scope, status, code, message, retry_after=None):
        body = payload(scope.path, code, message)
        headers = [("content-type", JSON), ("x-content-type-options", "nosniff")]
        if retry_after is not None:
            headers.append(("retry-after", str(retry_after)))
        return status, headers, body

    def _log(self, scope, status, headers, started):
        request_id = next((v for k, v in headers if k.lower() == "x-request-id"), "-")
        line = access_line(
            self.log_format,
            method=scope.method,
            path=scope.path,
            query=scope.query_string,
            status=status,
            ms=(time.perf_counter() - started) * 1000,
            request_id=request_id,
        )
        self.out.write(line)


class _TooLarge(Exception):
    pass


class _Pool:
    """The threads of one offloaded route (started on first use), and the places of its requests:
    running or waiting for a thread."""

    def __init__(self, endpoint, threads, waiting):
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix=f"edge-{endpoint}")
        self.slots = threading.BoundedSemaphore(threads + waiting)


def environ(scope, body, multithread=False):
    """The WSGI environ (PEP 3333) of a request whose body has been read whole."""
    host, _, port = scope.server.rpartition(":")
    env = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        # PEP 3333: paths are native strings holding the raw bytes as latin-1
        "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": scope.client.rpartition(":")[0],
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        if "_" in name:
            # In the environ `X_Forwarded_For` and `X-Forwarded-For` are one name: a client's
            # header with underscores, passed on by a proxy, would join the one the proxy wrote
            # and could choose the address PROXY_HOPS reads. Dropped, as Gunicorn and nginx do.
            continue
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is whole: its length is the one above
        if key == "CONTENT_TYPE":
            env[key] = value
            continue
        key = "HTTP_" + key
        env[key] = f"{env[key]},{value}" if key in env else value
    return env


def call_wsgi(app, env):
    """(status, headers, body bytes) of one WSGI call."""
    started = []

    def start_response(status, headers, exc_info=None):
        started[:] = [int(status[:3]), headers]

    chunks = app(env, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return started[0], started[1], body
