"""Train the MNIST MLP offline and write its weights, metrics and learning curves.

    mnist-train --data-dir ../shared/mnist --epochs 10 --out runs/w.npz
    python -m mnist_mlp.scripts.train ...      (the same)

Without --data-dir (or $MNIST_DATA_DIR) the data comes from OpenML via scikit-learn.
Besides PATH.npz it writes PATH.metrics.json and PATH.curves.png. The validation split
is held out of the training images; the test set is only measured, once, at the end.

Outlier exposure is on by default (--no-outlier-exposure turns it off): every batch also
carries --outlier-batch non-digit images from a pool rendered by data.outliers.outlier_pool
(the TRAINING kinds: Liberation letters and symbols, their own shapes, noise and
scribbles; never the evaluation non-digits; about 25 s to render 2,000 per category),
pushed towards a uniform prediction with weight --outlier-weight. The share of held-out
outliers of the same kinds (split "val") that the validation-chosen threshold flags is
written to the metrics: with the validation digits, it is what selects those settings.

Distillation (Hinton et al. 2015) takes two commands: `--network cnn` trains a small NumPy
ConvNet (model/cnn.py) and writes it as a teacher file, which `--teacher PATH` then asks for
its logits on every augmented batch the MLP trains on. The teacher is a training-time tool:
the service, mnist-evaluate and every other reader of weights refuse its file.
"""

import argparse
import json
import sys
import time
from dataclasses import fields
from datetime import UTC, datetime

import numpy as np

from ..data.mnist import DataUnavailable, IDXError, fingerprint, load_mnist, train_val_split
from ..data.synth.augment import Augmenter
from ..data.synth.outliers import OUTLIER_CATEGORIES, outlier_pool
from ..data.synth.train_digits import TRAIN_DIGIT_KINDS, training_digits
from ..model import MLP, save_weights
from ..model.calibration import calibrate, calibrated_probabilities, flag_stats, is_uncertain
from ..model.cnn import ConvNet, load_teacher, save_teacher
from ..model.contract import INPUT_MEANING
from ..model.mlp import INITS
from ..model.training import TrainConfig, fit, logits_of, loss_and_accuracy
from ..model.version import project_version
from . import train_feedback
from .cli import add_data_options, check_data_options, fail, number, plural, require, writable_file
from .cli import parser as make_parser
from .plotting import pyplot

PROG = "mnist-train"


