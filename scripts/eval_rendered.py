"""Evaluate weights beyond MNIST: rendered digits by style, and how often non-digits are flagged.

    python -m mnist_mlp.scripts.eval_rendered --data-dir ../shared/mnist --json rendered.json \
        [--weights W] [--per-style 100] [--markdown rendered.md]

Every rendered image (data/synth/digit_styles.py, data/synth/outliers.py) is encoded as PNG or JPEG
(the page drawings as the page's own 56 px export, data/synth/render.py:page_export)
and goes through the service's own path: `data.preprocess.preprocess`, then
`model.Classifier`, whose "uncertain" threshold comes from the weights' metadata. A
NoDigitFound (HTTP 422) counts as "refused": a wrong answer for a digit, a correct
handling of a non-digit. The 10,000 MNIST test digits give the share of real digits
wrongly flagged.

The non-digits are the EVALUATION kinds of data/synth/outliers.py (DejaVu and FreeFont letters,
EVAL_SHAPES, their own seed streams): weights trained with outlier exposure saw only the
disjoint training kinds. The report says whether the weights were trained with outliers
("outlier_exposure").

Writes the JSON report, REPORT.samples.png (ten examples per style: the upload above,
the 28x28 network input below, "label>prediction" in green / red, orange when flagged)
and, with --markdown, the tables for the Results page (docs/results.md).
"""

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ..data.imaging.preprocess import NoDigitFound, PreprocessError, preprocess
from ..data.mnist import DataUnavailable, IDXError, load_mnist
from ..data.synth.digit_styles import DIGIT_STYLES, rendered_digits
from ..data.synth.outliers import (
    EVAL_LETTER_FONT_DIRS,
    EVAL_SHAPES,
    NON_DIGIT_CATEGORIES,
    PLAIN_NON_DIGITS,
    non_digits,
)
from ..data.synth.render import encode
from ..model import DEFAULT_WEIGHTS, Classifier, WeightsError
from ..model.contract import INPUTS, SIDE, as_inputs, to_pixels
from .cli import add_data_options, fail, parser

# issue 17's targets: every style and all styles together, plain non-digits, real digits flagged
TARGETS = {
    "style_accuracy_min": 0.95,
    "rendered_accuracy": 0.97,
    "non_digits_flagged": 0.90,
    "test_digits_flagged_max": 0.03,
}
SHEET_COLUMNS = 10


def parse_args(argv=None):
    cli = parser("eval-rendered", __doc__)
    cli.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file to evaluate")
    add_data_options(cli)
    cli.add_argument("--json", type=Path, default=Path("rendered.json"), help="report to write")
    cli.add_argument(
        "--per-style", type=int, default=100, help="images per digit style and non-digit category"
    )
    cli.add_argument("--seed", type=int, default=0, help="seed of the rendered sets")
    cli.add_argument("--markdown", type=Path, help="also write the Results page's tables here")
    args = cli.parse_args(argv)
    if args.per_style < 1:
        cli.error("--per-style must be at least 1")
    return args


# ---------------------------------------------------------------- running the service path


def run_samples(classifier, samples):
    """Per sample: status answered / refused / error, and for answers the network input and prediction."""
    inputs, records = [], []
    for sample in samples:
        record = {"category": sample.category, "label": sample.label, "status": "answered"}
        try:
            inputs.append(preprocess(encode(sample)))
        except NoDigitFound:
            record["status"] = "refused"
        except PreprocessError as exc:  # would be a 4xx other than 422: a bug in the renderer or service
            record["status"] = f"error: {exc}"
        records.append(record)
    x = np.asarray(inputs, dtype=np.float32).reshape(-1, INPUTS)
    answered = [r for r in records if r["status"] == "answered"]
    for record, row, answer in zip(answered, x, classifier.answers(x) if len(x) else []):
        record.update(input=row, digit=answer["digit"], confidence=answer["confidence"])
        record["uncertain"] = answer["uncertain"]
    return records


def flagged(record):
    """The service did not answer with a digit: flagged uncertain, or refused (422)."""
    return record["status"] != "answered" or record["uncertain"]


