"""A multi-layer perceptron in NumPy: ReLU (or sigmoid) hidden layers, softmax output.

Layer l computes  z_l = a_{l-1} @ W_l + b_l,  a_l = g(z_l)  with g = relu or sigmoid (none
on the last layer, whose z are the logits). W_l has shape (n_in, n_out) so a batch of rows
(B, n_in) multiplies it directly.

All parameters live in ONE contiguous vector `params`, laid out as
[W_1, W_2, ..., W_L, b_1, ..., b_L]; `weights` and `biases` are views into it, and
`grads` mirrors the layout. An optimiser then updates every parameter with a handful
of vectorised calls, and weight decay is a single slice `params[:n_weight_params]`.
"""

import numpy as np

from .losses import softmax

DEFAULT_LAYER_SIZES = (784, 128, 64, 10)
ACTIVATIONS = ("relu", "sigmoid")
# Initial weights: He's N(0, 2 / n_in) times a scale. Only "he" is meant for training; the
# others show what goes wrong without it (symmetry, fading or exploding signals).
INIT_SCALES = {"he": 1.0, "zeros": 0.0, "too_small": 0.01, "too_large": 5.0}
INITS = tuple(INIT_SCALES)


def layer_views(flat, shapes):
    """([W_1, ..., W_L], [b_1, ..., b_L]): views into `flat`, laid out [W_1, ..., W_L, b_1, ..., b_L].

    shapes are the (n_in, n_out) of each W; b_l has n_out entries. Writing a view writes `flat`.
    """
    weights, biases = [], []
    w_at, b_at = 0, sum(i * o for i, o in shapes)
    for n_in, n_out in shapes:
        weights.append(flat[w_at : w_at + n_in * n_out].reshape(n_in, n_out))
        biases.append(flat[b_at : b_at + n_out])
        w_at += n_in * n_out
        b_at += n_out
    return weights, biases


class _Workspace:
    """Buffers for one batch size B, reused by every training step of that size.

    z[l]     (B, n_l)  layer l's output: g(z_l) for a hidden layer, the logits for the last
    delta[l] (B, n_l)  d loss / d z_l of a hidden layer, filled by backward
    fired[l] (B, n_l)  bool, relu'(z_l) = [a_l > 0]
    ones     (B,)      so that db = ones @ delta is one GEMV
    """

    def __init__(self, batch, sizes, dtype):
        self.z = [np.empty((batch, n), dtype) for n in sizes[1:]]
        self.delta = [np.empty((batch, n), dtype) for n in sizes[1:-1]]
        self.fired = [np.empty((batch, n), bool) for n in sizes[1:-1]]
        self.ones = np.ones(batch, dtype)


