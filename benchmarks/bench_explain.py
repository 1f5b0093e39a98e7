"""What ?explain=1 costs: the extra time per image, in process, against the plain answer.

    python -m benchmarks.bench_explain [--rounds 2000] [--data-dir DIR] [--check]

Times the work /predict does for one image beyond HTTP and Flask, with and without the
explanation, in alternating rounds so that the machine's drift falls on both alike:
- plain: preprocess the PNG, Classifier.answers, the JSON of the answer;
- explained: the same, then Classifier.explanations, the two heatmaps and their JSON.
Both PNGs of bench_service are used (an MNIST test digit at 28x28, the page's drawing), and a
batch of 16 prepared inputs for the cost per image in a batch. Prints medians and the extra
cost per image with PASS/MISS against its target (TARGET_EXTRA_MS). With --check, exits 1 when
it is missed.
"""

import json
import time

import numpy as np

from mnist_mlp.data.imaging.heatmap import add_heatmaps
from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.model import DEFAULT_WEIGHTS, Classifier
from mnist_mlp.scripts.cli import add_data_options, parser

from .bench_service import sample_pngs
from .targets import Target, Verdicts, add_check_option

TARGET_EXTRA_MS = Target("<=", 1, " ms")  # per image, explained over plain
BATCH = 16


def plain(clf, inputs):
    return json.dumps(clf.answers(inputs))


def explained(clf, inputs):
    answers = clf.answers(inputs)
    for answer, why in zip(answers, add_heatmaps(clf.explanations(inputs), inputs)):
        answer["explanation"] = why
    return json.dumps(answers)


def alternating_medians_ms(rounds, *jobs):
    """Median ms of each job, run one after the other in every round."""
    for job in jobs:
        job()  # warm caches and lazy imports
    times = np.empty((rounds, len(jobs)))
    for r in range(rounds):
        for j, job in enumerate(jobs):
            start = time.perf_counter()
            job()
            times[r, j] = time.perf_counter() - start
    return np.median(times, axis=0) * 1000


def main(argv=None):
    cli = parser("bench_explain", __doc__)
    cli.add_argument("--rounds", type=int, default=2000, help="timed rounds of each job")
    add_data_options(cli)
    add_check_option(cli)
    args = cli.parse_args(argv)
    clf = Classifier(DEFAULT_WEIGHTS)
    pngs, _ = sample_pngs(args.data_dir, args.data_home)
    verdicts = Verdicts()
    for name, png in pngs.items():
        without, with_ = alternating_medians_ms(
            args.rounds,
            lambda png=png: plain(clf, preprocess(png)[None, :]),
            lambda png=png: explained(clf, preprocess(png)[None, :]),
        )
        report(verdicts, name, without, with_, images=1)
    batch = np.repeat(preprocess(pngs["mnist28"])[None, :], BATCH, axis=0)
    without, with_ = alternating_medians_ms(
        max(1, args.rounds // 10), lambda: plain(clf, batch), lambda: explained(clf, batch)
    )
    report(verdicts, f"batch of {BATCH} prepared inputs", without, with_, images=BATCH)
    return verdicts.exit_status(args.check)


def report(verdicts, label, without, with_, images):
    extra = (with_ - without) / images
    figure = f"plain {without:.3f} ms, explained {with_:.3f} ms median; extra {extra:.3f} ms per image"
    verdicts.report(label, figure, extra, TARGET_EXTRA_MS)


if __name__ == "__main__":
    raise SystemExit(main())
