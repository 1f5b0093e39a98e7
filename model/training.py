"""The mini-batch training loop: shuffled epochs, validation, best-weights tracking, NaN guard,
and a hook that watches every step (and may stop the run between two).

Pixels may come as uint8 (0..255, the way MNIST is stored: four times less memory
than float32) or as floats already in [0, 1]; each batch is scaled on the fly.

Outlier exposure (Hendrycks, Mazeika & Dietterich, ICLR 2019), when `fit` gets a pool of
non-digit images: every step appends `outlier_batch` images drawn at random from the
pool to the digit batch, and the loss becomes
    L = CE(digits) + outlier_weight * mean_outliers [ -(1/C) sum_k log softmax(z)_k ],
the second term pulling the outliers' predictions towards uniform, so that a low
confidence marks "not a digit". One forward and one backward pass over the joined batch;
without outliers the loop is the plain one, step for step.

Options beyond the plain loop, each off by default: label smoothing of the digits' targets
(config.label_smoothing), an exponential moving average of the weights that is what gets
validated and kept (config.ema_decay, model/optim.py), and distillation from a teacher
network that `fit` gets as a callable (model/distill.py, config.distill_temperature and
config.distill_alpha): it is asked for its logits on every augmented batch of digits.
"""

import math
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from .contract import as_inputs
from .distill import distillation_loss_
from .losses import (
    cross_entropy,
    smoothed_targets,
    soft_cross_entropy_,
    softmax_cross_entropy_,
    uniform_cross_entropy_,
)
from .optim import SCHEDULES, WeightAverage, make_optimizer

# A batch loss above this counts as infinite. It is -ln of the smallest float32: the point
# where a naive float32 softmax would already have returned p = 0 and a loss of inf, which
# the stable log-sum-exp form hides (a learning rate of 10 gives losses of 1e7 that never
# overflow). Healthy runs stay far below it (at most ~45 in the first steps at lr 0.1).
DIVERGED_LOSS = float(-np.log(np.finfo(np.float32).smallest_subnormal))


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    seed: int = 0
    outlier_weight: float = 0.5  # lambda of outlier exposure; used only when fit() gets outliers
    outlier_batch: int = 64  # outlier images appended to every digit batch
    label_smoothing: float = 0.0  # eps: digit targets (1 - eps) one-hot + eps / C
    ema_decay: float = 0.0  # decay of the weights' moving average; 0: no average
    distill_temperature: float = 4.0  # T of the teacher's soft targets; used only when fit() gets a teacher
    distill_alpha: float = 0.9  # weight of the soft term, 1 - alpha on the true labels


@dataclass
class TrainResult:
    history: list = field(default_factory=list)  # one dict per epoch
    best_epoch: int = 0  # 1-based; 0 when no epoch finished
    best_val_accuracy: float = float("nan")
    diverged: str = ""  # why training stopped early, empty when it did not
    stopped: str = ""  # where on_step stopped training, empty when it did not


def logits_of(model, x, batch_size=4096):
    """Logits (N, C) of a whole data set, forwarded in memory-bounded chunks."""
    return np.concatenate(
        [model.forward(as_inputs(x[i : i + batch_size], model.dtype)) for i in range(0, len(x), batch_size)]
    )


def loss_and_accuracy(logits, labels):
    """(mean cross-entropy, accuracy) of logits (N, C) against integer labels (N,)."""
    return cross_entropy(logits, labels), float((logits.argmax(axis=1) == labels).mean())


def evaluate(model, x, labels):
    """(mean cross-entropy, accuracy) of `model` over a data set."""
    return loss_and_accuracy(logits_of(model, x), labels)


def exposure_loss_(logits, labels, weight, digit_loss_=softmax_cross_entropy_):
    """Outlier exposure on a joined batch: the first len(labels) rows are digits, the rest outliers.

    Returns (digit loss, outlier uniform cross-entropy, gradient); the gradient of
    digit loss + weight * outlier loss w.r.t. the logits overwrites `logits`, each loss working
    in place on its own rows, so one backward pass serves both. digit_loss_(logits, labels)
    -> (loss, gradient in place) is the cross-entropy unless given.
    """
    n_digits = len(labels)
    loss, _ = digit_loss_(logits[:n_digits], labels)
    outlier_loss, _ = uniform_cross_entropy_(logits[n_digits:], weight)
    return loss, outlier_loss, logits


