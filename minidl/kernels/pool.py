"""Fast forms of the ``max_pool`` op (reference: ``functional/pool.py``'s ``MaxPool``), with the
reference's constructor ``(pool, strides, pads, op)``, tried in this order:

``MaxPoolGPU``      CuPy, 1-D and 2-D disjoint windows (stride >= pool, Keras' default) of at
                    most 127 elements: one kernel forward (maximum and its int8 arg-max) and one backward.
``MaxPoolOffsets``  everything else (3-D pooling too): no window copy and no arg-max array. The forward is one
                    ``maximum`` pass per kernel offset into one output buffer; the backward walks
                    the offsets again, sending ``gy`` where the window's maximum is and no earlier
                    offset took it, written in place into ``gx`` for disjoint windows.

Both pick the same element as the reference on ties: the first in row-major window order.
"""
import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from . import register
from .cuda import GEOMETRY_PARAMS, elementwise_kernel, kernel_geometry


def _disjoint(pool, strides):
    return all(s >= k for k, s in zip(pool, strides))


def _out_shape(spatial, pads, pool, strides):
    return tuple((n + b + a - k) // s + 1 for n, (b, a), k, s in zip(spatial, pads, pool, strides))


@register('max_pool', backend='cupy',
          when=lambda x, pool, strides, pads, op: len(x.shape) <= 4 and _disjoint(pool, strides)
          and math.prod(pool) <= 127)
class MaxPoolGPU(Function):
    """Disjoint windows on the GPU: y = the maximum of each window (padding excluded) and
    arg = its row-major position in the window (int8, the first one on ties); backward,
    gx[n, h, w, c] = gy of the one window holding (h, w) if its arg-max is there, else 0."""
    def __init__(self, pool, strides, pads, op='max_pool'):
        self.pool, self.strides, self.pads, self.op = pool, strides, pads, op

    def forward(self, x):
        xp = get_array_module(x)
        out = _out_shape(x.shape[1:-1], self.pads, self.pool, self.strides)
        y = xp.empty((x.shape[0],) + out + (x.shape[-1],), x.dtype)
        self.arg = xp.empty(y.shape, xp.int8)
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
        geometry = kernel_geometry(x.shape, self.pool, self.strides, self.pads, out)
        pool_kernel(xp.ascontiguousarray(x).reshape(-1), *geometry, y, self.arg)
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        x_shape = self.inputs[0].shape
        gx = xp.empty(x_shape, gy.dtype)
        grad_kernel = elementwise_kernel(
            'minidl_max_pool_grad', 'raw T gy, raw int8 arg, ' + GEOMETRY_PARAMS, 'T gx', '''
            int c = i % C; ptrdiff_t t = i / C;
            int w = t % W; t /= W; int h = t % H; ptrdiff_t n = t / H;
            int oh = (h + PH) / SH, a = h + PH - oh * SH, ow = (w + PW) / SW, b = w + PW - ow * SW;
            T g = 0;
            if (a < KH && b < KW && oh < OH && ow < OW) {
                ptrdiff_t o = ((n * OH + oh) * OW + ow) * C + c;
                if (arg[o] == a * KW + b) g = gy[o];
            }
            gx = g;''')
        geometry = kernel_geometry(x_shape, self.pool, self.strides, self.pads, gy.shape[1:-1])
        grad_kernel(xp.ascontiguousarray(gy).reshape(-1), self.arg.reshape(-1), *geometry, gx)
        return gx


@register('max_pool')
class MaxPoolOffsets(Function):
    """Max pooling one kernel offset at a time over a strided view, on both backends.

    Forward: y = maximum over the offsets, accumulated in place. Backward: for each offset,
    ``hit = (view[offset] == y) and not taken`` (``hit > taken`` on booleans), gx[offset's
    inputs] gets gy * hit; disjoint windows are written in place, overlapping ones added. When
    the windows also tile the padded input exactly, gx needs no zeroing first."""
    def __init__(self, pool, strides, pads, op='max_pool'):
        self.pool, self.strides, self.pads, self.op = pool, strides, pads, op

    def _offsets(self, nd):
        lead = (slice(None),) * (1 + nd)
        for offset in np.ndindex(*self.pool):
            yield offset, self.view[lead + offset]

    def forward(self, x):
        xp = get_array_module(x)
        nd = x.ndim - 2
        xpad = x if not any(b or a for b, a in self.pads) else \
            xp.pad(x, ((0, 0),) + tuple(self.pads) + ((0, 0),), constant_values=-np.inf)
        self.padded_shape = xpad.shape
        self.out = _out_shape(x.shape[1:-1], self.pads, self.pool, self.strides)
        st = xpad.strides
        shape = (x.shape[0],) + self.out + tuple(self.pool) + (x.shape[-1],)
        byte_strides = ((st[0],) + tuple(st[1 + a] * s for a, s in enumerate(self.strides))
                        + tuple(st[1:-1]) + (st[-1],))
        self.view = xp.lib.stride_tricks.as_strided(xpad, shape, byte_strides)
        y = None
        for _, v in self._offsets(nd):
            y = v.copy() if y is None else xp.maximum(y, v, out=y)
        self.y = y
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        nd = gy.ndim - 2
        disjoint = _disjoint(self.pool, self.strides)
        covered = disjoint and all(s == k and (n - k) % s == 0
                                   for n, k, s in zip(self.padded_shape[1:-1], self.pool, self.strides))
        gx = (xp.empty if covered else xp.zeros)(self.padded_shape, gy.dtype)
        taken = None
        for offset, v in self._offsets(nd):
            hit = v == self.y
            if taken is None:
                taken = hit.copy()
            else:
                xp.greater(hit, taken, out=hit)
                taken |= hit
            index = ((slice(None),) + tuple(slice(o, o + s * (n - 1) + 1, s)
                                            for o, s, n in zip(offset, self.strides, self.out)) + (slice(None),))
            if disjoint:
                xp.multiply(gy, hit, out=gx[index])
            else:
                gx[index] += gy * hit
        if not any(b or a for b, a in self.pads):
            return gx
        return gx[(slice(None),) + tuple(slice(b, gx.shape[i + 1] - a) for i, (b, a) in enumerate(self.pads))]

