"""What one request costs the server, piece by piece: preprocessing in process, the system calls a worker
makes per request, and the memory of a 2-worker server.

    python -m benchmarks.serve_costs preprocess       # preprocess(page PNG), median µs
    python -m benchmarks.serve_costs preprocess --against old_preprocess.py   # and another version's
    python -m benchmarks.serve_costs metrics          # recording one request's metrics, median µs
    python -m benchmarks.serve_costs syscalls /healthz --port 18301   # strace -c -f on the worker
    python -m benchmarks.serve_costs rss --port 18302                 # VmRSS of every server process

`syscalls` needs strace and the right to attach to a child process. Servers are started with
benchmarks/serving.py on 127.0.0.1 and the port given (the next free one when 0). Whatever stops a
measurement (a port in use, a server that exits, strace that cannot attach, an --against file that does
not load or does not return what this tree's preprocess does) stops it in one line `error: ...`.
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import types
import urllib.request
from pathlib import Path

from .bench_service import PAGE_SAMPLE
from .serving import ServerFailed, free_port, start, stop, wait_ready


class Failed(Exception):
    """A measurement that cannot be made; main prints the message in one line and exits 1."""


def _against(path, png, expected):
    """The `preprocess` of the file at `path`, once called on `png` and found to return an array of
    the shape and kind of `expected` (this tree's result); Failed saying what is wrong otherwise."""
    try:
        source = Path(path).read_bytes().decode()
    except UnicodeDecodeError as error:
        raise Failed(f"--against {path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise Failed(f"--against {path}: cannot be read ({error.strerror})") from None
    source = source.replace("from ...model", "from mnist_mlp.model")
    other = types.ModuleType("preprocess_against")
    try:
        code = compile(source, path, "exec")
    except (SyntaxError, ValueError) as error:
        where = f"line {error.lineno}: " if getattr(error, "lineno", None) else ""
        raise Failed(f"--against {path}: does not compile ({where}{getattr(error, 'msg', error)})") from None
    try:
        exec(code, other.__dict__)  # noqa: S102 - a file the user names
    except (Exception, SystemExit) as error:
        raise Failed(f"--against {path}: importing it raised {type(error).__name__}: {error}") from None
    fn = getattr(other, "preprocess", None)
    if fn is None:
        raise Failed(f"--against {path}: defines no preprocess")
    if not callable(fn):
        raise Failed(f"--against {path}: preprocess is a {type(fn).__name__}, not a function")
    try:
        result = fn(png)
    except (Exception, SystemExit) as error:
        raised = f"{type(error).__name__}: {error}"
        raise Failed(f"--against {path}: preprocess(page PNG) raised {raised}") from None
    want = f"a float array of shape {expected.shape} like this tree's"
    if not (hasattr(result, "shape") and hasattr(result, "dtype")):
        raise Failed(f"--against {path}: preprocess(page PNG) returned {type(result).__name__}, not {want}")
    if result.shape != expected.shape or result.dtype.kind != "f":
        raise Failed(
            f"--against {path}: preprocess(page PNG) returned a {result.dtype} array of shape "
            f"{result.shape}, not {want}"
        )
    return fn


def preprocess_us(against=None, rounds=200, calls=100):
    """{name: median µs of preprocess(page PNG)} over `rounds` rounds of `calls` calls; with `against`,
    the path of another version of data/imaging/preprocess.py, both in alternating rounds."""
    from mnist_mlp.data.imaging import preprocess

    png = PAGE_SAMPLE.read_bytes()
    versions = {"this tree": preprocess.preprocess}
    if against:  # loaded and tried once before any timing
        versions = {against: _against(against, png, preprocess.preprocess(png)), **versions}
    for fn in versions.values():
        for _ in range(calls):
            fn(png)
    runs = {name: [] for name in versions}
    for _ in range(rounds):
        for name, fn in versions.items():
            runs[name].append(timeit.timeit(lambda fn=fn: fn(png), number=calls) / calls * 1e6)
    return {name: statistics.median(times) for name, times in runs.items()}


def record_us(rounds=100, calls=500):
    """Median µs of recording one /healthz request's metrics (the in-process registry)."""
    from flask import Response, request

    from mnist_mlp.service import create_app, metrics

    app = create_app({})
    response = Response("ok")
    with app.test_request_context("/healthz"):
        app.preprocess_request()  # the timer
        request.url_rule = app.url_map.bind("").match("/healthz", return_rule=True)[0]
        for _ in range(calls):
            metrics._record(response)
        runs = [
            timeit.timeit(lambda: metrics._record(response), number=calls) / calls * 1e6
            for _ in range(rounds)
        ]
    return statistics.median(runs)


def port_free(port):
    """Whether a server could bind 127.0.0.1:`port` now (as servers do, despite connections of an
    earlier one in TIME_WAIT; not while anything listens there)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _server(port, workers):
    """A ready server on `port`; Failed with the server's own last word if it exits while starting."""
    proc = start({"HOST": "127.0.0.1", "PORT": str(port), "WORKERS": str(workers)})
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}", 60)
    except ServerFailed as error:
        _, err = stop(proc)
        lines = [line.strip() for line in (err or "").splitlines() if line.strip()]
        raise Failed(f"{error}" + (f": {lines[-1]}" if lines else "")) from None
    if proc.poll() is not None:  # something else answered /readyz
        stop(proc)
        raise Failed(f"the server exited with status {proc.returncode} while starting")
    return proc


def _workers(pid):
    """The pids of `pid`'s children (a server's workers); Failed if there are none."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    if not children:
        raise Failed(f"no worker process of the server (pid {pid}) was found")
    return children


def _tree(pid):
    """`pid` and all its descendants."""
    found = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        children = [child for task in tasks for child in (task / "children").read_text().split()]
    except OSError:  # it has just exited
        return found
    for child in children:
        found += _tree(int(child))
    return found


def _rss_mb(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        raise Failed(f"server process {pid} exited during the measurement") from None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _client(port, path):
    """A function sending one request on a kept-alive connection, asserting a 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    png = PAGE_SAMPLE.read_bytes()

    def once():
        if path == "/predict":
            conn.request("POST", path, body=png, headers={"Content-Type": "image/png"})
        else:
            conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status

    return once


def syscalls(path, port, requests):
    """(system calls per request, {name: per request}) of a 1-worker server's worker, all its threads."""
    proc = _server(port, 1)
    try:
        worker = _workers(proc.pid)[0]
        once = _client(port, path)
        for _ in range(50):
            once()
        calls = _strace(worker, once, requests)
    finally:
        stop(proc)
    return sum(calls.values()), calls


def _strace(pid, once, requests):
    """{system call: per request} of process `pid` (all its threads) while `once` runs `requests`
    times; Failed if strace fails, leaves no output or none that counts a call."""
    fd, out = tempfile.mkstemp(suffix=".strace")
    os.close(fd)
    try:
        tracer = subprocess.Popen(
            ["strace", "-c", "-f", "-p", str(pid), "-o", out],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        attached = time.perf_counter()
        while time.perf_counter() - attached < 1.5 and tracer.poll() is None:
            time.sleep(0.05)  # attached to every thread, unless it already failed
        if tracer.poll() is None:
            for _ in range(requests):
                once()
            time.sleep(0.5)
            tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate()
        try:
            text = Path(out).read_text()
        except OSError as error:
            raise Failed(f"strace's output {out} could not be read: {error.strerror}") from None
    finally:
        Path(out).unlink(missing_ok=True)
    calls = {}
    for line in text.splitlines():
        fields = line.split()
        if re.match(r"\d+\.\d+$", fields[0] if fields else "") and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3]) / requests
    if tracer.returncode not in (0, -signal.SIGINT) or not calls:  # it dies of our SIGINT once done
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {tracer.returncode}, no system call counted"
        raise Failed(f"strace could not attach to the worker: {last}")
    return calls


