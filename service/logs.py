"""Log lines an operator can trust: one line per event, control characters escaped, text or JSON.

A client controls the path, the query and the request id it sends; written raw, a `%0a` in
a path would start a forged line. Every field is escaped here (`printable`), and with
LOG_FORMAT=json each line is a JSON object with a UTC timestamp.
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime

LOG_FORMATS = ("text", "json")
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text):
    """`text` with every control character written as a \\xNN or \\uNNNN escape (backslashes too)."""
    text = str(text).replace("\\", "\\\\")
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _now():
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def access_line(log_format, method, path, query, status, ms, request_id):
    """One access-log line, newline included."""
    if log_format == "json":
        record = {
            "time": _now(),
            "event": "request",
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "ms": round(ms, 3),
            "request_id": request_id,
        }
        return json.dumps(record) + "\n"
    target = printable(path) + (f"?{printable(query)}" if query else "")
    return f"{printable(method)} {target} {status} {ms:.2f}ms rid={printable(request_id)}\n"


class _Formatter(logging.Formatter):
    def __init__(self, log_format):
        super().__init__()
        self.log_format = log_format

    def format(self, record):
        message = record.getMessage()
        trace = self.formatException(record.exc_info) if record.exc_info else ""
        if self.log_format == "json":
            fields = {"level": record.levelname, "logger": record.name, "message": message}
            return json.dumps(
                {"time": _now(), "event": "log", **fields, **({"trace": trace} if trace else {})}
            )
        line = f"{_now()} {record.levelname} {record.name}: {printable(message)}"
        # a traceback stays readable: indented continuation lines, each escaped
        return "\n    ".join([line, *(printable(t) for t in trace.splitlines())])


def configure(log_format, stream=None):
    """Route the service's own log records (errors, start-up) through the escaping formatter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(log_format))
    root = logging.getLogger("mnist_mlp")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
