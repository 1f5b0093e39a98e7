"""Batch data augmentation for 28x28 MNIST digits: affine + elastic warp and stroke thickness.

    augment = Augmenter()                       # the shipped recipe's defaults
    batch = augment(batch_uint8, rng)           # (B, 784) uint8 -> (B, 784) uint8

Every image gets its own random transform; the whole batch is warped with a handful of
vectorised NumPy calls, no Python loop over images:

1. Stroke thickness (a random subset): grey-scale dilation (thicker pen) or a partial
   erosion (thinner pen) over the 3x3 cross, from shifted slices of the stacked images.
2. The source position of every output pixel p (coordinates centred on c = 13.5) is
       q(p) = A^-1 (p - c - t) + c + e(p)
   with A = Rotation(theta) Scale(s) Shear(h), a shift t clamped so that the digit's ink
   box stays inside the frame, and e(p) an elastic displacement field (Simard et al.
   2003). q is LINEAR in the per-image parameters, so the whole batch's coordinates
   are ONE matrix product: coefficients (2B, k+3) @ basis (k+3, 784), the basis being
   k elastic modes plus the rows (x, y, 1).
3. Resampling: each image is upsampled 2x by bilinear interpolation (integer averages
   of neighbours, exact at the half-pixel grid), and every output pixel takes the
   nearest half-pixel sample: ONE flat np.take for the batch. This equals bilinear
   interpolation at a position rounded to the half-pixel grid (<= 0.25 px off), which is
   far below the random jitter being added, and several times cheaper than gathering
   and blending four neighbours in float32.

Speed comes from buffers kept between calls (fresh 1 MB arrays cost more in page faults
than the arithmetic), images stored batch-last (row, column, image) so every shifted
slice is a few long contiguous runs rather than thousands of 28-byte rows, and uint8
arithmetic. The defaults are the recipe chosen on the validation split (the model card
has the figures): harder distortions cost the 784-128-64-10 network clean accuracy.

Elastic fields. Simard smooths uniform(-1, 1) noise with a Gaussian of width sigma and
scales it by alpha. That field is (by the central limit theorem, very nearly) a Gaussian
process with covariance alpha^2 / 3 * (G G^T), G the Gaussian filter (zero boundary, as
in the usual `gaussian_filter(..., mode="constant")` implementation). G is separable,
G = g (x) g, so its eigenvectors are outer products of the 28-point eigenvectors of
g g^T and the eigenvalues products of theirs. Keeping the k leading modes
(Karhunen-Loeve truncation; 98 % of the variance needs k ~ 19 at sigma 4, 13 at sigma 5)
draws the same random fields from k normal numbers per image and coordinate instead of
784 and a convolution.
"""

import math

import numpy as np

from ...model.contract import INPUTS, SIDE

CENTRE = (SIDE - 1) / 2  # 13.5: pixel centres run 0..27
MARGIN = 1  # zero pixels around each image, so samples off the frame read 0
PADDED = SIDE + 2 * MARGIN  # 30
TABLE = 2 * PADDED - 1  # 59: the 2x bilinear upsampling has a sample every half pixel
FRAME_MARGIN = 1  # pixels kept free of (the ink box of) a digit at each edge
ELASTIC_VARIANCE = 0.98  # fraction of the elastic field's variance kept by the modes


