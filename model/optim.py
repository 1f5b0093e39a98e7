"""Optimisers and learning-rate schedules over the MLP's flat parameter vector.

Each optimiser updates `model.params` in place from `model.grads`; because both are
single contiguous vectors, one step is a few vectorised calls whatever the depth.
L2 weight decay adds  weight_decay * W  to the gradient of the weights only (the
leading `n_weight_params` entries), never to the biases.
"""

import math

import numpy as np

# Every FLUSH_EVERY steps, moment entries below FLUSH_BELOW in magnitude are set to 0. A moment whose
# gradient stays 0 (a pixel that is blank in every recent image) decays geometrically (b1 = 0.9 a
# step) into float32's subnormal range below 1.2e-38, where the CPU computes up to ten times slower
# (measured here: 10 % subnormal entries made Adam's elementwise passes 3.3x slower, and a plain run
# reached 1.7 % of them in its fourth epoch, each epoch slower than the last). An entry below 1e-30
# moves its weight by less than lr * 1e-30 / eps' ~ 1e-27: nothing, next to a float32 weight's
# rounding. From 1e-30 a moment needs ~170 steps at b1 = 0.9 to turn subnormal, far more than 50.
FLUSH_EVERY, FLUSH_BELOW = 50, 1e-30


class Optimizer:
    def __init__(self, model, lr, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight decay must be >= 0, got {weight_decay}")
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay
        self.steps = 0
        self._scratch = np.empty_like(model.params)  # one temporary, reused by every step

    def _decayed_grads(self):
        """g_W += weight_decay * W on the weights (the leading n_weight_params), in place."""
        grads = self.model.grads
        if self.weight_decay:
            n = self.model.n_weight_params
            decay = np.multiply(
                self.model.params[:n], self.model.dtype.type(self.weight_decay), out=self._scratch[:n]
            )
            grads[:n] += decay
        return grads

    def step(self, lr=None):
        self.steps += 1
        self._update(self._decayed_grads(), self.lr if lr is None else lr)
        if self.steps % FLUSH_EVERY == 0:
            for state in self.state():
                self._flush_tiny(state)

    def state(self):
        """The optimiser's running vectors, flushed of tiny entries every FLUSH_EVERY steps."""
        return ()

    def _flush_tiny(self, state):
        """state[|state| < FLUSH_BELOW] = 0, in place (see FLUSH_BELOW)."""
        np.abs(state, out=self._scratch)
        np.copyto(state, 0, where=self._scratch < FLUSH_BELOW)


class SGD(Optimizer):
    """v <- momentum * v + g;   p <- p - lr * v   (heavy-ball momentum)."""

    def __init__(self, model, lr=0.1, momentum=0.9, weight_decay=0.0):
        super().__init__(model, lr, weight_decay)
        self.momentum = momentum
        self.velocity = np.zeros_like(model.params)

    def state(self):
        return (self.velocity,)

    def _update(self, grads, lr):
        dtype = self.model.dtype.type
        self.velocity *= dtype(self.momentum)
        self.velocity += grads
        self.model.params -= np.multiply(self.velocity, dtype(lr), out=self._scratch)


class Adam(Optimizer):
    """Kingma & Ba (2015):
        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
        p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps).

    Computed with the moments kept unscaled, M = m / (1 - b1) and V = v / (1 - b2), which saves
    the two multiplications of g and g^2 by (1 - b):
        M <- b1 M + g,   V <- b2 V + g^2   (the same recurrences divided by 1 - b, from M = V = 0),
    and since m / (sqrt(v) + eps) = (1 - b1) M / (sqrt(1 - b2) sqrt(V) + eps)
                                   = (1 - b1) / sqrt(1 - b2) * M / (sqrt(V) + eps / sqrt(1 - b2)),
        p <- p - step * M / (sqrt(V) + eps'),   step = lr sqrt(1 - b2^t) / (1 - b1^t) (1 - b1) / sqrt(1 - b2),
                                                eps' = eps / sqrt(1 - b2).
    `m` and `v` give the textbook moments. Each step is ten passes over the flat vectors, in place.
    """

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(model, lr, weight_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.moment1 = np.zeros_like(model.params)  # M = m / (1 - b1)
        self.moment2 = np.zeros_like(model.params)  # V = v / (1 - b2)

    def state(self):
        return self.moment1, self.moment2

    @property
    def m(self):
        return self.moment1 * self.model.dtype.type(1 - self.beta1)

    @property
    def v(self):
        return self.moment2 * self.model.dtype.type(1 - self.beta2)

    def _update(self, grads, lr):
        dtype = self.model.dtype.type
        b1, b2, t = self.beta1, self.beta2, self.steps
        M, V, scratch = self.moment1, self.moment2, self._scratch
        M *= dtype(b1)
        M += grads  # M <- b1 M + g
        V *= dtype(b2)
        V += np.multiply(grads, grads, out=scratch)  # V <- b2 V + g^2
        step = lr * math.sqrt(1 - b2**t) / (1 - b1**t) * (1 - b1) / math.sqrt(1 - b2)
        np.sqrt(V, out=scratch)
        scratch += dtype(self.eps / math.sqrt(1 - b2))
        np.divide(M, scratch, out=scratch)  # M / (sqrt(V) + eps')
        scratch *= dtype(step)
        self.model.params -= scratch


class WeightAverage:
    """An exponential moving average of the parameters (Polyak & Juditsky 1992), kept beside them:
        shadow <- d shadow + (1 - d) params   after every step,   d = min(decay, (1 + t) / (10 + t)),
    the warm-up of d (as in TensorFlow's ExponentialMovingAverage with num_updates) keeping the
    random initial weights from lingering in the average. The average of the last ~1 / (1 - decay)
    steps lies nearer the middle of the minimum the optimiser bounces around, so it usually
    generalises better than the last step (Izmailov et al. 2018 make the same point for SWA).
    """

    def __init__(self, model, decay):
        if not 0 < decay < 1:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.model, self.decay = model, decay
        self.shadow = model.params.copy()
        self._scratch = np.empty_like(self.shadow)
        self.updates = 0

    def update(self):
        """shadow <- shadow - (1 - d) (shadow - params), in place."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        gap = np.subtract(self.shadow, self.model.params, out=self._scratch)
        gap *= self.model.dtype.type(1 - d)
        self.shadow -= gap

    def swap(self):
        """Exchange the model's parameters and the average, in place (call again to undo)."""
        self._scratch[...] = self.model.params
        self.model.params[...] = self.shadow
        self.shadow[...] = self._scratch


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name, model, lr, weight_decay=0.0):
    try:
        return OPTIMIZERS[name](model, lr=lr, weight_decay=weight_decay)
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose from {sorted(OPTIMIZERS)}") from None


def cosine_lr(base_lr, step, total_steps, warmup_steps=0, final_fraction=0.0):
    """Linear warm-up, then cosine decay from base_lr to final_fraction * base_lr."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    low = base_lr * final_fraction
    return low + (base_lr - low) * 0.5 * (1 + math.cos(math.pi * progress))


def constant_lr(base_lr, step, total_steps, warmup_steps=0, final_fraction=0.0):
    return base_lr


SCHEDULES = {"cosine": cosine_lr, "constant": constant_lr}
