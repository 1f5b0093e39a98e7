"""mnist-train --feedback: train on the corrections users sent, and measure on ones it never saw.

A share of the corrections (--feedback-holdout, chosen with the run's seed) is held out and
never trained on; the rest is repeated --feedback-weight times in the training set, so a few
hundred corrections weigh against tens of thousands of MNIST digits. The metrics record the
held-out accuracy before (the --feedback-baseline weights: by default the shipped ones, which
served when the corrections were made) and after (the new weights), next to MNIST's test accuracy.
"""

import dataclasses
from pathlib import Path

import numpy as np

from ..data.feedback_set import NoCorrections, load_corrections
from ..data.feedback_store import StoreUnavailable
from ..data.idx import IDXError
from ..model import DEFAULT_WEIGHTS, WeightsError, load_weights
from ..model.training import logits_of
from .cli import fail


@dataclasses.dataclass(frozen=True)
class FeedbackSplit:
    x_train: np.ndarray  # uint8 (N, 784), already repeated --feedback-weight times
    y_train: np.ndarray
    x_held: np.ndarray
    y_held: np.ndarray
    info: dict  # for the metadata


def add_options(parser):
    parser.add_argument(
        "--feedback", metavar="DB_OR_DIR", help="corrections to train on: a FEEDBACK_DB or an export folder"
    )
    parser.add_argument(
        "--feedback-weight", type=int, default=5, help="times each training correction is used"
    )
    parser.add_argument(
        "--feedback-holdout", type=float, default=0.25, help="share of the corrections never trained on"
    )
    parser.add_argument(
        "--feedback-baseline", type=Path, default=DEFAULT_WEIGHTS, help="weights the 'before' accuracy is of"
    )


def check_options(parser, args):
    if args.feedback_weight < 1 or not 0 < args.feedback_holdout < 1:
        parser.error(
            "--feedback-weight must be at least 1 and --feedback-holdout between 0 and 1 (exclusive)"
        )


def load(args):
    """The FeedbackSplit of --feedback, or None without it."""
    if not args.feedback:
        return None
    try:
        images, labels = load_corrections(args.feedback)
    except (NoCorrections, StoreUnavailable, IDXError) as exc:
        fail(exc)
    held = round(len(labels) * args.feedback_holdout)
    if held < 1 or held == len(labels):
        fail(f"{args.feedback}: {len(labels)} corrections are too few to hold some out and train on the rest")
    order = np.random.default_rng(args.seed).permutation(len(labels))
    kept, trained = order[:held], order[held:]
    info = {
        "source": str(args.feedback),
        "corrections": len(labels),
        "held_out": held,
        "trained": len(trained),
        "weight": args.feedback_weight,
        "baseline": str(args.feedback_baseline),
    }
    repeated = np.tile(trained, args.feedback_weight)
    return FeedbackSplit(images[repeated], labels[repeated], images[kept], labels[kept], info)


def with_feedback(split, x_train, y_train):
    """The training set with the split's training corrections appended."""
    if split is None:
        return x_train, y_train
    return np.concatenate([x_train, split.x_train]), np.concatenate(
        [y_train, split.y_train.astype(y_train.dtype)]
    )


def measure(split, model, baseline_path):
    """The split's info with the held-out accuracy of the baseline weights and of `model`."""
    if split is None:
        return None
    try:
        baseline, _ = load_weights(baseline_path)
    except WeightsError as exc:
        fail(exc)
    return {
        **split.info,
        "held_out_accuracy_before": _accuracy(baseline, split.x_held, split.y_held),
        "held_out_accuracy_after": _accuracy(model, split.x_held, split.y_held),
    }


def _accuracy(model, x, y):
    return round(float((logits_of(model, x).argmax(axis=1) == y).mean()), 4)
