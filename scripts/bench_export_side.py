"""Why the drawing page sends a 56 px PNG: accuracy and decode time by export size.

    python -m mnist_mlp.scripts.bench_export_side [--per-height 200] [--sides 28,42,56,112]

Draws digits as a mouse draws them on the page (the pen templates of data/synth/digit_styles.py,
each with its own hand) at the three heights the evaluation uses, and exports the same
strokes at each side as the page would (data/render.page_export). Each PNG goes through
the service's preprocess and the classifier. Prints, for each side, the share read right
and the share flagged "not sure" at each height, and the median time preprocess takes.
"""

import time

import numpy as np

from ..data.imaging.preprocess import preprocess
from ..data.imaging.preview import png_bytes
from ..data.synth.digit_styles import PAGE_HEIGHTS, page_strokes
from ..data.synth.render import page_export
from ..model import DEFAULT_WEIGHTS, Classifier
from .cli import fail, parser


def parse_args(argv=None):
    cli = parser("bench_export_side", __doc__)
    cli.add_argument("--per-height", type=int, default=200, help="digits drawn at each height")
    cli.add_argument("--sides", default="28,42,56,112", help="export sides to compare, in px")
    cli.add_argument("--seed", type=int, default=0, help="seed of the drawings")
    args = cli.parse_args(argv)
    try:
        args.sides = [int(side) for side in args.sides.split(",")]
    except ValueError:
        fail(f"--sides takes whole numbers separated by commas, not {args.sides!r}", 2)
    if args.per_height < 1 or min(args.sides) < 28:
        fail("--per-height must be at least 1 and every side at least 28 px", 2)
    return args


def drawings(per_height, seed):
    """[(height style, label, polylines)]: `per_height` digits at each page height, labels in turn."""
    rng = np.random.default_rng(seed)
    return [
        (style, n % 10, page_strokes(rng, n % 10, style)[0])
        for style in PAGE_HEIGHTS
        for n in range(per_height)
    ]


def measure(classifier, strokes, side):
    """{style: (right, not sure)} shares and the median preprocess milliseconds at one export side."""
    blobs = [png_bytes(np.asarray(page_export(lines, side))) for _, _, lines in strokes]
    inputs, times = [], []
    for blob in blobs:
        started = time.perf_counter()
        inputs.append(preprocess(blob))
        times.append(time.perf_counter() - started)
    answers = classifier.answers(np.stack(inputs))
    shares = {}
    for style in PAGE_HEIGHTS:
        mine = [(a, label) for a, (s, label, _) in zip(answers, strokes) if s == style]
        right = np.mean([a["digit"] == label for a, label in mine])
        shares[style] = (right, np.mean([a["uncertain"] for a, _ in mine]))
    return shares, 1000 * float(np.median(times))


def main(argv=None):
    args = parse_args(argv)
    classifier = Classifier(DEFAULT_WEIGHTS)
    strokes = drawings(args.per_height, args.seed)
    heights = "  ".join(f"{style:>17}" for style in PAGE_HEIGHTS)
    print(f"{len(strokes)} drawings; each height: right / not sure")
    print(f"{'side':>5}  {heights}  preprocess (median)")
    for side in args.sides:
        shares, ms = measure(classifier, strokes, side)
        cells = "  ".join(f"{right:>8.1%} / {unsure:>5.1%}" for right, unsure in shares.values())
        print(f"{side:>4}px  {cells}  {ms:.2f} ms")


if __name__ == "__main__":
    main()
