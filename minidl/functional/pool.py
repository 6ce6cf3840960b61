"""Pooling and upsampling on channels-last data, over the window view of ``conv.py``.

Each pass of the loops below handles one kernel offset for every output position at once (a
strided slice), so the cost is ``prod(pool)`` vectorised passes and no Python loop over the batch
or the pixels. 'same' follows Keras: max pooling pads with -inf (padding never wins a max) and
average pooling divides by the number of real inputs in each window.
"""
import math

import numpy as np

from ..autograd import Function
from ..backend import elementwise_kernel, get_array_module, is_cupy
from .conv import (GEOMETRY_PARAMS, as_tuple, col2im, crop_spatial, offset_slices, pad_amounts,
                   pad_spatial, kernel_geometry, window_shape, window_view)
from .reduce import max as reduce_max, mean as reduce_mean


def _offsets(view, nd):
    """(offset, slice of the window view) for each kernel offset, in row-major order."""
    lead = (slice(None),) * (1 + nd)
    for offset in np.ndindex(*view.shape[1 + nd:1 + 2 * nd]):
        yield offset, view[lead + offset]


def _window_sum(view, nd):
    """Sum over the kernel axes of a window view, one strided slice at a time."""
    total = None
    for _, v in _offsets(view, nd):
        if total is None:
            total = v.copy()
        else:
            total += v
    return total


class MaxPool(Function):
    """y = max over each window. The gradient goes to ONE arg-max per window: the first element
    (in row-major window order) equal to the maximum, as Keras does for ties. On the GPU,
    disjoint windows take one kernel each way (``max_pool_gpu``), which keeps the arg-max."""
    def __init__(self, pool, strides, padding, op):
        self.pool, self.strides, self.padding, self.op = pool, strides, padding, op

    def forward(self, x):
        xp = get_array_module(x)
        self.pads = pad_amounts(x.shape[1:-1], self.pool, self.strides, self.padding)
        if max_pool_fits_gpu(x, self.pool, self.strides):
            out = window_shape(x.shape[1:-1], self.pads, self.pool, self.strides, self.op)
            y, self.arg = max_pool_gpu(x, self.pool, self.strides, self.pads, out)
            return y
        self.arg = None
        xpad = pad_spatial(x, self.pads, value=-np.inf)
        self.view = window_view(xpad, self.pool, self.strides, self.op)
        self.padded_shape = xpad.shape
        y = None
        for _, v in _offsets(self.view, x.ndim - 2):
            y = v.copy() if y is None else xp.maximum(y, v, out=y)
        self.y = y
        return y

    def backward(self, gy):
        """Offset by offset, ``gy`` goes where the window's maximum is and no earlier offset took
        it (``hit > taken`` is ``hit and not taken``). Disjoint windows (stride >= pool) are written
        in place, with no temporary; overlapping ones accumulate."""
        if self.arg is not None:
            return max_pool_grad_gpu(gy, self.arg, self.inputs[0].shape, self.pool, self.strides, self.pads)
        xp = get_array_module(gy)
        nd = gy.ndim - 2
        disjoint = all(s >= k for k, s in zip(self.pool, self.strides))
        covered = disjoint and all(s == k and (n - k) % s == 0
                                   for n, k, s in zip(self.padded_shape[1:-1], self.pool, self.strides))
        gx = (xp.empty if covered else xp.zeros)(self.padded_shape, gy.dtype)
        taken = None
        for offset, v in _offsets(self.view, nd):
            hit = v == self.y
            if taken is None:
                taken = hit.copy()
            else:
                xp.greater(hit, taken, out=hit)
                taken |= hit
            index = offset_slices(offset, self.strides, gy.shape[1:-1])
            if disjoint:
                xp.multiply(gy, hit, out=gx[index])
            else:
                gx[index] += gy * hit
        return crop_spatial(gx, self.pads)


