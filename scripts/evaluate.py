"""Evaluate weights on the 10,000 MNIST test images.

    mnist-evaluate --data-dir ../shared/mnist --json report.json   (or python -m mnist_mlp.scripts.evaluate)

Writes the JSON report (top-level "accuracy", per-class precision/recall, confusion
matrix), REPORT.confusion.png and REPORT.errors.png (the most confidently wrong images).
Probabilities come from the same Classifier as the service's: calibrated with the weights'
temperature.
"""

import json
from pathlib import Path

import numpy as np

from ..data import DataUnavailable, IDXError, load_mnist
from ..model import DEFAULT_WEIGHTS, Classifier, WeightsError
from ..model.contract import CLASSES, SIDE, as_inputs
from .cli import add_data_options, fail, parser, require
from .plotting import pyplot

PROG = "mnist-evaluate"
N_WORST = 36


def parse_args(argv=None):
    cli = parser(PROG, __doc__)
    cli.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file to evaluate")
    add_data_options(cli)
    cli.add_argument("--json", type=Path, default=Path("evaluation.json"), help="report to write")
    return cli.parse_args(argv)


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


def main(argv=None):
    args = parse_args(argv)
    require(PROG, "matplotlib")
    try:
        classifier = Classifier(args.weights)  # the service's own inference: same sizes check, same T
        _, _, x_test, y_test = load_mnist(args.data_dir, args.data_home)
    except (WeightsError, DataUnavailable, IDXError) as exc:
        fail(exc)

    probabilities = classifier.predict_proba(as_inputs(x_test))
    predicted = probabilities.argmax(axis=1)
    counts = confusion_matrix(y_test, predicted)
    worst = worst_errors(probabilities, y_test)
    report = {
        "weights": str(args.weights),
        "test_size": len(y_test),
        "accuracy": float((predicted == y_test).mean()),
        "errors": int((predicted != y_test).sum()),
        "per_class": per_class(counts),
        "confusion_matrix": counts.tolist(),
        "worst_errors": [
            {
                "index": int(i),
                "true": int(y_test[i]),
                "predicted": int(predicted[i]),
                "confidence": float(probabilities[i, predicted[i]]),
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
        plot_errors(x_test, y_test, predicted, probabilities, worst, errors_png)
    except OSError as exc:
        fail(f"cannot write the report: {exc}")
    print(f"test accuracy {report['accuracy']:.4f} ({report['errors']} errors of {len(y_test)})")
    for digit, stats in report["per_class"].items():
        print(f"  {digit}: precision {stats['precision']:.4f}  recall {stats['recall']:.4f}")
    print(f"wrote {args.json}, {confusion_png}, {errors_png}")


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


def plot_errors(x, labels, predicted, probabilities, indices, path):
    plt = pyplot()
    cols = 6
    rows = max(1, -(-len(indices) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.8), constrained_layout=True)
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), indices):
        ax.imshow(x[i].reshape(SIDE, SIDE), cmap="gray")
        ax.set_title(f"true {labels[i]} → {predicted[i]}\n{probabilities[i, predicted[i]]:.0%}", fontsize=8)
    fig.suptitle("Most confident mistakes on the test set")
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