class Augmenter:
    """A random augmentation, called once per training batch: augment(batch_uint8, rng).

    prob:            fraction of each batch transformed at all, round(prob * B) images chosen at
                     random (the rest pass through unchanged and cost nothing).
    max_shift:       pixels, uniform in [-max_shift, max_shift] per axis, then clamped so the
                     ink's bounding box stays inside the 28x28 frame, 1 px from its edge
                     (the elastic field may still move strokes by a pixel or two).
    max_rotation:    degrees, uniform in [-max_rotation, max_rotation].
    scale:           (low, high), isotropic scale factor drawn log-uniformly.
    max_shear:       x-shear factor h (x += h * y), uniform in [-max_shear, max_shear].
    elastic_alpha:   Simard's alpha (pixels per unit of smoothed noise); 0 turns it off.
    elastic_sigma:   Simard's sigma, the smoothing width in pixels.
    thickness_prob:  fraction of images whose strokes are thickened or thinned (half each).
    All magnitudes 0 (and scale (1, 1)) give back the input unchanged.
    """

    def __init__(
        self,
        prob=0.75,
        max_shift=1.5,
        max_rotation=15.0,
        scale=(0.9, 1.1),
        max_shear=0.15,
        elastic_alpha=30.0,
        elastic_sigma=5.0,
        thickness_prob=0.2,
    ):
        if not 0 <= prob <= 1 or not 0 <= thickness_prob <= 1:
            raise ValueError("prob and thickness_prob must lie in [0, 1]")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale}")
        if min(max_shift, max_rotation, max_shear, elastic_alpha) < 0 or elastic_sigma <= 0:
            raise ValueError("magnitudes must be >= 0 and elastic_sigma > 0")
        self.prob = prob
        self.max_shift = max_shift
        self.max_rotation = max_rotation
        self.scale = (float(scale[0]), float(scale[1]))
        self.max_shear = max_shear
        self.elastic_alpha = elastic_alpha
        self.elastic_sigma = elastic_sigma
        self.thickness_prob = thickness_prob
        modes = elastic_modes(elastic_sigma) if elastic_alpha else np.zeros((0, INPUTS), np.float32)
        grid_y, grid_x = np.divmod(np.arange(INPUTS, dtype=np.float32), SIDE)
        # (k + 3, 784): elastic modes, then x, y, 1 of every output pixel (row-major).
        self.basis = np.vstack([modes, grid_x, grid_y, np.ones(INPUTS, np.float32)])
        self.n_modes = len(modes)
        self._workspaces = {}  # batch size -> _Workspace (so one Augmenter is not thread-safe)

    def __repr__(self):
        return (
            f"Augmenter(prob={self.prob}, max_shift={self.max_shift}, max_rotation={self.max_rotation}, "
            f"scale={self.scale}, max_shear={self.max_shear}, elastic_alpha={self.elastic_alpha}, "
            f"elastic_sigma={self.elastic_sigma}, thickness_prob={self.thickness_prob})"
        )

    def config(self):
        """The settings as a JSON-able dict, for the weights' metadata."""
        return {
            "prob": self.prob,
            "max_shift": self.max_shift,
            "max_rotation": self.max_rotation,
            "scale": list(self.scale),
            "max_shear": self.max_shear,
            "elastic_alpha": self.elastic_alpha,
            "elastic_sigma": self.elastic_sigma,
            "thickness_prob": self.thickness_prob,
        }

    def __call__(self, batch, rng):
        batch = _check_batch(batch)
        # a fixed number per batch rather than a coin per image: the workspaces then come in
        # one or two sizes, and only the images that change are resampled
        chosen = rng.permutation(len(batch))[: round(self.prob * len(batch))]  # (A,)
        if not len(chosen):
            return batch.copy()
        images = batch[chosen]  # (A, 784) copy
        if self.thickness_prob:
            changed = rng.random(len(chosen)) < self.thickness_prob
            if changed.any():
                index, thicker, weight = thickness_weights(changed, rng)
                images[index] = change_thickness(images[index], thicker, weight)
        work = self._workspace(len(chosen))
        work.load(images)
        boxes = work.ink_boxes()  # (4, A)
        out = batch.copy()
        out[chosen] = work.warp(self._coefficients(boxes, rng), self.basis)
        return out

    def _workspace(self, n):
        """Buffers for batches of n images, kept between calls: fresh ~1 MB arrays per
        batch would cost more in page faults than the arithmetic itself."""
        work = self._workspaces.get(n)
        if work is None:
            work = self._workspaces[n] = _Workspace(n)
        return work

    def _coefficients(self, boxes, rng):
        """Random per-image warp_coefficients (2A, k+3) for ink boxes (4, A)."""
        n = boxes.shape[1]
        u = rng.uniform(-1.0, 1.0, (5, n))  # one call for rotation, scale, shear, shift x, y
        angle = np.deg2rad(self.max_rotation) * u[0]
        log_low, log_high = math.log(self.scale[0]), math.log(self.scale[1])
        scale = np.exp((log_high + log_low) / 2 + (log_high - log_low) / 2 * u[1])
        shear = self.max_shear * u[2]
        shift = self.max_shift * u[3:]  # (2, A)
        forward, inverse = affine_matrices(angle, scale, shear)  # (2, 2, A) each
        shift = clamp_shift(shift, forward, boxes)  # (2, A) as (x, y)
        elastic = None
        if self.n_modes:
            elastic = rng.standard_normal((2, n, self.n_modes), dtype=np.float32)
            elastic *= np.float32(self.elastic_alpha)
        return warp_coefficients(inverse, shift, elastic)


