"""A small convolutional network in NumPy: the distillation teacher, never served.

    conv 5x5 (1 -> c1) . relu . maxpool 2   28x28 -> 24x24 -> 12x12
    conv 5x5 (c1 -> c2) . relu . maxpool 2  12x12 -> 8x8 -> 4x4
    dense (16 c2 -> hidden) . relu
    dense (hidden -> 10): the logits

Images are held channels-last, (B, H, W, C). A "valid" k x k convolution is one matrix
product after im2col: every output pixel's k x k x C input window becomes a row,
    cols (B*Ho*Wo, k*k*C) @ W (k*k*C, C_out) + b  ->  (B, Ho, Wo, C_out),
and its backward pass is two more products and the scatter-add back (col2im):
    dW = cols^T @ d,   db = sum_rows d,   dcols = d @ W^T  ->  dx[:, i:i+Ho, j:j+Wo] += dcols[:, :, :, i, j].
Max-pooling passes each 2x2 block's gradient to the pixel that held the maximum.

It has the MLP's training interface (model/mlp.py): one flat `params` vector laid out
[W_1, ..., W_L, b_1, ..., b_L] with `grads` mirroring it, `n_weight_params`,
forward(x (B, 784), keep) and backward(dlogits); so model/training.py's fit and
model/optim.py's optimisers train it unchanged.
"""

import io
import json
import zipfile

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .atomic_file import write_atomically
from .contract import INPUTS, SIDE
from .losses import softmax
from .mlp import layer_views

KERNEL = 5
POOL = 2
# Images a forward pass without keep takes at a time: im2col's second-layer copy is
# 64 windows x 25 c1 values an image (205 KB at c1 = 32), so whole validation or test sets
# would need gigabytes at once.
CHUNK = 512


