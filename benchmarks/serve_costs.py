"""What one request costs the server, piece by piece: preprocessing in process, the system calls a worker
makes per request, and the memory of a 2-worker server.

    python -m benchmarks.serve_costs preprocess       # preprocess(page PNG), median µs
    python -m benchmarks.serve_costs preprocess --against old_preprocess.py   # and another version's
    python -m benchmarks.serve_costs metrics          # recording one request's metrics, median µs
    python -m benchmarks.serve_costs syscalls /healthz --port 18301   # strace -c -f on the worker
    python -m benchmarks.serve_costs rss --port 18302                 # VmRSS of every server process

`syscalls` needs strace and the right to attach to a child process. Servers are started with
benchmarks/serving.py on 127.0.0.1 and the port given (the next free one when 0).
"""

import argparse
import http.client
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import timeit
import types
import urllib.request
from pathlib import Path

from .bench_service import PAGE_SAMPLE
from .serving import free_port, start, stop, wait_ready


def preprocess_us(against=None, rounds=200, calls=100):
    """{name: median µs of preprocess(page PNG)} over `rounds` rounds of `calls` calls; with `against`,
    the path of another version of data/imaging/preprocess.py, both in alternating rounds."""
    from mnist_mlp.data.imaging import preprocess

    versions = {"this tree": preprocess.preprocess}
    if against:
        source = Path(against).read_text().replace("from ...model", "from mnist_mlp.model")
        other = types.ModuleType("preprocess_against")
        exec(compile(source, against, "exec"), other.__dict__)  # noqa: S102 - a file the user names
        versions = {against: other.preprocess, **versions}
    png = PAGE_SAMPLE.read_bytes()
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


def _server(port, workers):
    proc = start({"HOST": "127.0.0.1", "PORT": str(port), "WORKERS": str(workers)})
    wait_ready(proc, f"http://127.0.0.1:{port}", 60)
    return proc


def _tree(pid):
    """`pid` and all its descendants."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += _tree(int(child))
    return found


def _rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
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
        worker = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0]
        once = _client(port, path)
        for _ in range(50):
            once()
        with tempfile.NamedTemporaryFile(suffix=".strace") as out:
            tracer = subprocess.Popen(
                ["strace", "-c", "-f", "-p", worker, "-o", out.name], stderr=subprocess.DEVNULL
            )
            time.sleep(1.5)  # attached to every thread
            for _ in range(requests):
                once()
            time.sleep(0.5)
            tracer.send_signal(signal.SIGINT)
            tracer.wait()
            text = Path(out.name).read_text()
    finally:
        stop(proc)
    calls = {}
    for line in text.splitlines():
        fields = line.split()
        if re.match(r"\d+\.\d+$", fields[0] if fields else "") and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3]) / requests
    return sum(calls.values()), calls


def rss(port, requests=300):
    """(MB of each server process when ready, MB of each after `requests` /predict of the page PNG)."""
    proc = _server(port, 2)
    try:
        time.sleep(2)
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
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
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
    port = args.port or free_port()
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