def warp_coefficients(inverse, shift, elastic=None):
    """Rows (2B, k+3), x rows then y rows, such that rows @ basis = table coordinates.

    inverse (2, 2, B) is A^-1, shift (2, B) is t, elastic (2, B, k) or None the mode
    weights (pixels). Output p = A (q - c) + c + t  <=>  q = A^-1 p + (c - A^-1 (c + t)),
    plus the elastic displacement; in table units that is 2 (q + MARGIN), plus 0.5 so that
    truncation towards zero rounds to the nearest half-pixel sample.
    """
    n = inverse.shape[-1]
    k = 0 if elastic is None else elastic.shape[-1]
    offset = CENTRE - (inverse[:, 0] * (CENTRE + shift[0]) + inverse[:, 1] * (CENTRE + shift[1]))  # (2, B)
    coefficients = np.empty((2, n, k + 3), dtype=np.float32)
    if k:
        np.multiply(elastic, 2, out=coefficients[:, :, :k])
    coefficients[:, :, -3] = 2 * inverse[:, 0]  # d(x_src, y_src) / d x_out
    coefficients[:, :, -2] = 2 * inverse[:, 1]  # d(x_src, y_src) / d y_out
    coefficients[:, :, -1] = 2 * (offset + MARGIN) + 0.5
    return coefficients.reshape(2 * n, k + 3)


def _check_batch(batch):
    batch = np.asarray(batch)
    if batch.dtype != np.uint8 or batch.ndim != 2 or batch.shape[1] != INPUTS:
        raise ValueError(f"expected uint8 (B, {INPUTS}), got {batch.dtype} {batch.shape}")
    return batch


def affine_matrices(angle, scale, shear):
    """A = R(angle) @ (scale I) @ [[1, shear], [0, 1]] and its inverse
    A^-1 = [[1, -shear], [0, 1]] @ (I / scale) @ R(-angle), each stacked as (2, 2, B).

    In image coordinates (x right, y down) a positive angle turns clockwise on screen.
    """
    cos, sin = np.cos(angle), np.sin(angle)
    forward = np.array([[cos, cos * shear - sin], [sin, sin * shear + cos]]) * scale
    inverse = np.array([[cos + shear * sin, sin - shear * cos], [-sin, cos]]) / scale
    return forward, inverse


def clamp_shift(shift, forward, boxes):
    """Shifts (2, B) clamped so the transformed ink box lies within [m, 27 - m], m = FRAME_MARGIN.

    A point k of the box maps to A (k - c) + c + t. Over the box [x0, x1] x [y0, y1]
    (relative to c) row i of A reaches  lo_i = min(a_i0 x0, a_i0 x1) + min(a_i1 y0, a_i1 y1)
    and hi_i likewise with max, so t_i must lie in [m - c - lo_i, c - m - hi_i]. The margin
    keeps the ink that bilinear resampling spreads by up to a pixel inside the frame too.
    A box too large for the frame is centred instead.
    """
    x0, x1, y0, y1 = boxes - CENTRE  # (B,) each
    ax0, ax1 = forward[:, 0] * x0, forward[:, 0] * x1  # (2, B): both rows of A at once
    ay0, ay1 = forward[:, 1] * y0, forward[:, 1] * y1
    low = FRAME_MARGIN - CENTRE - np.minimum(ax0, ax1) - np.minimum(ay0, ay1)
    high = CENTRE - FRAME_MARGIN - np.maximum(ax0, ax1) - np.maximum(ay0, ay1)
    return np.where(low <= high, np.clip(shift, low, high), (low + high) / 2)


