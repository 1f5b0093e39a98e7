"""Training speed, side by side: our NumPy epoch, its GEMM floor and PyTorch CPU's, interleaved.

    python -m benchmarks.bench_train [--data-dir DIR] --epochs 10 \
        [--threads 1] [--torch-python /path/to/python] [--baseline-python /path/to/python] [--check]

Each contender trains the same 784-128-64-10 ReLU network with Adam, batch 128, float32, on the
60,000 training images, in its own long-lived process (benchmarks/train_contenders.py: its own
peak memory, its own thread pool). After one untimed warm-up round, the contenders take turns,
one epoch each, for --epochs rounds, the order reversed every other round, so that a change in
the machine's load falls on all of them alike. Reported per contender: the median wall-clock
seconds and process CPU seconds of an epoch, peak RSS and test accuracy; and the load average
before and after. The GEMM floor is an epoch of the eight matrix products a training step needs
and nothing else: no training loop can be faster on this machine. Every contender gets --threads
BLAS / OpenMP threads (default 1), set in its environment before NumPy or PyTorch is imported.
PyTorch runs where this Python has it, or under --torch-python (its wheel is large: an
environment of its own); without either it is skipped. --baseline-python adds our epoch once more,
run by another Python whose mnist_mlp is another checkout (say main's), as `numpy-baseline`: a
before/after of a change to the training loop under the same load. Prints the table and the ratios of the
medians, with PASS/MISS against TARGETS; with --check, exits 1 when one is missed. A contender that
fails (its process dies, answers no JSON, reports an error such as a diverging loss, or gives no answer
within ANSWER_TIMEOUT_S) is killed, shown as failed in the table with NaN in its ratios, and, after every
figure is printed, makes bench_train exit 1 with `error: <name> failed: <reason>` on stderr, --check or not.
"""

import importlib.util
import json
import math
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_mlp.data.mnist import DataUnavailable, IDXError, load_mnist
from mnist_mlp.scripts.cli import add_data_options, check_data_options, fail
from mnist_mlp.scripts.cli import parser as make_parser

from .targets import Target, Verdicts, add_check_option

REPO = Path(__file__).resolve().parents[1]
TARGETS = {
    "floor": Target("<=", 1.7, "x"),  # our epoch over the GEMM floor's
    "torch": Target("<=", 0.6, "x"),  # our epoch over PyTorch CPU's
    "augmented": Target("<=", 2, "x"),  # our epoch with augmentation over without
    "peak_mb": Target("<", 500, " MB"),  # our peak RSS
}
FLOOR_MOONSHOT = 1.3  # printed beside the floor target, not checked
NAMES = ("numpy", "numpy-augmented", "gemm-floor", "torch", "numpy-baseline")
TRAINING_IMAGES = 60_000
# the longest wait for one answer of a contender (its start-up included) before it is killed and failed
ANSWER_TIMEOUT_S = 600
PROBE_TIMEOUT_S = 60  # the longest wait for `PY -c "import ..."` of --torch-python / --baseline-python
PROBES = {"torch_python": "numpy, torch", "baseline_python": "numpy, mnist_mlp"}


