"""mnist-train --feedback: train on the corrections people sent, without letting a flood of wrong ones in.

Anyone can send a correction, so each layer stops what the one before it lets through:
1. review: only corrections a person approved (`mnist-feedback review`, `approve`) are used;
   --feedback-unreviewed adds the pending ones, never the rejected;
2. curation (data/feedback_set.py): near-identical images count once, and not at all when their
   labels disagree; each client key contributes at most --feedback-per-source corrections;
3. an honest held-out set: the newest --feedback-holdout share of what is left, never trained
   on; with the near-duplicates gone, no held-out correction is a copy of a training one;
4. a gate: the new weights must read each digit of the MNIST validation split, of digits drawn
   on the page and of typeset and scanned digits about as well as the --feedback-baseline
   weights (the shipped ones by default); otherwise nothing is written, and one line says
   which digit got worse, where. --no-feedback-gate skips it for a change that is wanted.
The held-out accuracy says whether the corrections were learnt; the gate says whether anything
else was unlearnt, which is what a poisoning does. The rest of the training corrections are
repeated --feedback-weight times, so a few hundred weigh against tens of thousands of digits.
"""

import argparse
import dataclasses
import math
from pathlib import Path

import numpy as np

from ..data.digit_styles import DIGIT_STYLES, PAGE_HEIGHTS, rendered_digits
from ..data.feedback_set import NoCorrections, curate, is_database, load_corrections
from ..data.feedback_store import BadRow, StoreUnavailable
from ..data.idx import IDXError
from ..data.preprocess import NoDigitFound, preprocess
from ..data.render import encode
from ..model import DEFAULT_WEIGHTS, WeightsError, load_weights
from ..model.contract import CLASSES
from ..model.training import logits_of
from .cli import fail

PAGE_STYLES = (*PAGE_HEIGHTS, "hand_drawn")  # as drawn on the page and exported by it
OTHER_STYLES = tuple(s for s in DIGIT_STYLES if s not in PAGE_STYLES)
# name -> (styles, images per style)
GATE_SETS = {"digits drawn on the page": (PAGE_STYLES, 50), "typeset and scanned digits": (OTHER_STYLES, 20)}
GATE_SEED = 1  # the rendered sets' seed: not eval_rendered's default (0), whose samples it reports
GATE_TOLERANCE = 0.02  # a digit's accuracy may always drop this much
GATE_SIGMAS = 3  # and as much as three standard errors of the difference, on small sets


@dataclasses.dataclass(frozen=True)
class FeedbackSplit:
    x_train: np.ndarray  # uint8 (N, 784), already repeated --feedback-weight times
    y_train: np.ndarray
    x_held: np.ndarray
    y_held: np.ndarray
    baseline: object  # the --feedback-baseline MLP
    info: dict  # for the metadata


def add_options(parser):
    parser.add_argument(
        "--feedback", metavar="DB_OR_DIR", help="corrections to train on: a FEEDBACK_DB or an export folder"
    )
    parser.add_argument(
        "--feedback-unreviewed", action="store_true", help="the pending corrections too, not only approved"
    )
    parser.add_argument(
        "--feedback-per-source", type=int, default=100, help="corrections one client may contribute"
    )
    parser.add_argument(
        "--feedback-weight", type=int, default=5, help="times each training correction is used"
    )
    parser.add_argument(
        "--feedback-holdout",
        type=float,
        default=0.25,
        help="share of the corrections (the newest) held out",
    )
    parser.add_argument(
        "--feedback-baseline",
        type=Path,
        default=DEFAULT_WEIGHTS,
        help="weights the new ones must match",
    )
    parser.add_argument(
        "--feedback-gate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write nothing when a digit reads worse than with the baseline weights",
    )


def check_options(parser, args):
    if args.feedback_weight < 1 or args.feedback_per_source < 1 or not 0 < args.feedback_holdout < 1:
        parser.error(
            "--feedback-weight and --feedback-per-source must be at least 1, "
            "--feedback-holdout between 0 and 1 (exclusive)"
        )


