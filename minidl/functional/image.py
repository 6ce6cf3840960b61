"""Image resampling for the preprocessing layers: resizing and affine transforms of channels-last
batches ``(N, H, W, C)``, differentiable with respect to the images.

* ``resize`` is separable: along each axis an output pixel is a weighted sum of input pixels,
  so resizing is two matrix products, ``y = A_h x A_w^T`` (per image and channel), with
  ``A_h`` (out_h, in_h) and ``A_w`` (out_w, in_w) built by ``interpolation_matrix``. The
  gradient is the transposed products (the engine derives it from the matmuls).
* ``affine_transform`` maps every output pixel (row, col) to a source point of the input,
  ``col' = a0 col + a1 row + a2``, ``row' = b0 col + b1 row + b2`` (Keras' and TensorFlow's
  8-number transform ``[a0, a1, a2, b0, b1, b2, c0, c1]``, divided by ``c0 col + c1 row + 1``),
  and samples it (``AffineSample``): the nearest pixel, or the four neighbours weighted
  bilinearly; sources outside the image follow ``fill_mode``.
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module, scatter_add
from . import math as _math
from . import shape as _shape

FILL_MODES = ('constant', 'nearest', 'wrap', 'reflect')
INTERPOLATIONS = ('bilinear', 'nearest')


def interpolation_matrix(in_size, out_size, interpolation='bilinear', antialias=False):
    """The (out_size, in_size) float64 NumPy matrix of one axis of a resize, half-pixel centres:
    output pixel i sits at source position p = (i + 1/2) in/out - 1/2.

    * 'nearest': the pixel floor(p + 1/2) (TensorFlow's rule, torch's 'nearest-exact').
    * 'bilinear': (1 - t) x[floor p] + t x[floor p + 1] with t = p - floor p, p clamped to the
      image. With ``antialias`` and fewer output than input pixels, the triangle filter is
      stretched by in/out so that every input pixel contributes (PIL's and torch's antialias),
      its weights normalised to sum to 1.
    """
    scale = in_size / out_size
    centre = (np.arange(out_size) + 0.5) * scale        # in input pixel units, pixel j spans [j, j + 1)
    m = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if interpolation == 'nearest':
        m[rows, np.minimum(np.floor(centre).astype(np.int64), in_size - 1)] = 1.0
        return m
    if interpolation != 'bilinear':
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}.")
    if antialias and scale > 1:
        taps = np.arange(in_size) + 0.5
        m = np.maximum(0.0, 1.0 - np.abs(taps[None, :] - centre[:, None]) / scale)
        return m / m.sum(axis=1, keepdims=True)
    p = np.clip(centre - 0.5, 0, in_size - 1)
    lo = np.floor(p).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    t = p - lo
    np.add.at(m, (rows, lo), 1 - t)
    np.add.at(m, (rows, hi), t)
    return m


def aspect_crop_box(height, width, target_height, target_width):
    """(top, left, crop_height, crop_width): the largest centred window with the target's aspect ratio."""
    crop_h = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_w = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def resize(x, size, interpolation='bilinear', antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_value=0.0):
    """Resize a channels-last batch ``x`` (N, H, W, C) to ``size`` = (height, width).

    ``crop_to_aspect_ratio`` first takes the largest centred window with the target's aspect
    ratio; ``pad_to_aspect_ratio`` instead pads the image evenly with ``fill_value`` to it."""
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError('resize: give crop_to_aspect_ratio or pad_to_aspect_ratio, not both.')
    out_h, out_w = (int(s) for s in size)
    n, height, width, channels = x.shape
    if crop_to_aspect_ratio:
        top, left, crop_h, crop_w = aspect_crop_box(height, width, out_h, out_w)
        if (crop_h, crop_w) != (height, width):
            x = _shape.getitem(x, (slice(None), slice(top, top + crop_h), slice(left, left + crop_w)))
            height, width = crop_h, crop_w
    elif pad_to_aspect_ratio:
        pad_h = max(height, int(float(width * out_h) / out_w))
        pad_w = max(width, int(float(height * out_w) / out_h))
        top, left = int(float(pad_h - height) / 2), int(float(pad_w - width) / 2)
        if top or left:
            x = _shape.pad(x, ((0, 0), (top, top), (left, left), (0, 0)), fill_value)
            height, width = height + 2 * top, width + 2 * left
    xp = get_array_module(x.data)
    if (out_h, out_w) == (height, width):
        return x
    a_h = xp.asarray(interpolation_matrix(height, out_h, interpolation, antialias).astype(x.dtype))
    a_w = xp.asarray(interpolation_matrix(width, out_w, interpolation, antialias).astype(x.dtype))
    # Rows: (out_h, H) @ (N, H, W*C) -> (N, out_h, W*C); then columns: (out_w, W) @ (N*out_h, W, C).
    y = _math.matmul(a_h, _shape.reshape(x, (n, height, width * channels)))
    y = _math.matmul(a_w, _shape.reshape(y, (n * out_h, width, channels)))
    return _shape.reshape(y, (n, out_h, out_w, channels))


def _fix_index(i, size, fill_mode, xp):
    """Integer coordinates mapped into [0, size) by the fill mode ('constant' clips; its
    out-of-image corners are masked by the caller)."""
    if fill_mode in ('constant', 'nearest'):
        return xp.clip(i, 0, size - 1)
    if fill_mode == 'wrap':
        return xp.mod(i, size)
    # reflect, half-sample symmetric (d c b a | a b c d | d c b a): fold 2i + 1 on a period of 2 (2 size).
    j = xp.mod(2 * i + 1, 4 * size)
    j = xp.where(j >= 2 * size, 4 * size - 1 - j, j)
    return j // 2


