"""The lab's HTTP server: Werkzeug's threaded WSGI server, one process, a thread per request.

One process because the runs live in its memory and train on its threads. The lab is a
local tool bound to loopback by default; still, a client that stops sending is dropped
after SOCKET_TIMEOUT seconds, and only failed requests are logged (the page polls a few
times a second).
"""

import socket

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

SOCKET_TIMEOUT = 10.0


class _Handler(WSGIRequestHandler):
    timeout = SOCKET_TIMEOUT  # socketserver applies it to every connection

    def log_request(self, code="-", size="-"):
        if str(code)[:1] in "45":
            super().log_request(code, size)


def make_server(host, port, app=None):
    """A server listening on host:port, OSError if it cannot; set `app` if not given, then
    serve_forever() runs it."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))  # here rather than in Werkzeug, which exits the process on failure
        listener.listen(128)
        server = ThreadedWSGIServer(host, port, app, handler=_Handler, fd=listener.fileno())  # a duplicate
    server.daemon_threads = True
    return server