def max_pool_fits_gpu(x, pool, strides):
    """The one-kernel max pooling handles disjoint windows (stride >= pool, as Keras' default)
    of at most 127 elements (the arg-max is an int8)."""
    return is_cupy(x) and all(s >= k for k, s in zip(pool, strides)) and math.prod(pool) <= 127


def max_pool_gpu(x, pool, strides, pads, out_spatial):
    """y = the maximum of each window (padding excluded) and arg = its row-major position in
    the window, the first one on ties."""
    xp = get_array_module(x)
    y = xp.empty((x.shape[0],) + tuple(out_spatial) + (x.shape[-1],), x.dtype)
    arg = xp.empty(y.shape, xp.int8)
    pool_kernel = elementwise_kernel('minidl_max_pool', 'raw T x, ' + GEOMETRY_PARAMS, 'T y, int8 arg', '''
        int c = i % C; ptrdiff_t t = i / C;
        int ow = t % OW; t /= OW; int oh = t % OH; ptrdiff_t n = t / OH;
        bool found = false; T best = 0; int best_k = 0;
        for (int a = 0; a < KH; ++a) {
            int h = oh * SH + a - PH;
            if (h < 0 || h >= H) continue;
            for (int b = 0; b < KW; ++b) {
                int w = ow * SW + b - PW;
                if (w < 0 || w >= W) continue;
                T v = x[((n * H + h) * W + w) * C + c];
                if (!found || v > best) { best = v; best_k = a * KW + b; found = true; }
            }
        }
        y = best; arg = best_k;''')
    geometry = kernel_geometry(x.shape, pool, strides, pads, out_spatial)
    pool_kernel(xp.ascontiguousarray(x).reshape(-1), *geometry, y, arg)
    return y, arg


def max_pool_grad_gpu(gy, arg, x_shape, pool, strides, pads):
    """gx[n, h, w, c] = gy at the window that holds (h, w) if the window's arg-max is there, else
    0. Windows are disjoint, so each input has at most one window: no accumulation."""
    xp = get_array_module(gy)
    gx = xp.empty(x_shape, gy.dtype)
    grad_kernel = elementwise_kernel('minidl_max_pool_grad', 'raw T gy, raw int8 arg, ' + GEOMETRY_PARAMS, 'T gx', '''
        int c = i % C; ptrdiff_t t = i / C;
        int w = t % W; t /= W; int h = t % H; ptrdiff_t n = t / H;
        int oh = (h + PH) / SH, a = h + PH - oh * SH, ow = (w + PW) / SW, b = w + PW - ow * SW;
        T g = 0;
        if (a < KH && b < KW && oh < OH && ow < OW) {
            ptrdiff_t o = ((n * OH + oh) * OW + ow) * C + c;
            if (arg[o] == a * KW + b) g = gy[o];
        }
        gx = g;''')
    geometry = kernel_geometry(x_shape, pool, strides, pads, gy.shape[1:-1])
    grad_kernel(xp.ascontiguousarray(gy).reshape(-1), arg.reshape(-1), *geometry, gx)
    return gx


class AvgPool(Function):
    """y = mean over the real (unpadded) inputs of each window."""
    def __init__(self, pool, strides, padding, op):
        self.pool, self.strides, self.padding, self.op = pool, strides, padding, op

    def forward(self, x):
        xp = get_array_module(x)
        nd = x.ndim - 2
        self.pads = pad_amounts(x.shape[1:-1], self.pool, self.strides, self.padding)
        xpad = pad_spatial(x, self.pads)
        view = window_view(xpad, self.pool, self.strides, self.op)
        self.padded_shape = xpad.shape
        self.count = self._window_counts(xp, x, nd)
        return _window_sum(view, nd) / self.count

    def _window_counts(self, xp, x, nd):
        """How many real inputs each window covers: prod(pool), or fewer at 'same' borders."""
        if not any(b or a for b, a in self.pads):
            return x.dtype.type(math.prod(self.pool))
        ones = pad_spatial(xp.ones((1,) + x.shape[1:-1] + (1,), x.dtype), self.pads)
        return _window_sum(window_view(ones, self.pool, self.strides, self.op), nd)

    def backward(self, gy):
        g = gy / self.count
        blocks = ((offset, g) for offset in np.ndindex(*self.pool))
        gx = col2im(blocks, self.padded_shape, self.pool, self.strides, get_array_module(gy), gy.dtype)
        return crop_spatial(gx, self.pads)


