"""Convolution on channels-last data, the reference: im2col + one matrix product.

``x`` is ``(N, *spatial, C)`` and the kernel ``w`` is ``(*kernel, C, F)`` (Keras' layout). Pad
``x``, then copy every window into one row of a column matrix::

    col[(n, *o), (*i, c)] = xpad[n, *(o * stride + i), c]      o: output position, i: kernel offset

so that the convolution is a single matrix product, already channels-last::

    y = col @ w.reshape(-1, F) + b

Backward, from the upstream gradient ``gy`` reshaped to ``(rows, F)``:

    gw   = col^T @ gy           (every window, weighted by how much its output mattered)
    gb   = sum of gy over the rows
    gcol = gy @ w.reshape(-1, F)^T
    gx   = col2im(gcol)         (each window's gradient added back where the window was read)

``col2im`` is the exact adjoint of ``im2col``: where windows overlap, their gradients add up.
The same window helpers serve pooling (``pool.py``). The faster forms of this op (the banded and
FFT lowerings for the course's wide kernels, the stride-1 input gradient, the GPU im2col kernel)
are in ``minidl/kernels/conv.py``; this file does not need them to be read.
"""
import math

import numpy as np

from .. import kernels
from ..autograd import Function
from ..backend import get_array_module
from . import geometry


def pad_spatial(x, pads, value=0):
    """``x`` padded with ``value`` on its spatial axes (all but the first and the last)."""
    if not any(before or after for before, after in pads):
        return x
    return get_array_module(x).pad(x, ((0, 0),) + tuple(pads) + ((0, 0),), constant_values=value)


def crop_spatial(x, pads):
    """The inverse of ``pad_spatial``: drop the padded borders."""
    if not any(before or after for before, after in pads):
        return x
    return x[(slice(None),) + tuple(slice(b, x.shape[i + 1] - a) for i, (b, a) in enumerate(pads))]


def window_view(xpad, kernel, strides, op='conv'):
    """Every window of ``xpad`` ``(N, *spatial, C)`` as one array ``(N, *out, *kernel, C)``,
    ``view[n, *o, *i, c] = xpad[n, *(o * stride + i), c]``: a strided view, no copy."""
    nd = xpad.ndim - 2
    out = geometry.padded_output_shape(xpad.shape[1:-1], ((0, 0),) * nd, kernel, strides, op)
    st = xpad.strides
    shape = (xpad.shape[0],) + out + tuple(kernel) + (xpad.shape[-1],)
    byte_strides = ((st[0],) + tuple(st[1 + a] * s for a, s in enumerate(strides))
                    + tuple(st[1:-1]) + (st[-1],))
    return get_array_module(xpad).lib.stride_tricks.as_strided(xpad, shape, byte_strides)


def offset_slices(offset, strides, out):
    """The index of the input elements that kernel offset ``offset`` reads, one per output
    position: ``xpad[index]`` has the output's shape ``(N, *out, C)``."""
    return ((slice(None),) + tuple(slice(i, i + s * (n - 1) + 1, s) for i, s, n in zip(offset, strides, out))
            + (slice(None),))


def im2col(x, kernel, strides, pads, op='conv'):
    """The column matrix ``(N * prod(out), prod(kernel) * C)`` of ``x`` padded by ``pads``, and
    the output's spatial shape ``out``."""
    view = window_view(pad_spatial(x, pads), kernel, strides, op)
    out = view.shape[1:x.ndim - 1]
    col = view.reshape(x.shape[0] * math.prod(out), math.prod(kernel) * x.shape[-1])  # the one copy
    return col, out


def col2im(col, x_shape, kernel, strides, pads):
    """The adjoint of ``im2col``: ``col`` (anything that reshapes to ``(N, *out, *kernel, C)``)
    goes back onto an input of shape ``x_shape``. For each kernel offset ``i`` the block
    ``col[:, *out, *i, :]`` is added onto the input positions that offset read."""
    nd = len(x_shape) - 2
    xp = get_array_module(col)
    out = geometry.padded_output_shape(x_shape[1:-1], pads, kernel, strides)
    windows = col if col.ndim == 2 * nd + 2 else col.reshape((x_shape[0],) + out + tuple(kernel) + (x_shape[-1],))
    padded_shape = (x_shape[0],) + tuple(n + sum(p) for n, p in zip(x_shape[1:-1], pads)) + (x_shape[-1],)
    gx = xp.zeros(padded_shape, col.dtype)
    for offset in np.ndindex(*kernel):
        gx[offset_slices(offset, strides, out)] += windows[(slice(None),) * (1 + nd) + offset]
    return crop_spatial(gx, pads)