def summarise(records):
    """n, accuracy (digits only), flagged = uncertain + refused, and each part."""
    n = len(records)
    answered = [r for r in records if r["status"] == "answered"]
    confident = [r for r in answered if not r["uncertain"]]
    summary = {
        "n": n,
        "flagged": _share(sum(map(flagged, records)), n),
        "uncertain": _share(sum(r["uncertain"] for r in answered), n),
        "refused": _share(sum(r["status"] == "refused" for r in records), n),
        "errors": sum(r["status"].startswith("error") for r in records),
    }
    if records and records[0]["label"] is not None:
        summary["accuracy"] = _share(sum(r.get("digit") == r["label"] for r in records), n)
        # what a user sees: of the answers not flagged, how many are right
        summary["accuracy_unflagged"] = _share(
            sum(r["digit"] == r["label"] for r in confident), len(confident)
        )
        wrong = [f"{r['label']}>{r.get('digit', 422)}" for r in records if r.get("digit") != r["label"]]
        summary["mistakes"] = dict(Counter(wrong).most_common())
    else:
        counts = np.bincount([r["digit"] for r in confident], minlength=10)
        summary["confident_answers"] = {str(d): int(c) for d, c in enumerate(counts) if c}
    return summary


def _share(count, total):
    return float(count / total) if total else float("nan")


def by_category(records, categories):
    return {c: summarise([r for r in records if r["category"] == c]) for c in categories}


def mnist_test_flags(classifier, x_test, y_test):
    """Accuracy and flag rate of the Classifier on the raw MNIST test inputs (x / 255)."""
    answers = classifier.answers(as_inputs(x_test))
    digits = np.array([a["digit"] for a in answers])
    uncertain = np.array([a["uncertain"] for a in answers])
    wrong = digits != y_test
    return {
        "n": len(y_test),
        "accuracy": float((~wrong).mean()),
        "flagged": float(uncertain.mean()),
        "errors_flagged": float(uncertain[wrong].mean()) if wrong.any() else float("nan"),
    }


# ---------------------------------------------------------------- output


def contact_sheet(samples, records, categories, cell=56, label_width=170):
    """Ten examples per style: the upload, the network input under it, and a coloured caption."""
    font = ImageFont.load_default(size=11)
    row_height = 2 * cell + 16
    sheet = Image.new(
        "RGB", (label_width + SHEET_COLUMNS * (cell + 4), len(categories) * row_height), "white"
    )
    draw = ImageDraw.Draw(sheet)
    for row, category in enumerate(categories):
        top = row * row_height
        draw.text((4, top + cell - 6), category, fill="black", font=font)
        pairs = [(s, r) for s, r in zip(samples, records) if s.category == category][:SHEET_COLUMNS]
        for column, (sample, record) in enumerate(pairs):
            left = label_width + column * (cell + 4)
            sheet.paste(
                ImageOps.pad(sample.image.convert("RGB"), (cell, cell), color=(190, 190, 220)), (left, top)
            )
            if "input" in record:
                frame = Image.fromarray(to_pixels(record["input"]).reshape(SIDE, SIDE))
                sheet.paste(
                    frame.resize((cell, cell), Image.Resampling.NEAREST).convert("RGB"), (left, top + cell)
                )
            caption, colour = _caption(record)
            draw.text((left + 2, top + 2 * cell + 1), caption, fill=colour, font=font)
    return sheet


def _caption(record):
    truth = "" if record["label"] is None else f"{record['label']}>"
    if record["status"] != "answered":
        return f"{truth}422", "darkorange"
    text = f"{truth}{record['digit']} {record['confidence']:.2f}"
    if record["uncertain"]:
        return text, "darkorange"
    return text, "green" if record["label"] == record["digit"] else "red"


def print_tables(report, out=None):
    out = out or sys.stdout  # looked up at call time, so a captured stdout is honoured
    digits, others, test = report["rendered_digits"], report["non_digits"], report["mnist_test"]
    print(
        f"{'digit style':<20}{'n':>6}{'accuracy':>10}{'flagged':>9}{'refused':>9}{'acc|unflag':>11}", file=out
    )
    for name, s in [*digits["by_style"].items(), ("ALL", digits["overall"])]:
        row = f"{name:<20}{s['n']:>6}{s['accuracy']:>10.1%}{s['flagged']:>9.1%}{s['refused']:>9.1%}"
        print(f"{row}{s['accuracy_unflagged']:>11.1%}", file=out)
    print(f"\n{'non-digit category':<20}{'n':>6}{'flagged':>10}{'uncertain':>10}{'refused':>9}", file=out)
    for name, s in [*others["by_category"].items(), ("PLAIN (target)", others["plain"])]:
        print(
            f"{name:<20}{s['n']:>6}{s['flagged']:>10.1%}{s['uncertain']:>10.1%}{s['refused']:>9.1%}", file=out
        )
    print(
        f"\nMNIST test: accuracy {test['accuracy']:.2%}, flagged {test['flagged']:.2%} "
        f"(threshold {report['threshold']['value']:.4f} from {report['threshold']['source']})",
        file=out,
    )


