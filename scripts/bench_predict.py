"""Benchmark mnist-predict: images per second with --jobs 1 and 2, against an HTTP loop.

    python -m mnist_mlp.scripts.bench_predict --data-dir ../shared/mnist [--images 10000]

Writes the first --images MNIST test digits as PNG files the way users send them (black
ink on white paper, scaled up 4x, placed at random on a 160x160 canvas), then times the
real `mnist-predict FOLDER` from start to exit with --jobs 1 and --jobs 2, and a loop
POSTing the same files one by one to a running `mnist-serve` (a new connection each, as
`curl` in a shell loop would). Prints images/s and the two ratios with PASS/MISS against
the targets: --jobs 2 >= 1.7x --jobs 1, and >= 5x the HTTP loop.
"""

import http.client
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.mnist import DataUnavailable, IDXError, load_mnist
from ..model import DEFAULT_WEIGHTS
from ..model.contract import SIDE
from .bench_service import start_server, verdict
from .cli import add_data_options, fail, parser
from .serving import free_port, stop

TARGETS = {"jobs": 1.7, "http": 5.0}
SCALE = 4
CANVAS = 160


def parse_args(argv=None):
    cli = parser("bench_predict", __doc__)
    add_data_options(cli)
    cli.add_argument("--images", type=int, default=10_000, help="MNIST test digits to write and classify")
    cli.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights for both contenders")
    cli.add_argument("--workers", type=int, default=2, help="server workers of the HTTP contender")
    return cli.parse_args(argv)


def write_pngs(pixels, folder, seed=0):
    """[(path, label index)]: each MNIST digit black on white, scaled up, somewhere on a canvas."""
    rng = np.random.default_rng(seed)
    side = SIDE * SCALE
    paths = []
    for i, digit in enumerate(pixels):
        canvas = Image.new("L", (CANVAS, CANVAS), 255)
        ink = Image.fromarray(255 - digit.reshape(SIDE, SIDE)).resize((side, side), Image.Resampling.BILINEAR)
        canvas.paste(ink, tuple(int(v) for v in rng.integers(0, CANVAS - side, 2)))
        path = folder / f"{i:05d}.png"
        canvas.save(path)
        paths.append(path)
    return paths


def time_cli(folder, jobs, weights):
    """(images/s, digits in output order) of `mnist-predict folder --jobs N`, start to exit."""
    command = [sys.executable, "-m", "mnist_mlp.scripts.predict", str(folder), "--jobs", str(jobs)]
    started = time.perf_counter()
    run = subprocess.run([*command, "--weights", str(weights)], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        fail(f"mnist-predict --jobs {jobs} exited {run.returncode}: {run.stderr.strip()}")
    digits = [json.loads(line)["digit"] for line in run.stdout.splitlines()]
    return len(digits) / seconds, digits


def time_http(paths, port):
    """(images/s, digits) POSTing each file as a raw image/png body, one request at a time."""
    digits = []
    started = time.perf_counter()
    for path in paths:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/predict", path.read_bytes(), {"Content-Type": "image/png"})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        if response.status != 200:
            fail(f"POST /predict {path.name}: HTTP {response.status} {body[:200]!r}")
        digits.append(json.loads(body)["digit"])
    return len(paths) / (time.perf_counter() - started), digits


def main(argv=None):
    args = parse_args(argv)
    try:
        _, _, x_test, y_test = load_mnist(args.data_dir, args.data_home)
    except (DataUnavailable, IDXError) as exc:
        fail(exc)
    x_test, y_test = x_test[: args.images], y_test[: args.images]
    with tempfile.TemporaryDirectory(prefix="bench_predict.") as tmp:
        started = time.perf_counter()
        paths = write_pngs(x_test, Path(tmp))
        print(f"wrote {len(paths)} PNGs ({CANVAS}x{CANVAS}) in {time.perf_counter() - started:.1f} s")
        rates, answers = {}, {}
        for jobs in (1, 2):
            rates[f"jobs {jobs}"], answers[f"jobs {jobs}"] = time_cli(tmp, jobs, args.weights)
        port = free_port()
        proc, _ = start_server(port, args.workers, args.weights)
        try:
            rates["HTTP loop"], answers["HTTP loop"] = time_http(paths, port)
        finally:
            stop(proc)
    for name, rate in rates.items():
        accuracy = np.mean(np.array(answers[name]) == y_test)
        print(f"{name:>10}: {rate:8.0f} images/s   accuracy {accuracy:.2%}")
    jobs_ratio = rates["jobs 2"] / rates["jobs 1"]
    http_ratio = rates["jobs 2"] / rates["HTTP loop"]
    print(f"jobs 2 / jobs 1: {jobs_ratio:.2f}x  {verdict(jobs_ratio >= TARGETS['jobs'])} (target >= 1.7x)")
    print(f"jobs 2 / HTTP loop: {http_ratio:.2f}x  {verdict(http_ratio >= TARGETS['http'])} (target >= 5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
