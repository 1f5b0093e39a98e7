"""Run one of the lab's experiments without the page, and print what its views would show.

    python -m mnist_mlp.lab.experiment sigmoid-x5 --data-dir ../shared/mnist

The runs are the lab's own (lab/runs.py), trained side by side as the page starts them;
for each, the figures of its first and last history points, labelled. docs/how-it-works.md
quotes them.
"""

import argparse
import os
import sys

from .__main__ import BLAS_THREADS
from .experiments import EXPERIMENTS

BY_KEY = {experiment.key: experiment for experiment in EXPERIMENTS}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m mnist_mlp.lab.experiment", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "experiment", choices=sorted(BY_KEY), help="the experiment's key, as in the lab's links"
    )
    parser.add_argument(
        "--data-dir", help="folder with the four MNIST IDX files (default: $MNIST_DATA_DIR, else OpenML)"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for variable in BLAS_THREADS:
        os.environ.setdefault(variable, "1")
    from ..data import DataUnavailable, IDXError  # NumPy loads here, after the BLAS variables
    from .dataset import load
    from .runs import Runs
    from .settings import BadSetting, parse_settings

    experiment = BY_KEY[args.experiment]
    try:
        data = load(args.data_dir)
        settings = [parse_settings(given, len(data.x_pool)) for given in experiment.runs]
    except (DataUnavailable, IDXError, BadSetting) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{experiment.key}: {experiment.title}")
    runs = Runs(data)
    started = [runs.start(s) for s in settings]
    for run in started:
        run.thread.join()
        print(describe(run))
    return 0


def describe(run):
    """A run's settings, how it ended, and its first and last points, one labelled figure a line."""
    s = run.settings
    points = run.history.since(0)
    lines = [
        f"run {run.id}: {'-'.join(map(str, s.layer_sizes))} {s.activation}, {s.init} init, {s.optimizer} "
        f"lr {s.lr:g}, batch {s.batch_size}, {s.epochs} epochs on {s.train_size} images: {run.state}",
        f"  {run.message}",
    ]
    for label, point in (("first", points[0]), ("last", points[-1])) if points else ():
        norms = " ".join(f"{n:.2g}" for n in point["grad_norms"])
        dead = " ".join(f"{100 * d:.0f} %" for d in point["dead_units"]) or "none"
        accuracies = (
            f"validation accuracy {point['val_accuracy']:.3f}, training {point['train_accuracy']:.3f}"
        )
        lines += [
            f"  {label} point, step {point['step']}: loss {point['loss']:.3g}, {accuracies}",
            f"    gradient norm of each weight layer, first to last: {norms}",
            f"    dead units in each hidden layer: {dead}",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