def markdown(report):
    """The Results page's tables."""
    digits, others, test = report["rendered_digits"], report["non_digits"], report["mnist_test"]
    lines = ["| digit style | n | accuracy | flagged (uncertain + refused) |", "|---|---:|---:|---:|"]
    for name, s in [*digits["by_style"].items(), ("**all**", digits["overall"])]:
        lines.append(f"| {name} | {s['n']} | {s['accuracy']:.1%} | {s['flagged']:.1%} |")
    lines += ["", "| non-digit category | n | flagged | of which refused (422) |", "|---|---:|---:|---:|"]
    for name, s in [*others["by_category"].items(), ("**plain non-digits (target)**", others["plain"])]:
        lines.append(f"| {name} | {s['n']} | {s['flagged']:.1%} | {s['refused']:.1%} |")
    lines += [
        "",
        f"MNIST test digits flagged uncertain: {test['flagged']:.2%} of {test['n']} "
        f"(accuracy {test['accuracy']:.2%}); threshold {report['threshold']['value']:.4f} "
        f"from {report['threshold']['source']}.",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        classifier = Classifier(args.weights)
        _, _, x_test, y_test = load_mnist(args.data_dir, args.data_home)
    except (WeightsError, DataUnavailable, IDXError) as exc:
        fail(exc)

    digit_samples = rendered_digits(args.per_style, args.seed)
    other_samples = non_digits(args.per_style, args.seed)
    digit_records = run_samples(classifier, digit_samples)
    other_records = run_samples(classifier, other_samples)

    report = build_report(classifier, args, digit_records, other_records, x_test, y_test)
    report["seconds"] = round(time.perf_counter() - started, 2)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")
    sheet = contact_sheet(
        digit_samples + other_samples, digit_records + other_records, DIGIT_STYLES + NON_DIGIT_CATEGORIES
    )
    sheet.save(args.json.with_suffix(".samples.png"))
    if args.markdown:
        args.markdown.write_text(markdown(report))
    print_tables(report)
    print(f"\nwrote {args.json} and {args.json.with_suffix('.samples.png')} in {report['seconds']:.1f} s")


def build_report(classifier, args, digit_records, other_records, x_test, y_test):
    threshold_known = "uncertain_threshold" in classifier.metadata
    digits_overall = summarise(digit_records)
    by_style = by_category(digit_records, DIGIT_STYLES)
    weakest = min(s["accuracy"] for s in by_style.values())
    plain = summarise([r for r in other_records if r["category"] in PLAIN_NON_DIGITS])
    test = mnist_test_flags(classifier, x_test, y_test)
    return {
        "weights": str(args.weights),
        "model_id": classifier.model_id,
        "seed": args.seed,
        "per_style": args.per_style,
        "temperature": classifier.temperature,
        "outlier_exposure": classifier.metadata.get("outlier_exposure"),
        "non_digit_split": {
            "letter_fonts": [str(d) for d in EVAL_LETTER_FONT_DIRS],
            "shapes": sorted(EVAL_SHAPES),
            "note": (
                "evaluation kinds only; outlier exposure trains on the disjoint kinds"
                " (data/synth/outliers.py)"
            ),
        },
        "threshold": {
            "value": classifier.uncertain_threshold,
            "source": "weights metadata"
            if threshold_known
            else "the service's fallback (no calibration in metadata)",
        },
        "rendered_digits": {"by_style": by_style, "overall": digits_overall},
        "non_digits": {
            "by_category": by_category(other_records, NON_DIGIT_CATEGORIES),
            "plain_categories": list(PLAIN_NON_DIGITS),
            "plain": plain,
        },
        "mnist_test": test,
        "targets": {
            **TARGETS,
            "met": {
                "style_accuracy": weakest >= TARGETS["style_accuracy_min"],
                "rendered_accuracy": digits_overall["accuracy"] >= TARGETS["rendered_accuracy"],
                "non_digits_flagged": plain["flagged"] >= TARGETS["non_digits_flagged"],
                "test_digits_flagged": test["flagged"] <= TARGETS["test_digits_flagged_max"],
            },
        },
    }


if __name__ == "__main__":
    main()
