"""What ?explain=1 costs: the extra time per image, in process, against the plain answer.

    python -m mnist_mlp.scripts.bench_explain [--rounds 2000] [--data-dir DIR]

Times the work /predict does for one image beyond HTTP and Flask, with and without the
explanation, in alternating rounds so that the machine's drift falls on both alike:
- plain: preprocess the PNG, Classifier.answers, the JSON of the answer;
- explained: the same, then Classifier.explanations, the two heatmaps and their JSON.
Both PNGs of bench_service are used (an MNIST test digit at 28x28, the page's drawing), and a
batch of 16 prepared inputs for the cost per image in a batch. Prints medians and the extra
cost per image against the target (<= 1 ms).
"""

import json
import time

import numpy as np

from ..data.imaging.heatmap import add_heatmaps
from ..data.imaging.preprocess import preprocess
from ..model import DEFAULT_WEIGHTS, Classifier
from .bench_service import sample_pngs, verdict
from .cli import add_data_options, parser

TARGET_EXTRA_MS = 1.0
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
    args = cli.parse_args(argv)
    clf = Classifier(DEFAULT_WEIGHTS)
    pngs, _ = sample_pngs(args.data_dir, args.data_home)
    for name, png in pngs.items():
        without, with_ = alternating_medians_ms(
            args.rounds,
            lambda png=png: plain(clf, preprocess(png)[None, :]),
            lambda png=png: explained(clf, preprocess(png)[None, :]),
        )
        report(name, without, with_, images=1)
    batch = np.repeat(preprocess(pngs["mnist28"])[None, :], BATCH, axis=0)
    without, with_ = alternating_medians_ms(
        max(1, args.rounds // 10), lambda: plain(clf, batch), lambda: explained(clf, batch)
    )
    report(f"batch of {BATCH} prepared inputs", without, with_, images=BATCH)


def report(label, without, with_, images):
    extra = (with_ - without) / images
    print(
        f"{label}: plain {without:.3f} ms, explained {with_:.3f} ms median; extra {extra:.3f} ms per image  "
        f"{verdict(extra <= TARGET_EXTRA_MS)} (<= {TARGET_EXTRA_MS:g} ms)"
    )


if __name__ == "__main__":
    main()