class AffineSample(Function):
    """y[n, i, j, :] = x[n] sampled at the source point (rows[n, i, j], cols[n, i, j]).

    'nearest' takes the pixel at the rounded point; 'bilinear' the four neighbours (r, c),
    (r, c+1), (r+1, c), (r+1, c+1) of r = floor(row), c = floor(col), weighted
    (1-u)(1-v), (1-u)v, u(1-v), uv with u = row - r, v = col - c. Indices outside the image are
    folded back by ``fill_mode`` ('nearest' clamps, 'wrap' wraps, 'reflect' mirrors), or for
    'constant' the corner contributes ``fill_value`` instead of a pixel.
      y = sum_k w_k x[index_k],  dx = sum_k scatter(index_k, w_k gy)  (the fill value has no gradient).
    """
    def __init__(self, rows, cols, interpolation='bilinear', fill_mode='constant', fill_value=0.0):
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}.")
        if fill_mode not in FILL_MODES:
            raise ValueError(f"fill_mode must be one of {FILL_MODES}, got {fill_mode!r}.")
        self.rows, self.cols = rows, cols
        self.interpolation, self.fill_mode, self.fill_value = interpolation, fill_mode, fill_value

    def _corners(self, shape, xp):
        """[(flat pixel index, weight)] for every corner; weights are 0 for masked corners."""
        n, height, width = shape[:3]
        rows, cols = xp.asarray(self.rows), xp.asarray(self.cols)
        if self.interpolation == 'nearest':
            nodes_r = [(xp.rint(rows).astype(np.int64), 1.0)]
            nodes_c = [(xp.rint(cols).astype(np.int64), 1.0)]
        else:
            r0, c0 = xp.floor(rows), xp.floor(cols)
            u, v = rows - r0, cols - c0
            r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
            nodes_r = [(r0, 1 - u), (r0 + 1, u)]
            nodes_c = [(c0, 1 - v), (c0 + 1, v)]
        # Each axis' indices folded into the image once per node (2 each for bilinear), with a mask of
        # the nodes inside the image for fill_mode 'constant'.
        constant = self.fill_mode == 'constant'
        base = (xp.arange(n) * (height * width)).reshape(n, 1, 1)
        rows_in = [(base + _fix_index(r, height, self.fill_mode, xp) * width, w,
                    ((r >= 0) & (r < height)) if constant else None) for r, w in nodes_r]
        cols_in = [(_fix_index(c, width, self.fill_mode, xp), w,
                    ((c >= 0) & (c < width)) if constant else None) for c, w in nodes_c]
        corners = []
        for row_index, wr, inside_r in rows_in:
            for col_index, wc, inside_c in cols_in:
                weight = wr * wc
                if constant:
                    weight = weight * (inside_r & inside_c)
                corners.append((row_index + col_index, weight))
        return corners

    def forward(self, x):
        xp = get_array_module(x)
        channels = x.shape[-1]
        pixels = x.reshape(-1, channels)
        self.corners = self._corners(x.shape, xp)
        out_shape = tuple(self.rows.shape) + (channels,)
        y = xp.zeros(out_shape, x.dtype)
        total = 0.0
        for index, weight in self.corners:
            w = xp.asarray(weight, dtype=x.dtype)
            y += xp.take(pixels, index, axis=0) * w[..., None]   # pixels[index]: whole pixels at once
            total = total + w
        if self.fill_mode == 'constant' and self.fill_value:
            y += (x.dtype.type(1) - total)[..., None] * x.dtype.type(self.fill_value)
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        x_shape = self.inputs[0].shape
        gx = xp.zeros((int(np.prod(x_shape[:-1])), x_shape[-1]), gy.dtype)
        for index, weight in self.corners:
            w = xp.asarray(weight, dtype=gy.dtype)
            scatter_add(gx, index.reshape(-1), (gy * w[..., None]).reshape(-1, x_shape[-1]))
        return gx.reshape(x_shape)


def affine_transform(x, transform, interpolation='bilinear', fill_mode='constant', fill_value=0.0):
    """Sample a channels-last batch ``x`` (N, H, W, C) through per-image transforms ``transform``
    (N, 8) (or one (8,) for all): output pixel (row, col) reads the input at
    col' = (a0 col + a1 row + a2) / k, row' = (b0 col + b1 row + b2) / k, k = c0 col + c1 row + 1."""
    xp = get_array_module(x.data)
    n, height, width, _ = x.shape
    t = np.asarray(transform, dtype=np.float64).reshape(-1, 8)
    if len(t) == 1 and n != 1:
        t = np.repeat(t, n, axis=0)
    if len(t) != n:
        raise ValueError(f'affine_transform: {len(t)} transforms for a batch of {n} images.')
    t = xp.asarray(t)
    col = xp.arange(width, dtype=np.float64).reshape(1, 1, width)
    row = xp.arange(height, dtype=np.float64).reshape(1, height, 1)
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i].reshape(n, 1, 1) for i in range(8))
    k = c0 * col + c1 * row + 1
    cols = (a0 * col + a1 * row + a2) / k
    rows = (b0 * col + b1 * row + b2) / k
    return AffineSample(rows, cols, interpolation, fill_mode, fill_value)(x)