class ConvNet:
    def __init__(self, channels=(32, 64), hidden=256, classes=10, seed=0, dtype=np.float32):
        self.channels = tuple(int(c) for c in channels)
        self.hidden, self.classes = int(hidden), int(classes)
        if len(self.channels) != 2 or min(*self.channels, self.hidden, self.classes) < 1:
            raise ValueError(f"need two positive channel counts, hidden, classes; got {channels}, {hidden}")
        self.dtype = np.dtype(dtype)
        c1, c2 = self.channels
        side = ((SIDE - KERNEL + 1) // POOL - KERNEL + 1) // POOL  # 4
        self.features = side * side * c2
        self.layer_sizes = (INPUTS, self.features, self.hidden, self.classes)  # input, dense layers
        window = KERNEL * KERNEL
        shapes = [(window, c1), (window * c1, c2), (self.features, hidden), (hidden, classes)]
        self.n_weight_params = sum(i * o for i, o in shapes)
        self.params = np.zeros(self.n_weight_params + sum(o for _, o in shapes), dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        self.weights, self.biases = layer_views(self.params, shapes)
        self.grad_weights, self.grad_biases = layer_views(self.grads, shapes)
        self.cache = None
        rng = np.random.default_rng(seed)
        for w in self.weights:  # He initialisation, fan-in = rows of W
            w[...] = rng.standard_normal(w.shape, dtype=np.float64) * np.sqrt(2.0 / w.shape[0])

    def config(self):
        return {"channels": list(self.channels), "hidden": self.hidden, "classes": self.classes}

    def forward(self, x, keep=False, reuse=False):
        """Logits (B, classes) of inputs x (B, 784); keep=True keeps what backward needs.

        reuse is the MLP's training hint (write into kept buffers); this network ignores it."""
        x = np.asarray(x, dtype=self.dtype)
        batch = len(x)
        if not keep and batch > CHUNK:
            return np.concatenate([self.forward(x[i : i + CHUNK]) for i in range(0, batch, CHUNK)])
        a = x.reshape(batch, SIDE, SIDE, 1)
        cache = []
        for layer in range(2):
            cols = im2col(a, KERNEL)  # (B*Ho*Wo, k*k*C)
            z = cols @ self.weights[layer]
            z += self.biases[layer]
            np.maximum(z, 0, out=z)
            relu = z.reshape(batch, a.shape[1] - KERNEL + 1, a.shape[2] - KERNEL + 1, -1)
            a = max_pool(relu)
            cache.append((cols, relu, a))
        flat = a.reshape(batch, -1)
        hidden = flat @ self.weights[2]
        hidden += self.biases[2]
        np.maximum(hidden, 0, out=hidden)
        logits = hidden @ self.weights[3]
        logits += self.biases[3]
        self.cache = (cache, flat, hidden) if keep else None
        return logits

    def backward(self, dlogits):
        """Fill `grads` from d loss / d logits (B, classes), using the last forward(keep=True)."""
        if self.cache is None:
            raise RuntimeError("backward() needs a preceding forward(x, keep=True)")
        cache, flat, hidden = self.cache
        gw, gb = self.grad_weights, self.grad_biases
        np.matmul(hidden.T, dlogits, out=gw[3])
        np.sum(dlogits, axis=0, out=gb[3])
        delta = dlogits @ self.weights[3].T
        delta *= hidden > 0
        np.matmul(flat.T, delta, out=gw[2])
        np.sum(delta, axis=0, out=gb[2])
        delta = (delta @ self.weights[2].T).reshape(cache[1][2].shape)  # (B, 4, 4, c2)
        for layer in (1, 0):
            cols, relu, pooled = cache[layer]
            delta = max_pool_backward(delta, relu, pooled)
            delta *= relu > 0
            delta = delta.reshape(-1, delta.shape[-1])  # (B*Ho*Wo, C_out)
            np.matmul(cols.T, delta, out=gw[layer])
            np.sum(delta, axis=0, out=gb[layer])
            if layer:
                prev = cache[layer - 1][2]  # this layer's input, (B, H, W, C)
                delta = col2im(delta @ self.weights[layer].T, prev.shape, KERNEL)
        self.cache = None
        return self.grads

    def predict_proba(self, x):
        return softmax(self.forward(x))

    def predict(self, x):
        return self.forward(x).argmax(axis=1)


def im2col(x, k):
    """(B*Ho*Wo, k*k*C) rows of every k x k window of x (B, H, W, C), Ho = H - k + 1.

    A row is ordered (i, j, c), channels innermost, as x is: col2im's slices are then runs.
    """
    windows = sliding_window_view(x, (k, k), axis=(1, 2))  # (B, Ho, Wo, C, k, k), a view
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k * k * x.shape[3])  # the one copy


def col2im(dcols, shape, k):
    """Gradient (B, H, W, C) of x from dcols (B*Ho*Wo, k*k*C): each window's share added back."""
    batch, height, width, channels = shape
    out_h, out_w = height - k + 1, width - k + 1
    dcols = dcols.reshape(batch, out_h, out_w, k, k, channels)
    dx = np.zeros(shape, dtype=dcols.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, i : i + out_h, j : j + out_w] += dcols[:, :, :, i, j]
    return dx


def max_pool(x):
    """(B, H/2, W/2, C): the maximum of each 2x2 block of x (B, H, W, C)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // POOL, POOL, w // POOL, POOL, c).max(axis=(2, 4))


def max_pool_backward(dpooled, x, pooled):
    """d x (B, H, W, C): each block's gradient to the pixels equal to its maximum.

    Ties only occur among zeros after a ReLU, whose gradient the ReLU's gate then drops.
    """
    b, h, w, c = x.shape
    blocks = x.reshape(b, h // POOL, POOL, w // POOL, POOL, c)
    mask = blocks == pooled[:, :, None, :, None, :]
    return (mask * dpooled[:, :, None, :, None, :]).reshape(b, h, w, c)


def save_teacher(path, model, metadata=None):
    """A ConvNet as .npz (no pickle), written atomically: its params and a JSON string of its
    shape and metadata. "architecture": "convnet" is what load_weights refuses it by."""
    info = {"architecture": "convnet", **model.config(), **(metadata or {})}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, params=model.params, metadata=np.array(json.dumps(info)))
    write_atomically(path, buffer.getvalue())


def load_teacher(path):
    """(ConvNet, metadata) from save_teacher's file; ValueError naming the file and the fault otherwise."""
    try:
        with open(path, "rb") as file:
            if not zipfile.is_zipfile(file):
                raise ValueError("not an .npz file")
        with np.load(path, allow_pickle=False) as z:
            info = json.loads(str(z["metadata"]))
            if not isinstance(info, dict) or info.get("architecture") != "convnet":
                raise ValueError("not a ConvNet teacher (write one with mnist-train --network cnn)")
            model = ConvNet(info["channels"], info["hidden"], info["classes"], dtype=z["params"].dtype)
            if z["params"].shape != model.params.shape:
                raise ValueError(f"{z['params'].size} parameters, the network has {model.params.size}")
            model.params[...] = z["params"]
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except KeyError as exc:
        raise ValueError(f"{path}: no {exc} in it, not a teacher of mnist-train --network cnn") from None
    except (EOFError, TypeError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return model, info
