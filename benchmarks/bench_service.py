"""Benchmark the service: granian over HTTP, then preprocessing and forward in-process.

    python -m benchmarks.bench_service [--seconds 3] [--workers 2] [--data-dir DIR] [--check]

Starts `mnist-serve` on 127.0.0.1, times start to ready, drives POST /predict with
two real PNGs of an MNIST test digit (28x28 black on white, and the PNG the drawing page
sent in Chromium for that digit drawn with the mouse) and GET /healthz at concurrency 1, 4 and 16,
then prints req/s, p50/p99 latency, the predict/healthz ratio, RSS per worker and
in-process timings, each with PASS/MISS against the service's targets (TARGETS).
With --check, exits 1 when a target is missed.
"""

import http.client
import io
import subprocess
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.data.mnist import DataUnavailable, IDXError, load_mnist
from mnist_mlp.model import DEFAULT_WEIGHTS, load_weights
from mnist_mlp.model.contract import SIDE
from mnist_mlp.scripts.cli import add_data_options, fail, parser

from .serving import ServerFailed, free_port, start, stop, wait_ready
from .targets import Target, Verdicts, add_check_option

# Captured from the page by tests/browser/test_page_browser.py, which checks it is still what the page sends.
PAGE_SAMPLE = resources.files("mnist_mlp.scripts").joinpath("samples", "page-digit.png")

LEVELS = (1, 4, 16)
TARGETS = {
    "ratio": Target(">=", 0.6),  # /predict req/s over /healthz req/s, at each concurrency
    "p99_ms_c16": Target("<", 50, " ms"),
    "rss_mb": Target("<", 80, " MB"),  # the largest worker's
    "ready_s": Target("<", 1.5, " s"),
    "pre_fwd_ms": Target("<", 2, " ms"),  # in process, median
    "torch_forward": Target("<", 1, "x"),  # our forward's time over PyTorch eager's, batch 1
}


def sample_pngs(data_dir, data_home=None):
    """{name: PNG bytes} of MNIST test digit 0 as users send it, and its label.

    "mnist28": the 28x28 digit drawn black on white (a scan or screenshot of MNIST size);
    "page": the digit drawn with the mouse on the drawing page, the PNG Chromium sent.
    """
    try:
        _, _, x_test, y_test = load_mnist(data_dir, data_home)
    except (DataUnavailable, IDXError) as exc:
        fail(exc)
    digit = Image.fromarray(255 - x_test[0].reshape(SIDE, SIDE))
    return {"mnist28": _png(digit), "page": PAGE_SAMPLE.read_bytes()}, int(y_test[0])


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def start_server(port, workers, model_path):
    """(process, seconds from start to ready) of the server on 127.0.0.1:`port`."""
    env = {"HOST": "127.0.0.1", "PORT": str(port), "WORKERS": str(workers), "MODEL_PATH": str(model_path)}
    proc = start(env, stdout=subprocess.DEVNULL)
    try:
        return proc, wait_ready(proc, f"http://127.0.0.1:{port}")
    except ServerFailed as exc:
        _, stderr = stop(proc)
        fail(f"{exc}: {stderr.strip()}")


def measure(server_pid, port, loads, concurrency, seconds, turns):
    """{name: (requests per second, sorted latencies in ms, non-200 count, worker CPU ms
    per request)} for each load.

    The loads take turns, `turns` slices of seconds / turns each, so a change in this
    shared machine's speed during the run falls on every route alike.
    """
    runs = {name: [] for name in loads}
    cpu = dict.fromkeys(loads, 0.0)
    for _ in range(turns):
        for name, load in loads.items():
            before = workers_cpu_s(server_pid)
            runs[name].append(drive(port, *load, concurrency, seconds / turns))
            cpu[name] += workers_cpu_s(server_pid) - before
    rows = {}
    for name, slices in runs.items():
        count = sum(len(lat) for lat, _, _ in slices)
        rows[name] = (
            count / sum(elapsed for _, elapsed, _ in slices),
            np.sort(np.concatenate([lat for lat, _, _ in slices])),
            sum(bad for _, _, bad in slices),
            cpu[name] * 1000 / count,
        )
    return rows


def drive(port, method, path, body, headers, concurrency, seconds):
    """(latencies in ms, elapsed seconds, non-200 count) of `concurrency` clients for `seconds`."""
    deadline = time.perf_counter() + seconds
    latencies, failures = [], []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, bad = [], 0
        while (start := time.perf_counter()) < deadline:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            bad += response.status != 200
        conn.close()
        latencies.extend(mine)
        failures.append(bad)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - began, sum(failures)


def wait_for_workers(proc, count, timeout=30):
    deadline = time.perf_counter() + timeout
    while len(_workers(proc.pid)) < count:
        if time.perf_counter() > deadline:
            stop(proc)
            fail(f"only {len(_workers(proc.pid))} of {count} workers after {timeout} s")
        time.sleep(0.01)


def worker_rss_mb(pid):
    return [_rss_kb(child) / 1024 for child in _workers(pid)]