def parse_args(argv=None):
    defaults = TrainConfig()
    parser = make_parser(PROG, __doc__)
    add_data_options(parser)
    at_least_1 = number(int, at_least=1)
    parser.add_argument(
        "--epochs", type=at_least_1, default=defaults.epochs, help="passes over the training images"
    )
    parser.add_argument("--batch-size", type=at_least_1, default=defaults.batch_size, help="digits per step")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default=defaults.optimizer, help="optimiser")
    parser.add_argument("--lr", type=number(above=0), default=defaults.lr, help="peak learning rate")
    parser.add_argument(
        "--weight-decay",
        type=number(at_least=0),
        default=defaults.weight_decay,
        help="L2 penalty on the weights",
    )
    parser.add_argument(
        "--schedule", choices=["cosine", "constant"], default=defaults.schedule, help="learning-rate schedule"
    )
    parser.add_argument(
        "--warmup-epochs",
        type=number(at_least=0),
        default=defaults.warmup_epochs,
        help="linear warm-up, in epochs (at most --epochs)",
    )
    parser.add_argument(
        "--label-smoothing",
        type=number(at_least=0, below=1),
        default=defaults.label_smoothing,
        help="eps of label smoothing: digit targets (1 - eps) one-hot + eps / 10; 0 for none",
    )
    parser.add_argument(
        "--ema-decay",
        type=number(at_least=0, below=1),
        default=defaults.ema_decay,
        help="decay of a moving average of the weights, which is what is validated and kept; 0 for none",
    )
    parser.add_argument(
        "--network",
        choices=["mlp", "cnn"],
        default="mlp",
        help="mlp: the served 784-128-64-10; cnn: a ConvNet teacher for --teacher, never served",
    )
    parser.add_argument(
        "--cnn-shape",
        type=cnn_shape,
        help="C1,C2,HIDDEN: the ConvNet's two convolutions' channels and its dense layer's width "
        "(with --network cnn; default: 32,64,256)",
    )
    parser.add_argument(
        "--teacher",
        help="teacher file written by --network cnn: the MLP learns from its soft targets on every batch",
    )
    parser.add_argument(
        "--distill-temperature",
        type=number(above=0),
        default=defaults.distill_temperature,
        help="temperature T of the teacher's soft targets (with --teacher)",
    )
    parser.add_argument(
        "--distill-alpha",
        type=number(at_least=0, at_most=1),
        default=defaults.distill_alpha,
        help="weight of the teacher's soft targets, 1 - alpha on the true labels (with --teacher)",
    )
    parser.add_argument(
        "--seed",
        type=number(int, at_least=0),
        default=defaults.seed,
        help="initialisation, shuffling, split and outliers",
    )
    parser.add_argument(
        "--val-fraction",
        type=number(above=0, below=1),
        default=0.1,
        help="share of training images held out",
    )
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="random affine, elastic and stroke-thickness changes to every training batch",
    )
    parser.add_argument(
        "--max-flag-rate",
        type=number(at_least=0, below=1),
        default=0.02,
        help="share of validation digits the 'uncertain' threshold may flag",
    )
    parser.add_argument(
        "--outlier-exposure",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train on rendered non-digits too, their predictions pushed towards uniform",
    )
    parser.add_argument(
        "--outlier-weight",
        type=number(at_least=0),
        default=defaults.outlier_weight,
        help="lambda of the outlier loss",
    )
    parser.add_argument(
        "--outlier-batch",
        type=at_least_1,
        default=defaults.outlier_batch,
        help="outliers added to every batch",
    )
    parser.add_argument(
        "--outlier-pool",
        type=at_least_1,
        default=2000,
        help="training outliers rendered per category (those the preprocessing refuses are dropped)",
    )
    parser.add_argument(
        "--outlier-val",
        type=number(int, at_least=0),
        help="held-out outliers per category to measure (default: 200 with outlier exposure, else 0)",
    )
    parser.add_argument(
        "--init",
        choices=INITS,
        default="he",
        help="initial weights: he (random, scaled for ReLU); zeros, too_small or too_large only to see "
        "what goes wrong without it",
    )
    parser.add_argument(
        "--train-digits",
        type=number(int, at_least=0),
        default=4000,
        help="rendered digits per kind beyond MNIST's writers (re-stroked skeletons, font digits) "
        "added to training; 0 for MNIST's alone",
    )
    parser.add_argument(
        "--out",
        type=writable_file,
        default="runs/mnist_mlp.npz",
        help="weights file to write (PATH.npz; PATH.metrics.json and PATH.curves.png beside it)",
    )
    train_feedback.add_options(parser)
    args = parser.parse_args(argv)
    train_feedback.check_options(parser, args)
    check_data_options(parser, args)
    if args.outlier_val is None:
        args.outlier_val = 200 if args.outlier_exposure else 0
    if args.warmup_epochs > args.epochs:
        parser.error(f"--warmup-epochs ({args.warmup_epochs:g}) must be at most --epochs ({args.epochs})")
    if args.out.suffix != ".npz":
        parser.error(f"--out must end in .npz, got {args.out}")
    check_network(parser, args)
    return args


def check_network(parser, args):
    """--network and --teacher against the rest; the teacher file is loaded here (args.teacher_model)."""
    args.teacher_model = args.teacher_info = None
    if args.cnn_shape and args.network != "cnn":
        parser.error("--cnn-shape needs --network cnn")
    if args.network == "cnn":
        for given, option in ((args.teacher, "--teacher"), (args.feedback, "--feedback")):
            if given:
                parser.error(f"{option} trains the served MLP, not --network cnn")
        if args.init != "he":
            parser.error("--init chooses the MLP's initial weights, not --network cnn's")
    if args.teacher is None:
        return
    if args.label_smoothing:
        parser.error("--label-smoothing and --teacher exclude each other: both replace the one-hot targets")
    try:
        args.teacher_model, args.teacher_info = load_teacher(args.teacher)
    except ValueError as exc:
        parser.error(f"--teacher {exc}")