def thickness_weights(chosen, rng):
    """(index (S,), thicker (S,) bool, weight (S,)): which images change, which way, how much.

    Half the chosen images get thicker strokes (weight uniform in [0.5, 1] on the
    dilation), the other half thinner ones (weight in [0.25, 0.5] on the erosion: a full
    erosion over the cross would erase MNIST's 2-3 px strokes; it keeps ~30 % of the
    ink, 3 % for the thinnest digits).
    """
    index = np.flatnonzero(chosen)
    u = rng.random((2, len(index)))
    thicker = u[0] < 0.5
    weight = np.where(thicker, 0.5 + 0.5 * u[1], 0.25 + 0.25 * u[1])
    return index, thicker, weight


def change_thickness(images, thicker, weight):
    """x + w (m - x) for images (S, 784) uint8, m the dilation (where `thicker`) or the
    erosion of x, w (S,) in [0, 1]: a convex blend, so still 0..255.

    Dilation and erosion take the max and min over the 3x3 cross; pixels beyond the frame
    count as background, so strokes at the frame's edge erode from there. The images sit
    in a zero-bordered (S, 30, 30) block handled as ONE flat vector: the four neighbours
    are the flat shifts -30, +30, -1, +1, so each step is a single long operation (the
    shifts wrap across rows only on the border, which is cut off afterwards).
    """
    n = len(images)
    padded = np.zeros((n, PADDED, PADDED), np.uint8)
    padded[:, 1:-1, 1:-1] = images.reshape(n, SIDE, SIDE)
    flat = padded.reshape(-1)
    inner = slice(PADDED + 1, len(flat) - PADDED - 1)  # every pixel with four neighbours in the vector
    x = flat[inner]
    arms = [flat[inner.start + d : inner.stop + d] for d in (-PADDED, PADDED, -1, 1)]
    dilated, eroded = np.maximum(x, arms[0]), np.minimum(x, arms[0])
    for arm in arms[1:]:
        np.maximum(dilated, arm, out=dilated)
        np.minimum(eroded, arm, out=eroded)
    target = np.zeros_like(flat)
    target[inner] = eroded
    dilated_all = np.zeros_like(flat)
    dilated_all[inner] = dilated
    target, dilated_all = target.reshape(n, -1), dilated_all.reshape(n, -1)
    target[thicker] = dilated_all[thicker]  # (S, 900): m per image
    w = np.round(weight * 128).astype(np.int16)[:, None]  # (S, 1) fixed point / 128: no int16 overflow
    delta = np.subtract(target, padded.reshape(n, -1), dtype=np.int16)
    delta *= w
    delta += 64
    delta >>= 7  # round((m - x) w / 128)
    delta += padded.reshape(n, -1)
    return delta.reshape(n, PADDED, PADDED)[:, 1:-1, 1:-1].astype(np.uint8).reshape(n, -1)