class MLP:
    def __init__(
        self, layer_sizes=DEFAULT_LAYER_SIZES, seed=0, dtype=np.float32, init="he", activation="relu"
    ):
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        if len(self.layer_sizes) < 2 or min(self.layer_sizes) < 1:
            raise ValueError(f"layer_sizes needs two or more positive sizes, got {layer_sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self.dtype = np.dtype(dtype)
        shapes = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))  # (n_in, n_out) of each W
        self.n_weight_params = sum(i * o for i, o in shapes)
        n_params = self.n_weight_params + sum(o for _, o in shapes)
        self.params = np.zeros(n_params, dtype=self.dtype)
        self.grads = np.zeros(n_params, dtype=self.dtype)
        self.weights, self.biases = layer_views(self.params, shapes)
        self.grad_weights, self.grad_biases = layer_views(self.grads, shapes)
        self._workspaces = {}  # batch size -> _Workspace: training's buffers, allocated once
        # inputs of every layer [x, a_1, ..., a_{L-1}], kept by forward(keep=True) for backward
        self.activations = None
        self.init_params(seed, init)

    def init_params(self, seed, init="he"):
        """He initialisation, W ~ N(0, 2 / n_in), suited to ReLU; biases start at zero.

        init="zeros" sets every weight to 0: each hidden unit then computes relu(0) = 0 and
        gets a zero gradient, so only the last layer's biases ever learn (the class
        frequencies). Random weights break that symmetry. "too_small" and "too_large" scale
        He's weights by 1/100 and 5: each layer then shrinks or grows the signal (and the
        gradient on its way back) by about that factor.
        """
        if init not in INIT_SCALES:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.params[...] = 0
        if init == "zeros":
            return
        rng = np.random.default_rng(seed)
        for w in self.weights:
            std = INIT_SCALES[init] * np.sqrt(2.0 / w.shape[0])
            w[...] = rng.standard_normal(w.shape, dtype=np.float64) * std

    @property
    def n_layers(self):
        return len(self.weights)

    def forward(self, x, keep=False, reuse=False):
        """Logits (B, n_out) for inputs x (B, n_in).

        With keep=True the activations [x, a_1, ..., a_{L-1}] are kept for `backward`.
        reuse=True (the training loop) writes every layer's output into buffers kept for batches
        of this size: the logits and activations are then overwritten by the next forward(reuse=True)
        of a batch of the same size, so nothing that leaves the model may hold them.
        """
        x = np.asarray(x, dtype=self.dtype)
        outputs = self._workspace(len(x)).z if reuse else [None] * self.n_layers
        activations = [x]
        a = x
        for layer, (w, b, out) in enumerate(zip(self.weights, self.biases, outputs)):
            z = np.matmul(a, w, out=out)  # (B, n_in) @ (n_in, n_out) -> (B, n_out)
            z += b
            if layer < self.n_layers - 1:
                self._activate(z)  # in place: z is not needed again, backward needs only g(z)
                activations.append(z)
            a = z
        self.activations = activations if keep else None
        return a

    def _workspace(self, batch):
        if batch not in self._workspaces:
            self._workspaces[batch] = _Workspace(batch, self.layer_sizes, self.dtype)
        return self._workspaces[batch]

    def _activate(self, z):
        """g(z) in place."""
        if self.activation == "relu":
            np.maximum(z, 0, out=z)
        else:  # sigmoid(z) = 1 / (1 + exp(-z)) = exp(z) / (1 + exp(z)): whichever exponent is <= 0
            e = np.exp(-np.abs(z))  # cannot overflow
            np.divide(np.where(z >= 0, 1, e), 1 + e, out=z)

    def activation_slope(self, a):
        """g'(z), read from a layer's output a = g(z): relu' = [a > 0], sigmoid' = a (1 - a) <= 1/4."""
        if self.activation == "relu":
            return a > 0
        return a * (1 - a)

    def backward(self, dlogits):
        """Fill `self.grads` from d loss / d logits (B, n_out), using the last forward(keep=True).

        For layer l with upstream gradient d_l = d loss / d z_l:
            dW_l = a_{l-1}^T @ d_l,   db_l = sum_batch d_l = ones^T @ d_l,
            d_{l-1} = (d_l @ W_l^T) * g'(z_{l-1}).
        The input gradient d_0 is never needed, which skips the largest product
        (`input_gradients` is the same chain carried on to the input).
        """
        if self.activations is None:
            raise RuntimeError("backward() needs a preceding forward(x, keep=True)")
        space = self._workspace(len(dlogits))
        delta = dlogits  # (B, n_L)
        for layer in reversed(range(self.n_layers)):
            a_prev = self.activations[layer]  # (B, n_in of this layer)
            np.matmul(a_prev.T, delta, out=self.grad_weights[layer])  # dW = a^T d   (n_in, n_out)
            np.matmul(space.ones, delta, out=self.grad_biases[layer])  # db = 1^T d, a GEMV  (n_out,)
            if layer > 0:
                delta = np.matmul(delta, self.weights[layer].T, out=space.delta[layer - 1])  # (B, n_in)
                if self.activation == "relu":
                    delta *= np.greater(a_prev, 0, out=space.fired[layer - 1])  # relu' = [a > 0]
                else:
                    delta *= self.activation_slope(a_prev)
        self.activations = None
        return self.grads

    def input_gradients(self, directions):
        """d (directions[:, k] . logits) / d x, (B, K, n_in), at the x of the last forward(keep=True).

        directions (B, K, n_out) are K weightings of the logits per row, e.g. a one-hot row
        for one digit's logit. The chain is backward's, carried on to the input:
            d_L = directions,   d_{l-1} = (d_l @ W_l^T) * g'(z_{l-1}),   d x = d_1 @ W_1^T.
        It is the exact derivative at x (with ReLU the network is piecewise linear, so it is
        also the slope all around x). Parameters' grads are left alone.
        """
        if self.activations is None:
            raise RuntimeError("input_gradients() needs a preceding forward(x, keep=True)")
        delta = np.asarray(directions, dtype=self.dtype)  # (B, K, n_out)
        for layer in reversed(range(self.n_layers)):
            delta = delta @ self.weights[layer].T  # (B, K, n_in of this layer)
            if layer > 0:
                delta *= self.activation_slope(self.activations[layer])[:, None, :]  # per row
        self.activations = None
        return delta

    def forward_hidden(self, x):
        """(logits (B, n_out), [a_1 (B, n_1), ..., a_{L-1}]): the answer and every hidden layer's output."""
        logits = self.forward(x, keep=True)  # fresh arrays (no reuse): the caller may keep them
        hidden = self.activations[1:]
        self.activations = None
        return logits, hidden

    def predict_proba(self, x):
        return softmax(self.forward(x))

    def predict(self, x):
        return self.forward(x).argmax(axis=1)