def fit(
    model,
    x,
    labels,
    config,
    x_val=None,
    y_val=None,
    augment=None,
    progress=None,
    log=None,
    outliers=None,
    teacher=None,
    on_step=None,
):
    """Train `model` in place; returns a TrainResult.

    augment(batch_uint8 (B, 784), rng) -> batch_uint8, when given, transforms each batch
    (with outliers: the digits and the outliers together, one call).
    outliers: non-digit images (N_out, 784), uint8 or floats like x, for outlier exposure
    with config.outlier_weight and config.outlier_batch; None trains on the digits alone.
    teacher(inputs (B, 784) float) -> logits (B, C), when given, is distilled from
    (config.distill_temperature, config.distill_alpha) on every batch of digits as trained.
    progress(total_steps) -> a tqdm-like bar with update() and set_postfix_str(), or None.
    log(message) receives one line per epoch.
    on_step(step, epoch, loss, model) is called after every step (both counted from 1; loss is
    the batch's digit loss; model.grads still hold the step's gradients). A true answer stops
    training there: that epoch ends early, is validated like a whole one, and
    `result.stopped` says where.
    The model ends with the best-validation weights (the last epoch's without a validation
    set); with config.ema_decay those are the moving average's, which is also what is
    validated. If the loss becomes NaN or inf, training stops, `result.diverged` says why and
    the model keeps the last good weights.
    """
    run = _Run(model, len(x), config, outliers, teacher)
    result = TrainResult()
    best_params = model.params.copy()
    bar = progress(run.total_steps) if progress else None
    for epoch in range(1, config.epochs + 1):
        record = run.epoch(x, labels, augment, bar, on_step)
        if "diverged" in record:
            result.diverged = f"{record['diverged']} in epoch {epoch}"
            break
        if run.average is not None:
            run.average.swap()  # validate and keep the average; the optimiser goes on from the raw weights
        if x_val is not None and len(x_val):
            record["val_loss"], record["val_accuracy"] = evaluate(model, x_val, y_val)
            improved = not record["val_accuracy"] <= result.best_val_accuracy  # True vs NaN too
        else:
            improved = True
        if improved:
            result.best_epoch, result.best_val_accuracy = epoch, record.get("val_accuracy", float("nan"))
            best_params[...] = model.params
        if run.average is not None:
            run.average.swap()
        stopped = record.pop("stopped", None)
        result.history.append(record)
        if log is not None:
            log(_epoch_line(record))
        if stopped:
            result.stopped = f"{stopped} in epoch {epoch}"
            break
    if bar is not None:
        bar.close()
    if result.best_epoch:
        model.params[...] = best_params
    return result


