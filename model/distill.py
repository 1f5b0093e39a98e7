"""Knowledge distillation (Hinton, Vinyals & Dean 2015): a student fitted to a teacher's soft targets.

The teacher's logits t, softened by a temperature T, give every digit a full distribution
q = softmax(t / T) ("dark knowledge": how much a 7 looks like a 1). The student's logits z
are trained on a mix of that and the true label y:
    L = alpha * T^2 * CE(q, softmax(z / T)) + (1 - alpha) * CE(onehot(y), softmax(z)),
    dL/dz = alpha * T * (softmax(z / T) - q) / B + (1 - alpha) * (softmax(z) - onehot(y)) / B.
The T^2 keeps the soft term's gradient on the scale of the hard one as T changes (the
soft gradient shrinks as 1/T^2 for large T, Hinton et al. section 2.1).

The teacher sees the very batch the student sees, augmentation included, so its targets
describe the image actually trained on ("consistent teaching", Beyer et al. 2022).
"""

import numpy as np

from .losses import soft_cross_entropy_, softmax, softmax_cross_entropy_


def soft_targets(teacher_logits, temperature):
    """q = softmax(t / T), (B, C)."""
    return softmax(teacher_logits / teacher_logits.dtype.type(temperature))


def distillation_loss_(logits, labels, teacher_logits, temperature, alpha):
    """(hard cross-entropy, KL(q || softmax(z / T)), dL/dz), the gradient overwriting `logits`.

    logits (B, C) of the student, labels (B,), teacher_logits (B, C). The hard cross-entropy
    is returned alone (the training curves compare it with plain runs); the KL divergence
    is the soft term's distance from its floor, 0 when the student copies the teacher.
    """
    dtype = logits.dtype.type
    targets = soft_targets(teacher_logits, temperature)
    soft_loss, soft_grad = soft_cross_entropy_(logits / dtype(temperature), targets, alpha * temperature)
    hard_loss, grad = softmax_cross_entropy_(logits, labels)
    grad *= dtype(1 - alpha)
    grad += soft_grad
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(targets > 0, targets * np.log(targets), 0).sum(axis=1).mean()
    return hard_loss, soft_loss - float(entropy), grad