def cnn_shape(text):
    """An argparse `type=`: "C1,C2,HIDDEN" as three positive integers."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"must be three positive integers C1,C2,HIDDEN, got {text}")
    return shape


def progress_bar(total):
    from tqdm import tqdm

    return tqdm(total=total, unit="batch", dynamic_ncols=True, leave=False)


def main(argv=None):
    args = parse_args(argv)
    require(PROG, "tqdm", "matplotlib")
    feedback = train_feedback.load(args)  # before MNIST: a wrong --feedback fails at once
    splits, source = load(args)
    model, result, run = train(args, *train_feedback.with_feedback(feedback, *splits[:2]), *splits[2:4])
    if result.diverged and not result.best_epoch:
        fail(f"training diverged ({result.diverged}) before any epoch finished; {args.out} not written")
    gated = train_feedback.gate(feedback, model, *splits[2:4], args)  # refused: nothing is written
    metadata = {**source, **run, **measure(args, model, result, *splits[2:])}
    metadata["feedback"] = train_feedback.measure(feedback, model, gated)
    write(args, model, metadata, result.history)
    if result.diverged:
        fail(
            f"training stopped early: {result.diverged}; "
            f"{args.out} holds the last good weights (epoch {result.best_epoch})"
        )


def load(args):
    """((x_train, y_train, x_val, y_val, x_test, y_test), what the data was, for the metadata)."""
    try:
        x_train_all, y_train_all, x_test, y_test = load_mnist(args.data_dir, args.data_home)
    except (DataUnavailable, IDXError) as exc:
        fail(exc)
    x_train, y_train, x_val, y_val = train_val_split(x_train_all, y_train_all, args.val_fraction, args.seed)
    source = {
        "input_scaling": INPUT_MEANING,
        "data_fingerprint": fingerprint(x_train_all, y_train_all),
        "data_source": str(args.data_dir) if args.data_dir else "openml:mnist_784",
        "seed": args.seed,
        "val_fraction": args.val_fraction,
        "train_size": len(x_train),
        "val_size": len(x_val),
    }
    return (x_train, y_train, x_val, y_val, x_test, y_test), source


def train(args, x_train, y_train, x_val, y_val):
    """(model, TrainResult, the run's settings and timings for the metadata)."""
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})  # same-named options
    given = len(x_train)
    x_train, y_train, extra_info = with_training_digits(args, x_train, y_train)
    parts = {"MNIST and corrections" if args.feedback else "MNIST": given, "rendered": len(x_train) - given}
    made_of = " + ".join(f"{n:,} {what}" for what, n in parts.items() if n)
    print(
        f"training on {plural(len(x_train), 'image')} ({made_of}), validating on {len(x_val):,}; {config}",
        file=sys.stderr,
    )
    if args.network == "cnn":
        c1, c2, hidden = args.cnn_shape or (32, 64, 256)
        model = ConvNet((c1, c2), hidden, seed=args.seed)
    else:
        model = MLP(seed=args.seed, init=args.init)
    teacher = None if args.teacher_model is None else args.teacher_model.forward
    augmenter = Augmenter() if args.augment else None
    outliers, outlier_info = None, None
    if args.outlier_exposure:
        started = time.perf_counter()
        outliers, kinds = outlier_pool(args.outlier_pool, args.seed, "train")
        outlier_info = {
            "split": "train",
            "per_category": args.outlier_pool,
            "pool_size": len(outliers),
            "by_category": {c: int((kinds == c).sum()) for c in OUTLIER_CATEGORIES},
            "seed": args.seed,
            "weight": config.outlier_weight,
            "batch": config.outlier_batch,
            "render_seconds": round(time.perf_counter() - started, 2),
        }
        print(f"outlier exposure: {len(outliers)} training outliers, {outlier_info}", file=sys.stderr)
    started = time.perf_counter()
    result = fit(
        model,
        x_train,
        y_train,
        config,
        x_val,
        y_val,
        augmenter,
        progress_bar,
        print,
        outliers=outliers,
        teacher=teacher,
    )
    run = {
        "network": args.network,
        "teacher": teacher_record(args),
        "train_config": vars(config),
        "init": args.init,
        "augmentation": augmenter.config() if augmenter else None,
        "outlier_exposure": outlier_info,
        "training_digits": extra_info,
        "epochs": result.best_epoch,
        "train_seconds": round(time.perf_counter() - started, 2),
        "diverged": result.diverged,
    }
    return model, result, run


def teacher_record(args):
    """What the teacher was, for the metadata: its file and its own figures; None without one."""
    if args.teacher_info is None:
        return None
    own = {key: args.teacher_info.get(key) for key in ("channels", "hidden", "val_accuracy", "test_accuracy")}
    return {"path": str(args.teacher), **own}


def with_training_digits(args, x_train, y_train):
    """The training split with data.train_digits' digits appended, and what was added, for the metadata."""
    if not args.train_digits:
        return x_train, y_train, None
    started = time.perf_counter()
    x_extra, y_extra, kinds = training_digits(x_train, y_train, args.train_digits, args.seed)
    info = {
        "per_kind": args.train_digits,
        "by_kind": {k: int((kinds == k).sum()) for k in TRAIN_DIGIT_KINDS},
        "render_seconds": round(time.perf_counter() - started, 2),
    }
    print(f"training digits beyond MNIST: {info}", file=sys.stderr)
    return np.concatenate([x_train, x_extra]), np.concatenate([y_train, y_extra.astype(y_train.dtype)]), info


