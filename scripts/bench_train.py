"""Training speed, side by side: our NumPy loop, PyTorch CPU and scikit-learn's MLPClassifier.

    python -m mnist_mlp.scripts.bench_train --data-dir ../shared/mnist --epochs 10

Each contender trains the same 784-128-64-10 ReLU network with Adam, batch 128, float32,
on the 60,000 training images, in its own subprocess (so peak memory is its own and
thread pools do not interfere), then reports seconds per epoch, peak RSS and test
accuracy. PyTorch runs only where it is installed (the `bench` extra, in its own
environment: its wheel is large). Prints a table and the ratios to PyTorch; exits 0
whatever the figures: this is a measurement, not a test.
"""

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from .cli import parser as make_parser

HIDDEN = (128, 64)
TARGET_RATIO_TO_TORCH = 0.8
TARGET_SECONDS_PER_EPOCH = 0.6
TARGET_PEAK_MB = 500
TARGET_AUGMENTED_RATIO = 2.0


def parse_args(argv=None):
    parser = make_parser("bench-train", __doc__)
    parser.add_argument("--data-dir", help="MNIST IDX folder (default: $MNIST_DATA_DIR, else OpenML)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per contender")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument(
        "--only", choices=["numpy", "numpy-augmented", "torch", "sklearn"], help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_numpy(x, y, x_test, y_test, args, augment=None):
    from ..model import MLP
    from ..model.training import TrainConfig, evaluate, fit

    model = MLP(seed=0)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule="constant")
    result = fit(model, x, y, config, augment=augment)
    return [h["seconds"] for h in result.history], evaluate(model, x_test, y_test)[1]


def run_numpy_augmented(x, y, x_test, y_test, args):
    from ..data.synth.augment import Augmenter

    return run_numpy(x, y, x_test, y_test, args, augment=Augmenter())


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
    "torch": run_torch,
    "sklearn": run_sklearn,
}


def worker(args):
    from ..data.mnist import load_mnist

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
        return worker(args)
    names = ["numpy", "numpy-augmented"]
    names += ["torch"] if importlib.util.find_spec("torch") else []
    names += ["sklearn"] if importlib.util.find_spec("sklearn") else []
    if "torch" not in names:
        print(
            "PyTorch not installed: install the bench extra in its own environment to compare",
            file=sys.stderr,
        )
    results = {}
    for name in names:
        print(f"running {name} ({args.epochs} epochs)...", file=sys.stderr, flush=True)
        results[name] = measure(name, args)
    report(results, args)


def report(results, args):
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
        print(f"{name:18}{medians[name]:>18.3f}{r['peak_mb']:>13.0f}{100 * r['accuracy']:>9.2f}%")
    if "numpy" not in medians:
        return
    ours = medians["numpy"]
    print()
    if "torch" in medians:
        ratio = ours / medians["torch"]
        verdict = "PASS" if ratio <= TARGET_RATIO_TO_TORCH else "MISS"
        print(f"numpy / torch   = {ratio:.2f}x   (target <= {TARGET_RATIO_TO_TORCH}x)  {verdict}")
    if "sklearn" in medians:
        print(f"numpy / sklearn = {ours / medians['sklearn']:.2f}x")
    if "numpy-augmented" in medians:
        ratio = medians["numpy-augmented"] / ours
        verdict = "PASS" if ratio <= TARGET_AUGMENTED_RATIO else "MISS"
        print(f"augmented / plain = {ratio:.2f}x   (target <= {TARGET_AUGMENTED_RATIO}x)  {verdict}")
    verdict = "PASS" if ours <= TARGET_SECONDS_PER_EPOCH else "MISS"
    print(f"numpy s/epoch   = {ours:.3f} s  (target <= {TARGET_SECONDS_PER_EPOCH} s)  {verdict}")
    peak = results["numpy"]["peak_mb"]
    verdict = "PASS" if peak < TARGET_PEAK_MB else "MISS"
    print(f"numpy peak RSS  = {peak:.0f} MB  (target < {TARGET_PEAK_MB} MB)  {verdict}")


if __name__ == "__main__":
    main()