class Conv(Function):
    """y = im2col(x) @ w.reshape(-1, F) + b over 1 or 2 spatial axes (the module docstring has
    the math). ``pads`` are the zeros before and after each spatial axis
    (``geometry.pad_amounts``); ``op`` names the op in errors."""
    def __init__(self, strides, pads, op='conv'):
        self.strides, self.pads, self.op = strides, pads, op

    def forward(self, x, w, b=None):
        nd, filters = x.ndim - 2, w.shape[-1]
        self.col, out = im2col(x, w.shape[:nd], self.strides, self.pads, self.op)
        y = self.col @ w.reshape(-1, filters)
        if b is not None:
            y = y + b
        return y.reshape((x.shape[0],) + out + (filters,))

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        nd, filters = x.ndim - 2, w.shape[-1]
        gy = gy.reshape(-1, filters)
        gw = (self.col.T @ gy).reshape(w.shape) if w.requires_grad else None
        gx = None
        if x.requires_grad:
            gcol = gy @ w.data.reshape(-1, filters).T
            gx = col2im(gcol, x.shape, w.shape[:nd], self.strides, self.pads)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, gy.sum(axis=0)


def _check_conv_shapes(op, x, w, b, nd):
    x_shape, w_shape = tuple(x.shape), tuple(w.shape)
    layout = '(N, W, C)' if nd == 1 else '(N, H, W, C)'
    k_layout = '(k, C, F)' if nd == 1 else '(kh, kw, C, F)'
    if len(x_shape) != nd + 2:
        raise ValueError(f'{op}: expected an input {layout}, got shape {x_shape}.')
    if len(w_shape) != nd + 2:
        raise ValueError(f'{op}: expected a kernel {k_layout}, got shape {w_shape}.')
    if x_shape[-1] != w_shape[-2]:
        raise ValueError(f'{op}: the input has {x_shape[-1]} channels (shape {x_shape}) but the kernel '
                         f'expects {w_shape[-2]} (shape {w_shape}); the kernel must be {k_layout} with '
                         f'C = {x_shape[-1]}.')
    if b is not None and tuple(b.shape) != (w_shape[-1],):
        raise ValueError(f'{op}: the bias must have shape ({w_shape[-1]},) to match the kernel {w_shape}, '
                         f'got {tuple(b.shape)}.')


def _conv(op, nd, x, w, b, strides, padding, allowed):
    _check_conv_shapes(op, x, w, b, nd)
    strides = geometry.normalize_tuple(strides, nd, 'strides', op)
    kernel = tuple(w.shape[:nd])
    pads = geometry.pad_amounts(tuple(x.shape[1:-1]), kernel, strides, padding, owner=op, allowed=allowed)
    geometry.padded_output_shape(tuple(x.shape[1:-1]), pads, kernel, strides, op)  # explains a misfit
    f = kernels.make('conv', Conv, x, w, strides=strides, pads=pads, op=op)
    return f(x, w) if b is None else f(x, w, b)


def conv2d(x, w, b=None, strides=1, padding='valid'):
    """2-D cross-correlation (Keras Conv2D): x (N, H, W, C), w (kh, kw, C, F), b (F,) or None;
    ``padding`` 'valid' or 'same'."""
    return _conv('conv2d', 2, x, w, b, strides, padding, ('valid', 'same'))


def conv1d(x, w, b=None, strides=1, padding='valid'):
    """1-D cross-correlation (Keras Conv1D): x (N, W, C), w (k, C, F), b (F,) or None;
    ``padding`` 'valid', 'same' or 'causal' (output t sees the inputs up to t)."""
    return _conv('conv1d', 1, x, w, b, strides, padding, ('valid', 'same', 'causal'))