class _Run:
    """State shared by the epochs of one fit: RNG, optimiser, schedule, step count."""

    def __init__(self, model, n, config, outliers=None, teacher=None):
        self.model, self.n, self.config, self.teacher = model, n, config, teacher
        self.rng = np.random.default_rng(config.seed)
        self.outliers = None if outliers is None or not len(outliers) else outliers
        n_out = 0
        if self.outliers is not None:
            if config.outlier_batch < 1 or not config.outlier_weight >= 0:
                raise ValueError("outlier exposure needs outlier_batch >= 1 and outlier_weight >= 0")
            n_out = config.outlier_batch
            # its own stream: which outliers a step sees does not move the digits' shuffles
            self.outlier_rng = np.random.default_rng([config.seed, 0x0E])
        steps_per_epoch = math.ceil(n / config.batch_size)
        self.total_steps = steps_per_epoch * config.epochs
        self.warmup_steps = int(config.warmup_epochs * steps_per_epoch)
        self.schedule = SCHEDULES[config.schedule]
        self.optimizer = make_optimizer(config.optimizer, model, config.lr, config.weight_decay)
        # the batch, gathered as stored (pixels) and as the network's inputs; allocated once
        self.pixel_buffer = None
        self.batch_buffer = np.empty((config.batch_size + n_out, model.layer_sizes[0]), dtype=model.dtype)
        self.step = 0
        self.average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
        if teacher is not None and config.label_smoothing:
            raise ValueError("label smoothing and distillation exclude each other: soft targets twice")
        self.distill_kl_sum = 0.0

    def digit_loss_(self, logits, labels, teacher_logits=None):
        """(loss, gradient in place) of the digits' rows: cross-entropy, smoothed or distilled."""
        config = self.config
        if teacher_logits is not None:
            loss, kl, grad = distillation_loss_(
                logits, labels, teacher_logits, config.distill_temperature, config.distill_alpha
            )
            self.distill_kl_sum += kl * len(labels)
            return loss, grad
        if config.label_smoothing:
            targets = smoothed_targets(labels, logits.shape[1], config.label_smoothing, logits.dtype)
            return soft_cross_entropy_(logits, targets)
        return softmax_cross_entropy_(logits, labels)

    def gather(self, x, idx):
        """x[idx] with the step's outliers after it, copied into a buffer reused by every step.

        np.take(out=) fills the buffer without allocating (mode="clip": "raise" would go through a
        temporary, and the indices, a permutation and integers(0, n), are in range by construction).
        When the outliers' dtype differs from x's, the batch is concatenated as NumPy promotes it.
        """
        pick = None
        if self.outliers is not None:
            pick = self.outlier_rng.integers(0, len(self.outliers), self.config.outlier_batch)
            if self.outliers.dtype != x.dtype:
                return np.concatenate([x[idx], self.outliers[pick]])
        n_out = 0 if pick is None else len(pick)
        if self.pixel_buffer is None or self.pixel_buffer.dtype != x.dtype:
            self.pixel_buffer = np.empty((self.config.batch_size + n_out, x.shape[1]), dtype=x.dtype)
        batch = self.pixel_buffer[: len(idx) + n_out]
        np.take(x, idx, axis=0, out=batch[: len(idx)], mode="clip")
        if pick is not None:
            np.take(self.outliers, pick, axis=0, out=batch[len(idx) :], mode="clip")
        return batch

    def lr(self):
        return self.schedule(self.config.lr, self.step, self.total_steps, self.warmup_steps)

    def epoch(self, x, labels, augment, bar, on_step=None):
        """One shuffled pass; a record of loss/accuracy (with "stopped" when on_step ended it
        early), or {"diverged": why} with the model's weights left as they were before the bad step."""
        model, batch_size = self.model, self.config.batch_size
        started = time.perf_counter()
        epoch = self.step // math.ceil(self.n / batch_size) + 1
        order = self.rng.permutation(self.n)
        loss_sum, correct, outlier_loss_sum = 0.0, 0, 0.0
        self.distill_kl_sum = 0.0
        stopped = None
        for batch_start in range(0, self.n, batch_size):
            idx = order[batch_start : batch_start + batch_size]
            n_digits = len(idx)
            batch = self.gather(x, idx)
            if augment is not None:
                batch = augment(batch, self.rng)
            inputs = as_inputs(batch, model.dtype, out=self.batch_buffer[: len(batch)])
            batch_labels = labels[idx]
            teacher_logits = None if self.teacher is None else self.teacher(inputs[:n_digits])
            logits = model.forward(inputs, keep=True, reuse=True)  # buffers: overwritten next step
            correct += int((logits[:n_digits].argmax(axis=1) == batch_labels).sum())
            with np.errstate(over="ignore", invalid="ignore"):
                if self.outliers is None:
                    loss, dlogits = self.digit_loss_(logits, batch_labels, teacher_logits)
                    loss_total = loss
                else:
                    weight = self.config.outlier_weight
                    digit_loss_ = partial(self.digit_loss_, teacher_logits=teacher_logits)
                    loss, outlier_loss, dlogits = exposure_loss_(logits, batch_labels, weight, digit_loss_)
                    outlier_loss_sum += outlier_loss * n_digits
                    loss_total = loss + weight * outlier_loss
            if not loss_total < DIVERGED_LOSS:  # also catches NaN
                return {"diverged": f"loss became {loss_total:.4g} at step {self.step + 1}"}
            model.backward(dlogits)
            lr = self.lr()
            self.optimizer.step(lr)
            if self.average is not None:
                self.average.update()
            self.step += 1
            loss_sum += loss * n_digits
            if bar is not None:
                bar.update(1)
                if self.step % 50 == 0:
                    bar.set_postfix_str(f"epoch loss {loss_sum / (batch_start + n_digits):.4f}")
            if on_step is not None and on_step(self.step, epoch, loss, model):
                stopped = f"stopped after step {self.step}"
                break
        seen = batch_start + n_digits  # self.n, or fewer when on_step stopped the epoch
        record = {
            "epoch": epoch,
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "lr": lr,
            "seconds": time.perf_counter() - started,
        }
        if self.outliers is not None:
            # mean uniform cross-entropy of the outliers; log(10) = 2.303 is its floor
            record["train_outlier_loss"] = outlier_loss_sum / seen
        if self.teacher is not None:
            record["train_distill_kl"] = self.distill_kl_sum / seen  # KL(teacher || student) at T
        if stopped:
            record["stopped"] = stopped
        return record


def _epoch_line(record):
    line = (
        f"epoch {record['epoch']:3d}  train loss {record['train_loss']:.4f} "
        f"acc {record['train_accuracy']:.4f}"
    )
    if "val_loss" in record:
        line += f"  val loss {record['val_loss']:.4f} acc {record['val_accuracy']:.4f}"
    return line + f"  lr {record['lr']:.2e}  {record['seconds']:.2f}s"