def rss(port, requests=300):
    """(MB of each server process when ready, MB of each after `requests` /predict of the page PNG)."""
    proc = _server(port, 2)
    try:
        time.sleep(2)
        _workers(proc.pid)
        ready = [_rss_mb(pid) for pid in _tree(proc.pid)]
        png = PAGE_SAMPLE.read_bytes()
        for _ in range(requests):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/predict", data=png, headers={"Content-Type": "image/png"}
            )
            urllib.request.urlopen(request).read()
        time.sleep(1)
        return ready, [_rss_mb(pid) for pid in _tree(proc.pid)]
    finally:
        stop(proc)


def _port(text):
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serve_costs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("what", choices=("preprocess", "metrics", "syscalls", "rss"))
    parser.add_argument(
        "path",
        nargs="?",
        default="/healthz",
        choices=("/healthz", "/predict"),
        help="the route `syscalls` requests",
    )
    parser.add_argument("--port", type=_port, default=0, help="the server's port (default: a free one)")
    parser.add_argument(
        "--against", help="`preprocess`: another version of data/imaging/preprocess.py, timed in alternation"
    )
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests `syscalls` traces (default 1000)"
    )
    args = parser.parse_args(argv)
    if args.against and not Path(args.against).is_file():
        parser.error(f"--against {args.against}: no such file")
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.what == "syscalls" and not shutil.which("strace"):
        parser.error("syscalls needs strace (apt-get install strace)")
    if args.what in ("syscalls", "rss") and args.port and not port_free(args.port):
        parser.error(f"port {args.port} is in use")
    port = args.port or free_port()
    try:
        _run(args, port)
    except Failed as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def _run(args, port):
    if args.what == "preprocess":
        times = preprocess_us(args.against)
        for name, us in times.items():
            print(f"preprocess(page PNG, 56x56 RGB), {name}: median {us:.1f} µs (200 rounds of 100 calls)")
        if args.against:
            print(f"this tree / {args.against}: {times['this tree'] / times[args.against]:.3f}")
    elif args.what == "metrics":
        print(f"metrics of one /healthz request: median {record_us():.2f} µs (100 rounds of 500)")
    elif args.what == "syscalls":
        total, calls = syscalls(args.path, port, args.requests)
        top = ", ".join(f"{name} {n:.1f}" for name, n in sorted(calls.items(), key=lambda kv: -kv[1])[:6])
        print(
            f"{args.path}: {total:.1f} system calls per request in the worker "
            f"({args.requests} requests; {top})"
        )
    else:
        ready, served = rss(port)
        show = lambda mbs: " + ".join(f"{mb:.1f}" for mb in mbs) + f" = {sum(mbs):.1f} MB"  # noqa: E731
        print(f"2-worker mnist-serve, every process: ready {show(ready)}; after 300 /predict {show(served)}")


if __name__ == "__main__":
    main()