def workers_cpu_s(pid):
    """CPU seconds the server's workers have run so far.

    From the scheduler's own count (schedstat, in ns, summed over each worker's threads)
    rather than /proc/<pid>/stat's utime and stime, which count whole clock ticks (10 ms)
    for sub-millisecond requests.
    """
    return sum(_cpu_ns(child) for child in _workers(pid)) / 1e9


def _cpu_ns(pid):
    """Nanoseconds run by every thread of a process: granian's I/O threads as well as Python's."""
    return sum(
        int(task.joinpath("schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir()
    )


def _workers(pid):
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def _rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def median_ms(fn, repeats):
    fn()  # warm caches and lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def torch_forward_ms(mlp, x):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    layers = []
    for w, b in zip(mlp.weights, mlp.biases):
        linear = torch.nn.Linear(*w.shape)
        linear.weight.data = torch.from_numpy(w.T.copy())
        linear.bias.data = torch.from_numpy(b.copy())
        layers += [linear, torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).eval()
    tensor = torch.from_numpy(x)
    with torch.inference_mode():
        return median_ms(lambda: net(tensor), 2000)


def main(argv=None):
    cli = parser("bench-service", __doc__)
    cli.add_argument("--seconds", type=float, default=3.0, help="load time per route and level")
    cli.add_argument("--turns", type=int, default=6, help="slices per route and level, taken in turn")
    cli.add_argument("--workers", type=int, default=2, help="server workers")
    cli.add_argument("--model-path", default=str(DEFAULT_WEIGHTS), help="weights file to serve")
    add_data_options(cli)
    add_check_option(cli)
    args = cli.parse_args(argv)

    pngs, label = sample_pngs(args.data_dir, args.data_home)
    port = free_port()
    proc, ready_s = start_server(port, args.workers, args.model_path)
    wait_for_workers(proc, args.workers)  # ready means one worker answers; the CPU column needs all
    loads = {
        f"/predict {name}": ("POST", "/predict", png, {"Content-Type": "image/png"})
        for name, png in pngs.items()
    }
    loads["/healthz"] = ("GET", "/healthz", None, {})
    try:
        rows = {
            (level, name): row
            for level in LEVELS
            for name, row in measure(proc.pid, port, loads, level, args.seconds, args.turns).items()
        }
        rss = worker_rss_mb(proc.pid)
    finally:
        stop(proc, timeout=15)

    print(f"granian, {args.workers} workers, {args.seconds:g} s per route and level in {args.turns} turns")
    print(f"PNG sizes: {', '.join(f'{name} {len(png)} bytes' for name, png in pngs.items())}")
    print("cpu ms: the workers' CPU time per request; the client runs on the same cores")
    print(f"{'conc':>4} {'route':<20} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>7} {'errors':>6}")
    for (level, name), (rps, lat, bad, cpu_ms) in rows.items():
        p50, p99 = np.percentile(lat, [50, 99])
        print(f"{level:>4} {name:<20} {rps:8.0f} {p50:7.2f} {p99:7.2f} {cpu_ms:7.3f} {bad:>6}")
    print()
    verdicts = Verdicts()
    for level in LEVELS:
        for name in pngs:
            ratio = rows[level, f"/predict {name}"][0] / rows[level, "/healthz"][0]
            title = f"predict {name}/healthz throughput at {level:>2}"
            verdicts.report(title, f"{ratio:.2f}", ratio, TARGETS["ratio"])
    for name in pngs:
        p99 = np.percentile(rows[16, f"/predict {name}"][1], 99)
        verdicts.report(f"p99 /predict {name} at 16", f"{p99:.1f} ms", p99, TARGETS["p99_ms_c16"])
    rss_text = ", ".join(f"{mb:.1f}" for mb in rss)
    verdicts.report("RSS per worker", f"{rss_text} MB", max(rss), TARGETS["rss_mb"])
    verdicts.report("start to ready", f"{ready_s:.2f} s", ready_s, TARGETS["ready_s"])
    in_process(args.model_path, pngs, label, verdicts)
    return verdicts.exit_status(args.check)


def in_process(model_path, pngs, label, verdicts):
    mlp, _ = load_weights(model_path)
    for name, png in pngs.items():
        pre_fwd = median_ms(lambda png=png: mlp.predict_proba(preprocess(png)[None, :]), 300)
        title = f"in-process preprocess + forward, {name}"
        verdicts.report(title, f"{pre_fwd:.3f} ms median", pre_fwd, TARGETS["pre_fwd_ms"])
    one = preprocess(pngs["mnist28"])[None, :]
    forward = median_ms(lambda: mlp.forward(one), 3000)
    digit = int(mlp.predict(one)[0])
    print(
        f"in-process forward alone, batch 1: {forward * 1000:.1f} us median (predicts {digit}, label {label})"
    )
    torch_ms = torch_forward_ms(mlp, one)
    if torch_ms is None:
        print("PyTorch eager comparison: skipped (torch not installed; `pip install .[bench]`)")
    else:
        ratio = forward / torch_ms
        figure = f"{ratio:.2f}x (PyTorch eager {torch_ms * 1000:.1f} us)"
        verdicts.report("NumPy / PyTorch eager forward, batch 1", figure, ratio, TARGETS["torch_forward"])


if __name__ == "__main__":
    raise SystemExit(main())