def parse_args(argv=None):
    parser = make_parser("bench-train", __doc__)
    add_data_options(parser)
    parser.add_argument("--epochs", type=int, default=10, help="timed rounds: epochs per contender")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / OpenMP threads of every contender")
    parser.add_argument("--torch-python", help="a Python with PyTorch for the torch contender")
    parser.add_argument(
        "--baseline-python", help="a Python whose mnist_mlp is another checkout: its epoch as numpy-baseline"
    )
    add_check_option(parser)
    args = parser.parse_args(argv)
    check_data_options(parser, args)
    for option in ("epochs", "batch_size", "threads"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.batch_size > TRAINING_IMAGES:
        parser.error(f"--batch-size must be <= {TRAINING_IMAGES} (the training images)")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        parser.error("--lr must be positive and finite")
    for option, modules in PROBES.items():
        python = getattr(args, option)
        if python is None:
            continue
        flag = f"--{option.replace('_', '-')} {python}"
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            parser.error(f"{flag}: no such program")
        problem = probe(python, modules)
        if problem:
            parser.error(f"{flag}: {problem}")
    return args


def probe(python, modules):
    """None if `python -c "import <modules>"` works within PROBE_TIMEOUT_S, else why not, in a few words."""
    code = f"import {modules}; print('probe ok')"  # the whole line checked: /bin/echo, echoing, fails
    try:
        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return f"`import {modules}` gave no answer within {PROBE_TIMEOUT_S:g} s"
    except OSError as exc:
        return f"cannot run: {exc.strerror or exc}"
    if done.returncode == 0 and done.stdout.strip() == "probe ok":
        return None
    last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    return f"is not a Python that can `import {modules}` ({last})"


class Contender:
    """A child process running train_contenders NAME, one JSON line per command."""

    def __init__(self, name, python, args, data):
        command = [
            python, "-m", "benchmarks.train_contenders", name, "--data", str(data), "--lr", str(args.lr),
            "--batch-size", str(args.batch_size), "--threads", str(args.threads),
        ]  # fmt: skip
        env = dict(os.environ)  # the child sets its thread pool from --threads before importing NumPy
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.name = name
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.error = None
        self.pending = b""  # what was read from the child's stdout past the last whole line
        line = self.readline()
        if line == "":
            self.fail()
        elif line is not None and line != "ready":
            self.fail(f"said {line[:80]!r} instead of ready")

    def readline(self):
        """The child's next line on stdout, without its newline, "" at its end; after
        ANSWER_TIMEOUT_S without a whole line, the child is killed, failed, and None returned."""
        fd = self.process.stdout.fileno()  # read raw: select sees the pipe, not a Python buffer
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.fail(f"no answer within {ANSWER_TIMEOUT_S:g} s")
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                line, self.pending = self.pending, b""
                return line.decode(errors="replace").strip()
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def ask(self, command):
        """The child's JSON answer to `command`, or None once it has failed."""
        if self.error:
            return None
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except OSError:  # it is gone: say why it ended
            self.fail()
            return None
        line = self.readline()
        if not line:  # None: no answer in time, already failed; "": its stdout ended
            if line == "":
                self.fail()
            return None
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self.fail(f"answered {line[:80]!r}, not a JSON object")
            return None
        if "error" in answer:
            self.error = answer["error"]
            return None
        return answer

    def fail(self, reason=None):
        """Kill the child and keep why it failed: `reason`, else its signal, last line on stderr or status."""
        exited = self.process.poll()
        if exited is None and reason is None:
            try:  # its stdout ended or spoke nonsense: give a dying child a moment to be reaped
                exited = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if exited is None:
            self.process.kill()
            self.process.wait()
        lines = self.process.stderr.read().strip().splitlines()
        if reason is None and exited is not None and exited < 0:
            reason = f"killed by signal {-exited}{signal_name(-exited)}"
        elif reason is None and lines:
            reason = lines[-1]
        elif reason is None and exited is not None:
            reason = f"exited with status {exited} without a word"
        self.error = reason or "stopped answering and was killed"

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def signal_name(number):
    try:
        return f" ({signal.Signals(number).name})"
    except ValueError:
        return ""


def torch_python(args):
    """The interpreter for the torch contender, or None: --torch-python, else this one if it has torch."""
    if args.torch_python:
        return args.torch_python
    return sys.executable if importlib.util.find_spec("torch") else None


def measure(names, args, data):
    """{name: {"wall": [s], "cpu": [s], "accuracy", "peak_mb"} or {"error": why}}, and the load
    averages (1, 5, 15 min) before and after, from interleaved rounds of one epoch each on the
    MNIST arrays in `data` (write_arrays)."""
    pythons = {name: sys.executable for name in names}
    if "torch" in names:
        pythons["torch"] = torch_python(args)
    if "numpy-baseline" in names:
        pythons["numpy-baseline"] = args.baseline_python
    load_before = os.getloadavg()
    contenders = {}
    try:
        for name in names:
            print(f"starting {name}...", file=sys.stderr, flush=True)
            contenders[name] = Contender(name, pythons[name], args, data)
        results = {name: {"wall": [], "cpu": []} for name in names}
        for round_ in range(args.epochs + 1):  # round 0: the untimed warm-up
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                figures = contenders[name].ask("epoch")
                if figures and round_:
                    results[name]["wall"].append(figures["wall"])
                    results[name]["cpu"].append(figures["cpu"])
            print(f"round {round_}/{args.epochs} done", file=sys.stderr, flush=True)
        load_after = os.getloadavg()
        for name, contender in contenders.items():
            final = contender.ask("done")
            results[name] = {"error": contender.error} if final is None else {**results[name], **final}
    finally:
        for contender in contenders.values():
            contender.close()
    return results, (load_before, load_after)


def main(argv=None):
    args = parse_args(argv)
    names = list(NAMES[:3])
    if torch_python(args):
        names.append("torch")
    if args.baseline_python:
        names.append("numpy-baseline")
    try:
        arrays = load_mnist(args.data_dir, args.data_home)
    except (DataUnavailable, IDXError) as exc:
        fail(exc)
    with tempfile.TemporaryDirectory(prefix="bench_train.") as folder:
        results, load = measure(names, args, write_arrays(arrays, Path(folder)))
    status = report(results, args, load).exit_status(args.check)
    failed = {name: r["error"] for name, r in results.items() if "error" in r}
    for name, reason in failed.items():  # after every figure: a run with a contender missing is no run
        print(f"error: {name} failed: {reason}", file=sys.stderr)
    return 1 if failed else status


def write_arrays(arrays, folder):
    """MNIST's (x_train, y_train, x_test, y_test) as the .npz every contender reads; its path."""
    x, y, x_test, y_test = arrays
    path = folder / "mnist.npz"
    np.savez(path, x=x, y=y.astype(np.int64), x_test=x_test, y_test=y_test.astype(np.int64))
    return path


def report(results, args, load=None):
    """Print the table and every ratio, the targeted ones with their verdicts; the Verdicts."""
    print(
        f"\n784-128-64-10, Adam lr {args.lr}, batch {args.batch_size}, float32, 60,000 images/epoch, "
        f"{args.epochs} interleaved epochs each; {os.cpu_count()} CPUs, {args.threads} BLAS thread(s)"
    )
    if load is not None:
        before, after = (" ".join(f"{x:.2f}" for x in avg) for avg in load)
        print(f"load average (1, 5, 15 min): {before} before, {after} after")
    print(f"{'':18}{'wall s/epoch':>14}{'CPU s/epoch':>13}{'peak RSS MB':>13}{'test acc':>10}")
    walls, cpus = {}, {}
    for name, r in results.items():
        if "error" in r:
            print(f"{name:18}failed: {r['error']}")
            continue
        walls[name], cpus[name] = statistics.median(r["wall"]), statistics.median(r["cpu"])
        accuracy = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}%"
        print(f"{name:18}{walls[name]:>14.3f}{cpus[name]:>13.3f}{r['peak_mb']:>13.0f}{accuracy:>10}")
    print("(medians)\n")
    # A contender that failed leaves NaN in its ratios, and NaN meets no target.
    ours, ours_cpu = walls.get("numpy", math.nan), cpus.get("numpy", math.nan)
    verdicts = Verdicts()
    floor = ours / walls.get("gemm-floor", math.nan)
    floor_cpu = ours_cpu / cpus.get("gemm-floor", math.nan)
    figure = f"{times(floor)} (moonshot {FLOOR_MOONSHOT:g}x; CPU {times(floor_cpu)})"
    verdicts.report("numpy / GEMM floor", figure, floor, TARGETS["floor"])
    if "torch" in results:
        torch = ours / walls.get("torch", math.nan)
        torch_cpu = ours_cpu / cpus.get("torch", math.nan)
        verdicts.report("numpy / torch", f"{times(torch)} (CPU {times(torch_cpu)})", torch, TARGETS["torch"])
    else:
        print("numpy / torch: skipped (no PyTorch here and no --torch-python)")
    if "numpy-baseline" in results:
        baseline = ours / walls.get("numpy-baseline", math.nan)
        baseline_cpu = ours_cpu / cpus.get("numpy-baseline", math.nan)
        print(f"numpy / numpy-baseline: {times(baseline)} (CPU {times(baseline_cpu)})")
    augmented = walls.get("numpy-augmented", math.nan) / ours
    verdicts.report("augmented / plain", times(augmented), augmented, TARGETS["augmented"])
    peak = results.get("numpy", {}).get("peak_mb", math.nan)
    verdicts.report("numpy peak RSS", measured(peak, "{:.0f} MB"), peak, TARGETS["peak_mb"])
    return verdicts


def times(ratio):
    return measured(ratio, "{:.2f}x")


def measured(value, form):
    return form.format(value) if math.isfinite(value) else "not measured"


if __name__ == "__main__":
    raise SystemExit(main())
