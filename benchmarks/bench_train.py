"""Training speed, side by side: our NumPy loop, its GEMM floor, PyTorch CPU and scikit-learn's MLPClassifier.

    python -m benchmarks.bench_train --data-dir ../shared/mnist --epochs 10 [--check]

Each contender trains the same 784-128-64-10 ReLU network with Adam, batch 128, float32,
on the 60,000 training images, in its own subprocess (so peak memory is its own and
thread pools do not interfere), then reports seconds per epoch, peak RSS and test
accuracy. The GEMM floor is an epoch of the eight matrix products a training step needs and
nothing else: no training loop can be faster on this machine. PyTorch runs only where it is
installed (the `bench` extra, in its own environment: its wheel is large). Prints a table and
the ratios, with PASS/MISS against the targets (TARGETS); with --check, exits 1 when one is
missed.
"""

import argparse
import importlib.util
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from mnist_mlp.scripts.cli import parser as make_parser

from .targets import Target, Verdicts, add_check_option

HIDDEN = (128, 64)
TARGETS = {
    "floor": Target("<=", 1.7, "x"),  # our epoch over the GEMM floor's
    "torch": Target("<=", 0.6, "x"),  # our epoch over PyTorch CPU's
    "augmented": Target("<=", 2, "x"),  # our epoch with augmentation over without
    "peak_mb": Target("<", 500, " MB"),  # our peak RSS
}
FLOOR_MOONSHOT = 1.3  # printed beside the floor target, not checked


def parse_args(argv=None):
    parser = make_parser("bench-train", __doc__)
    parser.add_argument("--data-dir", help="MNIST IDX folder (default: $MNIST_DATA_DIR, else OpenML)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per contender")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    add_check_option(parser)
    parser.add_argument("--only", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_numpy(x, y, x_test, y_test, args, augment=None):
    from mnist_mlp.model import MLP
    from mnist_mlp.model.training import TrainConfig, evaluate, fit

    model = MLP(seed=0)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule="constant")
    result = fit(model, x, y, config, augment=augment)
    return [h["seconds"] for h in result.history], evaluate(model, x_test, y_test)[1]


def run_numpy_augmented(x, y, x_test, y_test, args):
    from mnist_mlp.data.synth.augment import Augmenter

    return run_numpy(x, y, x_test, y_test, args, augment=Augmenter())


def run_gemm_floor(x, y, x_test, y_test, args):
    """Seconds per epoch of the eight float32 GEMMs of each training step alone, np.matmul into
    buffers allocated once; no accuracy (nothing learns).

    forward   a1 = x @ W1, a2 = a1 @ W2, z = a2 @ W3                          (3 GEMMs)
    backward  dW3 = a2.T @ dz, da2 = dz @ W3.T, dW2 = a1.T @ da2,
              da1 = da2 @ W2.T, dW1 = x.T @ da1                                (5 GEMMs)

    No gather (batches are contiguous slices), bias, ReLU, loss or update, and a fixed dz.
    """
    sizes = (x.shape[1], *HIDDEN, 10)
    shapes = list(zip(sizes[:-1], sizes[1:]))  # (784, 128), (128, 64), (64, 10)
    rng = np.random.default_rng(0)
    weights = [(rng.standard_normal(shape) * np.sqrt(2 / shape[0])).astype(np.float32) for shape in shapes]
    inputs = x.astype(np.float32)
    inputs *= 1 / 255
    starts = range(0, len(inputs), args.batch_size)
    batch_sizes = {len(inputs[start : start + args.batch_size]) for start in starts}
    buffers = {size: gemm_buffers(size, shapes, rng) for size in batch_sizes}
    seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        for start in starts:
            batch = inputs[start : start + args.batch_size]
            gemm_step(batch, weights, *buffers[len(batch)])
        seconds.append(time.perf_counter() - started)
    return seconds, None


def gemm_buffers(batch, shapes, rng):
    """(outputs, output gradients, weight gradients) of each layer for one batch size; the last
    layer's output gradient stands for the loss's."""
    outputs = [np.empty((batch, n_out), np.float32) for _, n_out in shapes]  # (B, 128), (B, 64), (B, 10)
    deltas = [np.empty_like(out) for out in outputs]
    deltas[-1][:] = rng.standard_normal(deltas[-1].shape) * 0.1
    grads = [np.empty(shape, np.float32) for shape in shapes]
    return outputs, deltas, grads


