"""Numerically stable softmax and cross-entropy.

All functions work on logits of shape (B, C) and use the log-sum-exp trick,
    log softmax(z)_k = z_k - max(z) - log sum_j exp(z_j - max(z)),
so logits of +-1e4 give finite losses and gradients.
"""

import numpy as np


def log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def cross_entropy(logits, labels):
    """Mean negative log-likelihood of integer `labels` (B,) under `logits` (B, C)."""
    rows = np.arange(len(labels))
    return float(-log_softmax(logits)[rows, labels].mean())


def softmax_cross_entropy_(logits, labels):
    """Loss and its gradient w.r.t. the logits, overwriting `logits` with the gradient.

    d loss / d z = (softmax(z) - onehot(y)) / B. Working in place saves two (B, C)
    temporaries per training step.
    """
    batch = len(labels)
    rows = np.arange(batch)
    logits -= logits.max(axis=1, keepdims=True)
    true_logit = logits[rows, labels]  # fancy indexing copies: kept before exp overwrites it
    np.exp(logits, out=logits)
    sums = logits.sum(axis=1)
    nll = np.log(sums) - true_logit  # -log p_y, exact even where exp(z_y - max) underflows
    logits /= sums[:, None]
    logits[rows, labels] -= 1
    logits *= logits.dtype.type(1.0 / batch)
    return float(nll.mean()), logits


def uniform_cross_entropy_(logits, weight=1.0):
    """Outlier-exposure loss and its gradient w.r.t. the logits, overwriting `logits`.

    Cross-entropy to the uniform distribution over the C classes (Hendrycks et al. 2019):
        L = mean_i [ -(1/C) sum_k log softmax(z_i)_k ] = mean_i [ logsumexp(z_i) - mean_k z_ik ],
    smallest (log C) when softmax(z_i) is uniform. Returns (L, weight * dL/dz), where
        dL/dz = (softmax(z) - 1/C) / B.
    The loss is returned unweighted; `weight` (lambda) scales only the gradient.
    """
    batch, classes = logits.shape
    mean_logit = logits.mean(axis=1)
    top = logits.max(axis=1, keepdims=True)
    logits -= top
    np.exp(logits, out=logits)
    sums = logits.sum(axis=1)
    loss = np.log(sums) + top[:, 0] - mean_logit  # logsumexp(z) - mean(z)
    logits /= sums[:, None]
    logits -= logits.dtype.type(1.0 / classes)
    logits *= logits.dtype.type(weight / batch)
    return float(loss.mean()), logits


def soft_cross_entropy_(logits, targets, weight=1.0):
    """Cross-entropy to soft targets and its gradient w.r.t. the logits, overwriting `logits`.

    targets (B, C) are probability rows q_i (a smoothed one-hot, a teacher's softmax):
        L = mean_i [ -sum_k q_ik log softmax(z_i)_k ] = mean_i [ logsumexp(z_i) - q_i . z_i ],
        dL/dz = (softmax(z) - q) / B.
    Returns (L, weight * dL/dz); the loss is returned unweighted.
    """
    batch = len(logits)
    target_logit = np.einsum("ij,ij->i", targets, logits)  # q_i . z_i, before z is overwritten
    top = logits.max(axis=1, keepdims=True)
    logits -= top
    np.exp(logits, out=logits)
    sums = logits.sum(axis=1)
    loss = np.log(sums) + top[:, 0] - target_logit
    logits /= sums[:, None]
    logits -= targets
    logits *= logits.dtype.type(weight / batch)
    return float(loss.mean()), logits


def smoothed_targets(labels, classes, smoothing, dtype=np.float32):
    """Label smoothing (Szegedy et al. 2016): (1 - eps) one_hot(y) + eps / C, rows (B, C)."""
    targets = np.full((len(labels), classes), smoothing / classes, dtype=dtype)
    targets[np.arange(len(labels)), labels] += 1 - smoothing
    return targets