class UpSample(Function):
    """Nearest neighbour: y[n, i, j, c] = x[n, i // sh, j // sw, c]; the gradient sums each block."""
    def __init__(self, size):
        self.size = size

    def forward(self, x):
        n, h, w, c = x.shape
        sh, sw = self.size
        xp = get_array_module(x)
        blocks = xp.broadcast_to(x[:, :, None, :, None, :], (n, h, sh, w, sw, c))
        return blocks.reshape(n, h * sh, w * sw, c)

    def backward(self, gy):
        n, h, w, c = self.inputs[0].shape
        return gy.reshape(n, h, self.size[0], w, self.size[1], c).sum(axis=(2, 4))


def _check_rank(op, x, nd):
    layout = '(N, W, C)' if nd == 1 else '(N, H, W, C)'
    if len(x.shape) != nd + 2:
        raise ValueError(f'{op}: expected an input {layout}, got shape {tuple(x.shape)}.')


def _pool(cls, op, nd, x, pool_size, strides, padding):
    _check_rank(op, x, nd)
    pool = as_tuple(pool_size, nd, f'{op} pool_size')
    strides = pool if strides is None else as_tuple(strides, nd, f'{op} strides')
    return cls(pool, strides, padding, op)(x)


def max_pool2d(x, pool_size=2, strides=None, padding='valid'):
    """Keras MaxPooling2D on x (N, H, W, C); strides default to the pool size."""
    return _pool(MaxPool, 'max_pool2d', 2, x, pool_size, strides, padding)


def avg_pool2d(x, pool_size=2, strides=None, padding='valid'):
    """Keras AveragePooling2D on x (N, H, W, C); strides default to the pool size."""
    return _pool(AvgPool, 'avg_pool2d', 2, x, pool_size, strides, padding)


def max_pool1d(x, pool_size=2, strides=None, padding='valid'):
    """Keras MaxPooling1D on x (N, W, C); strides default to the pool size."""
    return _pool(MaxPool, 'max_pool1d', 1, x, pool_size, strides, padding)


def avg_pool1d(x, pool_size=2, strides=None, padding='valid'):
    """Keras AveragePooling1D on x (N, W, C); strides default to the pool size."""
    return _pool(AvgPool, 'avg_pool1d', 1, x, pool_size, strides, padding)


def global_avg_pool2d(x):
    """Mean over H and W: (N, H, W, C) -> (N, C)."""
    _check_rank('global_avg_pool2d', x, 2)
    return reduce_mean(x, axis=(1, 2))


def global_max_pool2d(x):
    """Max over H and W: (N, H, W, C) -> (N, C); tied maxima share the gradient (as TF's reduce_max)."""
    _check_rank('global_max_pool2d', x, 2)
    return reduce_max(x, axis=(1, 2))


def global_avg_pool1d(x):
    """Mean over the steps: (N, W, C) -> (N, C)."""
    _check_rank('global_avg_pool1d', x, 1)
    return reduce_mean(x, axis=1)


def global_max_pool1d(x):
    """Max over the steps: (N, W, C) -> (N, C); tied maxima share the gradient (as TF's reduce_max)."""
    _check_rank('global_max_pool1d', x, 1)
    return reduce_max(x, axis=1)


def upsample2d(x, size=2):
    """Keras UpSampling2D (nearest): (N, H, W, C) -> (N, H*sh, W*sw, C)."""
    _check_rank('upsample2d', x, 2)
    return UpSample(as_tuple(size, 2, 'upsample2d size'))(x)