class _Workspace:
    """Reusable buffers for one batch size n, all BATCH-LAST: (row, column, image).

    With the image index innermost, every slice such as "all pixels one to the left"
    is a few long contiguous runs; batch-first, the same slice is thousands of
    28-byte rows, and NumPy's per-row overhead then costs more than the arithmetic.
    """

    def __init__(self, n):
        self.n = n
        self.padded = np.zeros((PADDED, PADDED, n), np.uint8)  # the border stays 0 for ever
        self.images = self.padded[MARGIN:-MARGIN, MARGIN:-MARGIN]  # (28, 28, B) view
        self.table = np.zeros((TABLE, TABLE, n), np.uint8)
        self.scratch = np.empty((PADDED, TABLE, n), np.uint8)
        self.coords = np.empty((2 * n, INPUTS), np.float32)
        self.image_index = np.arange(n, dtype=np.int32)[:, None]  # (B, 1)

    def load(self, batch):
        self.images[...] = batch.T.reshape(SIDE, SIDE, self.n)

    def ink_boxes(self):
        """(4, B) float: x_min, x_max, y_min, y_max of the non-zero pixels; the frame if blank."""
        rows = self.images.max(axis=1) > 0  # (28, B): any ink in the row
        cols = self.images.max(axis=0) > 0  # (28, B)
        boxes = np.array(
            [
                cols.argmax(axis=0),
                SIDE - 1 - cols[::-1].argmax(axis=0),
                rows.argmax(axis=0),
                SIDE - 1 - rows[::-1].argmax(axis=0),
            ],
            dtype=np.float64,
        )
        blank = ~rows.any(axis=0)
        boxes[:, blank] = np.array([[0], [SIDE - 1], [0], [SIDE - 1]])
        return boxes

    def upsample(self):
        """Bilinear 2x upsampling of `padded` (30, 30, B) into `table` (59, 59, B).

        Sample (i, j) sits at pixel ((i - 2 MARGIN) / 2, (j - 2 MARGIN) / 2): even indices
        copy pixels, odd ones average their two (or four) neighbours, rounded half up, in
        uint8 without widening: ceil((a + b) / 2) = (a | b) - ((a ^ b) >> 1).
        """
        padded, table = self.padded, self.table
        table[::2, ::2] = padded
        _average(padded[:, :-1], padded[:, 1:], out=table[::2, 1::2], scratch=self.scratch[:, : PADDED - 1])
        _average(table[:-1:2], table[2::2], out=table[1::2], scratch=self.scratch[: PADDED - 1])

    def warp(self, coefficients, basis):
        """Each image sampled at its table coordinates coefficients @ basis: (B, 784) uint8."""
        n = self.n
        self.upsample()
        coords = np.matmul(coefficients, basis, out=self.coords)  # (2B, 784): x rows, then y rows
        np.clip(coords, 0, TABLE - 1, out=coords)  # off the table reads the zero border
        # Integer cells in place, over the floats' own memory: the working set (table,
        # coordinates) then stays within L2 next to the network's weights.
        # Truncation == rounding here: +0.5 is folded in and coords >= 0.
        cells = coords.view(np.int32)
        np.trunc(coords, out=cells, casting="unsafe")
        x, flat = cells[:n], cells[n:]  # (B, 784) each
        # flat index of table[y, x, b] = (y * 59 + x) * B + b
        flat *= TABLE * n
        x *= n
        flat += x
        flat += self.image_index
        return np.take(self.table.reshape(-1), flat)


def _average(a, b, out, scratch):
    """out = ceil((a + b) / 2) for uint8 arrays, in place of (a + b + 1) >> 1 in uint16."""
    np.bitwise_xor(a, b, out=out)
    np.right_shift(out, 1, out=out)
    np.bitwise_or(a, b, out=scratch)
    np.subtract(scratch, out, out=out)


def elastic_modes(sigma, side=SIDE, variance=ELASTIC_VARIANCE):
    """(k, side^2) float32: the leading Karhunen-Loeve modes of Simard's elastic field.

    Each row is sqrt(lambda_ij) * (v_i outer v_j), with g g^T = V diag(mu) V^T for the 1-D
    truncated Gaussian filter g and lambda_ij = mu_i mu_j / 3 (uniform(-1, 1) noise has
    variance 1/3). A field alpha * (z @ modes), z ~ N(0, I), has Simard's covariance up to
    the dropped (1 - variance) share.
    """
    radius = int(4 * sigma + 0.5)  # scipy.ndimage's truncate=4
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    offsets = np.arange(side)[:, None] - np.arange(side)[None, :]
    g = np.where(np.abs(offsets) <= radius, taps[np.clip(offsets + radius, 0, 2 * radius)], 0.0)
    mu, v = np.linalg.eigh(g @ g.T)  # ascending
    lam = np.outer(mu, mu).ravel() / 3  # (side^2,) eigenvalue of mode (i, j)
    order = np.argsort(lam)[::-1]
    k = int(np.searchsorted(np.cumsum(lam[order]) / lam.sum(), variance)) + 1
    i, j = np.divmod(order[:k], side)
    modes = np.sqrt(lam[order[:k], None, None]) * v.T[i][:, :, None] * v.T[j][:, None, :]  # (k, y, x)
    return modes.reshape(k, side * side).astype(np.float32)
