"""Evaluate weights on the 10,000 MNIST test images.

    mnist-evaluate --data-dir ../shared/mnist --json runs/report.json
    python -m mnist_mlp.scripts.evaluate ...      (the same)

Writes the JSON report (top-level "accuracy", per-class precision/recall, confusion
matrix, the share the service would flag "uncertain" and the accuracy on the rest),
REPORT.confusion.png and REPORT.errors.png (the most confidently wrong images, each with
its test index, second choice, flag and heatmap). Probabilities come from the same
Classifier as the service's: calibrated with the weights' temperature.
"""

import json
from pathlib import Path

import numpy as np

from ..data import DataUnavailable, IDXError, load_mnist
from ..data.heatmap import diverging_rgba
from ..model import DEFAULT_WEIGHTS, Classifier, WeightsError
from ..model.calibration import is_uncertain
from ..model.contract import CLASSES, SIDE, as_inputs
from ..model.explain import explain
from .cli import add_data_options, check_data_options, fail, parser, plural, require, writable_file
from .plotting import pyplot

PROG = "mnist-evaluate"
N_WORST = 36


def parse_args(argv=None):
    cli = parser(PROG, __doc__)
    cli.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file to evaluate")
    add_data_options(cli)
    cli.add_argument(
        "--json",
        type=writable_file,
        default="runs/evaluation.json",
        help="report to write (REPORT.confusion.png and REPORT.errors.png beside it)",
    )
    args = cli.parse_args(argv)
    check_data_options(cli, args)
    return args


def confusion_matrix(labels, predicted):
    """counts[true, predicted], shape (10, 10)."""
    counts = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def per_class(counts):
    hits = np.diag(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = hits / counts.sum(axis=0)
        recall = hits / counts.sum(axis=1)
    return {
        str(digit): {
            "precision": _finite_or_none(precision[digit]),
            "recall": _finite_or_none(recall[digit]),
            "support": int(counts[digit].sum()),
        }
        for digit in range(CLASSES)
    }


def _finite_or_none(value):
    return float(value) if np.isfinite(value) else None


def worst_errors(probabilities, labels, n=N_WORST):
    """Indices of misclassified images, most confident mistake first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    return wrong[np.argsort(-probabilities[wrong, predicted[wrong]])][:n]


def flagged_figures(probabilities, labels, threshold):
    """The service's promise: the share it flags "uncertain", and how often the rest are right."""
    flagged = is_uncertain(probabilities.max(axis=1), threshold)
    kept = ~flagged
    right = probabilities.argmax(axis=1) == labels
    return {
        "flagged_share": float(flagged.mean()),
        "accuracy_not_flagged": float(right[kept].mean()) if kept.any() else None,
        "uncertain_threshold": float(threshold),
    }


def main(argv=None):
    args = parse_args(argv)
    require(PROG, "matplotlib")
    try:
        classifier = Classifier(args.weights)  # the service's own inference: same sizes check, same T
        _, _, x_test, y_test = load_mnist(args.data_dir, args.data_home)
    except (WeightsError, DataUnavailable, IDXError) as exc:
        fail(exc)

    inputs = as_inputs(x_test)
    probabilities = classifier.predict_proba(inputs)
    predicted = probabilities.argmax(axis=1)
    counts = confusion_matrix(y_test, predicted)
    worst = worst_errors(probabilities, y_test)
    flags = flagged_figures(probabilities, y_test, classifier.uncertain_threshold)
    report = {
        "weights": str(args.weights),
        "test_size": len(y_test),
        "accuracy": float((predicted == y_test).mean()),
        "errors": int((predicted != y_test).sum()),
        **flags,
        "per_class": per_class(counts),
        "confusion_matrix": counts.tolist(),
        "worst_errors": [
            {
                "index": int(i),
                "true": int(y_test[i]),
                "predicted": int(predicted[i]),
                "confidence": float(probabilities[i, predicted[i]]),
                "second": int(np.argsort(-probabilities[i])[1]),
                "uncertain": bool(is_uncertain(probabilities[i].max(), classifier.uncertain_threshold)),
            }
            for i in worst
        ],
        "model_metadata": classifier.metadata,
    }
    try:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        confusion_png = args.json.with_suffix(".confusion.png")
        errors_png = args.json.with_suffix(".errors.png")
        plot_confusion(counts, confusion_png)
        plot_errors(
            inputs, y_test, report["worst_errors"], explain(classifier.mlp, inputs[worst]), errors_png
        )
    except OSError as exc:
        fail(f"cannot write the report: {exc}")
    print(f"test accuracy {report['accuracy']:.4f} ({plural(report['errors'], 'error')} of {len(y_test):,})")
    rest = report["accuracy_not_flagged"]
    print(
        f"flagged uncertain {report['flagged_share']:.2%}; accuracy on the rest "
        + ("(none left)" if rest is None else f"{rest:.4f}")
    )
    for digit, stats in report["per_class"].items():
        print(f"  {digit}: precision {_figure(stats['precision'])}  recall {_figure(stats['recall'])}")
    print(f"wrote {args.json}, {confusion_png}, {errors_png}")


def _figure(share):
    """A share to 4 places, or n/a: the precision of a digit never predicted has no value."""
    return "n/a" if share is None else f"{share:.4f}"


def plot_confusion(counts, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6), constrained_layout=True)
    # log colour scale: the diagonal (~1,000) would otherwise wash out the errors (~1-20)
    image = ax.imshow(np.log1p(counts), cmap="Blues")
    for (true, pred), count in np.ndenumerate(counts):
        if count:
            colour = "white" if count > counts.max() / 4 else "black"
            ax.text(pred, true, str(count), ha="center", va="center", fontsize=8, color=colour)
    ax.set(
        xticks=range(CLASSES),
        yticks=range(CLASSES),
        xlabel="predicted",
        ylabel="true",
        title=f"Confusion matrix ({counts.sum()} test images)",
    )
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_errors(inputs, labels, worst, why, path):
    """Each mistake as a pair: the digit, then gradient x input of the wrong answer's logit over it.

    `worst` are the report's worst_errors entries, `why` the Explanation of those images.
    """
    plt = pyplot()
    pairs = 6
    rows = max(1, -(-len(worst) // pairs))
    fig, axes = plt.subplots(
        rows, 2 * pairs, figsize=(2 * pairs * 1.05, rows * 1.55), constrained_layout=True
    )
    axes = np.reshape(axes, (rows, 2 * pairs))
    for ax in axes.ravel():
        ax.axis("off")
    for k, error in enumerate(worst):
        digit_ax, heat_ax = axes[k // pairs, 2 * (k % pairs)], axes[k // pairs, 2 * (k % pairs) + 1]
        image = inputs[error["index"]].reshape(SIDE, SIDE)
        digit_ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        digit_ax.set_title(
            f"#{error['index']}: {error['true']} → {error['predicted']}\n{error['confidence']:.0%}",
            fontsize=7,
        )
        heat_ax.imshow(np.zeros((SIDE, SIDE)), cmap="gray", vmin=0, vmax=1)
        heat_ax.imshow(image, cmap="gray", vmin=0, vmax=1, alpha=0.45)
        heat_ax.imshow(diverging_rgba(why.gradient[k] * inputs[error["index"]]))
        flag = "flagged" if error["uncertain"] else "not flagged"
        heat_ax.set_title(f"2nd: {error['second']}\n{flag}", fontsize=7)
    fig.suptitle(
        "Most confident mistakes on the test set (#test index: true → predicted). Beside each, what raised "
        "(orange) and lowered (blue) the wrong answer's score: gradient × input",
        fontsize=9,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