def gemm_step(batch, weights, outputs, deltas, grads):
    layer_inputs = [batch, *outputs[:-1]]
    for a, w, out in zip(layer_inputs, weights, outputs):
        np.matmul(a, w, out=out)
    for i in reversed(range(len(weights))):
        np.matmul(layer_inputs[i].T, deltas[i], out=grads[i])
        if i:
            np.matmul(deltas[i], weights[i].T, out=deltas[i - 1])


def run_torch(x, y, x_test, y_test, args):
    import torch

    torch.manual_seed(0)
    sizes = (x.shape[1], *HIDDEN, 10)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    # the same on-the-fly uint8 -> [0, 1] scaling per batch as our loop
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        order = torch.randperm(len(xs), generator=generator)
        for start in range(0, len(xs), args.batch_size):
            idx = order[start : start + args.batch_size]
            batch = xs[idx].to(torch.float32).mul_(1 / 255)
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(batch), ys[idx]).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - started)
    with torch.no_grad():
        predicted = net(torch.from_numpy(x_test).float() / 255).argmax(1).numpy()
    return seconds, float((predicted == y_test).mean())


def run_sklearn(x, y, x_test, y_test, args):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        HIDDEN,
        solver="adam",
        batch_size=args.batch_size,
        learning_rate_init=args.lr,
        max_iter=args.epochs,
        shuffle=True,
        random_state=0,
        tol=0,
    )
    x_float = (x / 255).astype(np.float32)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # it stops at max_iter by design
        clf.fit(x_float, y)
    # one fit over all epochs (refitting per epoch with warm_start costs it ~10x more): mean per epoch
    per_epoch = (time.perf_counter() - started) / args.epochs
    return [per_epoch] * args.epochs, float(clf.score((x_test / 255).astype(np.float32), y_test))


CONTENDERS = {
    "numpy": run_numpy,
    "numpy-augmented": run_numpy_augmented,
    "gemm-floor": run_gemm_floor,
    "torch": run_torch,
    "sklearn": run_sklearn,
}


def worker(args):
    from mnist_mlp.data.mnist import load_mnist

    x, y, x_test, y_test = load_mnist(args.data_dir)
    baseline_mb = peak_rss_mb()
    seconds, accuracy = CONTENDERS[args.only](x, y, x_test, y_test, args)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "accuracy": accuracy,
                "peak_mb": peak_rss_mb(),
                "data_mb": baseline_mb,
            }
        )
    )


def measure(name, args):
    command = [
        sys.executable,
        "-m",
        __spec__.name,
        "--only",
        name,
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--lr",
        str(args.lr),
    ]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.only:
        worker(args)
        return 0
    names = ["numpy", "numpy-augmented", "gemm-floor"]
    names += ["torch"] if importlib.util.find_spec("torch") else []
    names += ["sklearn"] if importlib.util.find_spec("sklearn") else []
    results = {}
    for name in names:
        print(f"running {name} ({args.epochs} epochs)...", file=sys.stderr, flush=True)
        results[name] = measure(name, args)
    return report(results, args).exit_status(args.check)


def report(results, args):
    """Print the table and every ratio, the targeted ones with their verdicts; the Verdicts."""
    print(
        f"\n784-128-64-10, Adam lr {args.lr}, batch {args.batch_size}, float32, 60,000 images/epoch, "
        f"{args.epochs} epochs; {os.cpu_count()} CPUs"
    )
    print(f"{'':18}{'s/epoch (median)':>18}{'peak RSS MB':>13}{'test acc':>10}")
    medians = {}
    for name, r in results.items():
        if "error" in r:
            print(f"{name:18}failed: {r['error']}")
            continue
        medians[name] = statistics.median(r["seconds"])
        accuracy = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}%"
        print(f"{name:18}{medians[name]:>18.3f}{r['peak_mb']:>13.0f}{accuracy:>10}")
    print()
    # A contender that failed leaves NaN in its ratios, and NaN meets no target.
    ours = medians.get("numpy", math.nan)
    verdicts = Verdicts()
    floor = ours / medians.get("gemm-floor", math.nan)
    figure = f"{times(floor)} (moonshot {FLOOR_MOONSHOT:g}x)"
    verdicts.report("numpy / GEMM floor", figure, floor, TARGETS["floor"])
    if "torch" in results:
        torch = ours / medians.get("torch", math.nan)
        verdicts.report("numpy / torch", times(torch), torch, TARGETS["torch"])
    else:
        print("numpy / torch: skipped (PyTorch not installed; `pip install .[bench]` in its own environment)")
    if "sklearn" in medians:
        print(f"numpy / sklearn: {times(ours / medians['sklearn'])}")
    augmented = medians.get("numpy-augmented", math.nan) / ours
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