def measure(args, model, result, x_val, y_val, x_test, y_test):
    """Calibration on the validation split, then the test set once, and the held-out outliers."""
    test_logits = logits_of(model, x_test)
    test_loss, test_accuracy = loss_and_accuracy(test_logits, y_test)
    calibration = calibrate(logits_of(model, x_val), y_val, args.max_flag_rate)
    test_probabilities = calibrated_probabilities(test_logits, calibration["temperature"])
    val_outliers = None
    if args.outlier_val:
        val_outliers = outlier_flags(model, calibration, *outlier_pool(args.outlier_val, args.seed, "val"))
    return {
        **calibration,
        "val_accuracy": result.best_val_accuracy,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "test_uncertain": flag_stats(test_probabilities, y_test, calibration["uncertain_threshold"]),
        "val_outliers_flagged": val_outliers,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "project_version": project_version(),
    }


def write(args, model, metadata, history):
    """PATH.npz (weights and metadata), PATH.metrics.json (the metadata and every epoch), PATH.curves.png."""
    metrics_path = args.out.with_suffix(".metrics.json")
    curves_path = args.out.with_suffix(".curves.png")
    try:
        if args.network == "cnn":
            save_teacher(args.out, model, metadata)
        else:
            save_weights(args.out, model, metadata)
        metrics_path.write_text(json.dumps({**metadata, "history": history}, indent=2) + "\n")
        plot_curves(history, curves_path, metadata["epochs"], args.augment)
    except OSError as exc:
        fail(f"cannot write {exc.filename or args.out}: {exc.strerror or exc}")
    print(f"wrote {args.out}, {metrics_path}, {curves_path}")
    print(
        f"best epoch {metadata['epochs']}: val accuracy {metadata['val_accuracy']:.4f}, "
        f"test accuracy {metadata['test_accuracy']:.4f}"
    )
    cal = metadata["calibration"]
    print(
        f"temperature {metadata['temperature']:.3f} (validation ECE {cal['ece_before']:.4f} -> "
        f"{cal['ece_after']:.4f}); uncertain below {metadata['uncertain_threshold']:.4f}, "
        f"flags {metadata['test_uncertain']['flag_rate']:.2%} of test digits"
    )
    feedback = metadata["feedback"]
    if feedback:
        print(
            f"held-out corrections ({feedback['held_out']} of {feedback['corrections']}): accuracy "
            f"{feedback['held_out_accuracy_before']:.4f} before ({feedback['baseline']}), "
            f"{feedback['held_out_accuracy_after']:.4f} after"
        )
        for name, accuracy in (feedback["gate"] or {}).items():
            print(f"gate, {name}: accuracy {accuracy['before']:.4f} before, {accuracy['after']:.4f} after")
    flags = metadata["val_outliers_flagged"]
    if flags:
        print(
            f"held-out training-kind outliers flagged: {flags['all']:.1%} "
            + " ".join(f"{c} {v:.0%}" for c, v in flags["by_category"].items())
        )


def outlier_flags(model, calibration, x, kinds):
    """Share of non-digit inputs (uint8 (N, 784)) the calibrated threshold flags, overall and by kind.

    The images the preprocessing refused are not in x: these shares are of the answered ones.
    """
    probabilities = calibrated_probabilities(logits_of(model, x), calibration["temperature"])
    flagged = is_uncertain(probabilities.max(axis=1), calibration["uncertain_threshold"])
    return {
        "n": len(x),
        "all": float(flagged.mean()),
        "by_category": {c: float(flagged[kinds == c].mean()) for c in dict.fromkeys(kinds)},
    }


def plot_curves(history, path, kept_epoch, augmented):
    """Loss and accuracy per epoch, the kept (best-validation) epoch marked; the legend says why."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 5), constrained_layout=True)
    for split, style, label in (
        ("train", "-o", _train_label(history, augmented)),
        ("val", "-s", "validation"),
    ):
        loss_ax.plot(epochs, [h[f"{split}_loss"] for h in history], style, label=label)
        acc_ax.plot(epochs, [100 * h[f"{split}_accuracy"] for h in history], style)
    loss_ax.set(title="Cross-entropy loss on the digits", xlabel="epoch", ylabel="loss", yscale="log")
    acc_ax.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (loss_ax, acc_ax):
        if kept_epoch:
            label = f"kept: epoch {kept_epoch}, the best validation accuracy" if ax is loss_ax else None
            ax.axvline(kept_epoch, color="tab:green", linestyle="--", label=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _train_label(history, augmented):
    """Why the training curve sits below validation's accuracy: it is not measured like validation."""
    reasons = ["a running mean over the epoch, as the weights moved"]
    if augmented:
        reasons.append(
            "on augmented digits (warped, rotated, thicker or thinner pens): harder than plain ones"
        )
    if "train_outlier_loss" in history[0]:
        reasons.append("while the outlier term pulls every answer towards 'no idea'")
    return "train: " + ",\n".join(reasons)


if __name__ == "__main__":
    main()