def load(args):
    """The FeedbackSplit of --feedback, or None without it; one line and exit when it cannot be used."""
    if not args.feedback:
        return None
    statuses = ("approved", "pending") if args.feedback_unreviewed else ("approved",)
    try:
        found = load_corrections(args.feedback, statuses)
        if not len(found) and is_database(args.feedback) and not args.feedback_unreviewed:
            pending = len(load_corrections(args.feedback, ("pending",)))
            fail(
                f"{args.feedback}: no approved corrections ({pending} pending): review them with "
                "`mnist-feedback review`, or add --feedback-unreviewed"
            )
        baseline, _ = load_weights(args.feedback_baseline)
    except (NoCorrections, StoreUnavailable, BadRow, IDXError, WeightsError) as exc:
        fail(exc)
    kept, curation = curate(found, args.feedback_per_source)
    held = round(len(kept) * args.feedback_holdout)
    if held < 1 or held == len(kept):
        dropped = len(found) - len(kept)
        why = f" (of {len(found)}: {_dropped(curation)})" if dropped else ""
        too_few = "are too few to hold some out and train on the rest"
        fail(f"{args.feedback}: {len(kept)} corrections{why} {too_few}")
    trained, kept_out = np.arange(len(kept) - held), np.arange(len(kept) - held, len(kept))  # oldest first
    info = {
        "source": str(args.feedback),
        "statuses": list(statuses),
        "curation": curation,
        "corrections": len(kept),
        "held_out": held,
        "held_out_first_id": int(kept.ids[kept_out].min()),
        "trained": len(trained),
        "weight": args.feedback_weight,
        "per_source": args.feedback_per_source,
        "baseline": str(args.feedback_baseline),
    }
    repeated = np.tile(trained, args.feedback_weight)
    return FeedbackSplit(
        kept.images[repeated],
        kept.labels[repeated],
        kept.images[kept_out],
        kept.labels[kept_out],
        baseline,
        info,
    )


def _dropped(curation):
    parts = {
        "near_duplicates": "near-duplicates",
        "conflicting_labels": "with conflicting labels",
        "over_source_cap": "over the per-source cap",
    }
    return ", ".join(f"{curation[key]} {words}" for key, words in parts.items() if curation[key])


def with_feedback(split, x_train, y_train):
    """The training set with the split's training corrections appended."""
    if split is None:
        return x_train, y_train
    return np.concatenate([x_train, split.x_train]), np.concatenate(
        [y_train, split.y_train.astype(y_train.dtype)]
    )


def gate(split, model, x_val, y_val, args):
    """Each gate set's accuracy before and after, per digit; one line and exit, writing nothing,
    when a digit reads worse than chance allows. None without --feedback or with --no-feedback-gate."""
    if split is None or not args.feedback_gate:
        return None
    report = {}
    for name, (x, y) in {"MNIST validation split": (x_val, y_val), **drawn_digits()}.items():
        before, after = _per_digit(split.baseline, x, y), _per_digit(model, x, y)
        report[name] = {"n": len(y), "before": before["all"], "after": after["all"]}
        for digit in [*range(CLASSES), "all"]:
            n = int((y == digit).sum()) if digit != "all" else len(y)
            drop = before[digit] - after[digit]
            if n and drop > _allowed_drop(before[digit], after[digit], n):
                what = f"{digit}s" if digit != "all" else "digits"
                fail(
                    f"refused: the new weights read {what} worse than {args.feedback_baseline} on the {name} "
                    f"(accuracy {before[digit]:.2f} -> {after[digit]:.2f}, {n} digits); "
                    f"{args.out} not written (--no-feedback-gate writes them anyway)"
                )
    return report


def _allowed_drop(before, after, n):
    """GATE_TOLERANCE, or GATE_SIGMAS standard errors of the difference of two accuracies on n digits."""
    return max(GATE_TOLERANCE, GATE_SIGMAS * math.sqrt((before * (1 - before) + after * (1 - after)) / n))


def _per_digit(model, x, y):
    right = logits_of(model, x).argmax(axis=1) == y
    shares = {d: float(right[y == d].mean()) if (y == d).any() else 0.0 for d in range(CLASSES)}
    return {**shares, "all": float(right.mean())}


def drawn_digits():
    """name -> (float32 (N, 784) network inputs, labels) of the project's rendered digit styles,
    through the service's own preprocess (a digit it refuses is left out)."""
    sets = {}
    for name, (styles, per_style) in GATE_SETS.items():
        inputs, labels = [], []
        for sample in rendered_digits(per_style, GATE_SEED, styles):
            try:
                inputs.append(preprocess(encode(sample)))
            except NoDigitFound:
                continue
            labels.append(sample.label)
        sets[name] = (np.array(inputs, dtype=np.float32), np.array(labels, dtype=np.int64))
    return sets


def measure(split, model, gated):
    """The split's info with the held-out accuracy of the baseline weights and of `model`, and the gate's."""
    if split is None:
        return None
    return {
        **split.info,
        "held_out_accuracy_before": _accuracy(split.baseline, split.x_held, split.y_held),
        "held_out_accuracy_after": _accuracy(model, split.x_held, split.y_held),
        "gate": gated,
    }


def _accuracy(model, x, y):
    return round(float((logits_of(model, x).argmax(axis=1) == y).mean()), 4)
