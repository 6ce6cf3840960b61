"""Convolutions on channels-last data, the reference: im2col + one matrix product, in 1, 2 or 3
spatial dimensions, with strides, dilation and groups; the transposed convolution as its adjoint.

``x`` is ``(N, *spatial, C)`` and the kernel ``w`` is ``(*kernel, C // groups, F)`` (Keras'
layout). Pad ``x``, then copy every window into one row of a column matrix::

    col[(n, *o), (*i, c)] = xpad[n, *(o * stride + i * dilation), c]    o: output position, i: kernel offset

so that the convolution is a single matrix product, already channels-last::

    y = col @ w.reshape(-1, F) + b

Backward, from the upstream gradient ``gy`` reshaped to ``(rows, F)``:

    gw   = col^T @ gy           (every window, weighted by how much its output mattered)
    gb   = sum of gy over the rows
    gcol = gy @ w.reshape(-1, F)^T
    gx   = col2im(gcol)         (each window's gradient added back where the window was read)

``col2im`` is the exact adjoint of ``im2col``: where windows overlap, their gradients add up.

**Groups.** With ``groups = G`` the channels split into G blocks of ``C / G`` and the filters into
G blocks of ``F / G``; block g of the output sees block g of the input only. The column matrix
is the same; its ``(*i, c)`` columns are regrouped to ``(G, rows, K * C / G)`` and the kernel to
``(G, K * C / G, F / G)``, and the one matrix product becomes G of them (``groups=1`` is the
plain GEMM above). A depthwise convolution is the case ``G = C``: every channel is convolved
with its own ``depth_multiplier`` filters (``depthwise_conv``); a separable convolution is a
depthwise one followed by a 1x1 convolution (``separable_conv``).

**Transposed convolution** (``ConvTranspose``): the adjoint of the convolution above, so its
forward is that backward's last two lines and its backward is that forward::

    y  = col2im(x @ w.reshape(-1, C)^T) + b        w: (*kernel, F, C), Keras' transposed layout
    gx = im2col(gy) @ w.reshape(-1, C),  gw = im2col(gy)^T @ x,  gb = sum of gy

The pads are those of the convolution that maps the output's size back to the input's
(``geometry.transposed_pad_amounts``).

The same window helpers serve pooling (``pool.py``). The faster forms of this op (the banded and
FFT lowerings for the course's wide kernels, the stride-1 input gradient, depthwise and
transposed convolutions offset by offset, the GPU im2col kernel) are in ``minidl/kernels/conv.py``;
this file does not need them to be read.
"""
import math

import numpy as np

from .. import kernels
from ..autograd import Function
from ..backend import get_array_module
from . import geometry
from .shape import reshape as _reshape

LAYOUTS = {1: ('(N, W, C)', '(k, C, F)'), 2: ('(N, H, W, C)', '(kh, kw, C, F)'),
           3: ('(N, D, H, W, C)', '(kd, kh, kw, C, F)')}


def pad_spatial(x, pads, value=0):
    """``x`` with ``(before, after)`` positions added on each spatial axis (all but the first and
    the last), filled with ``value``; a negative amount removes that many positions instead (the
    pads of a transposed convolution can be negative)."""
    if not any(before or after for before, after in pads):
        return x
    if any(before < 0 or after < 0 for before, after in pads):
        x = x[(slice(None),) + tuple(slice(max(-before, 0), x.shape[i + 1] - max(-after, 0))
                                     for i, (before, after) in enumerate(pads))]
        pads = tuple((max(before, 0), max(after, 0)) for before, after in pads)
        if not any(before or after for before, after in pads):
            return x
    return get_array_module(x).pad(x, ((0, 0),) + tuple(pads) + ((0, 0),), constant_values=value)


def crop_spatial(x, pads):
    """The adjoint of ``pad_spatial`` (with zeros): drop what it added, and put zeros back where
    it removed positions."""
    return pad_spatial(x, tuple((-before, -after) for before, after in pads))


def window_view(xpad, kernel, strides, op='conv', dilation=None):
    """Every window of ``xpad`` ``(N, *spatial, C)`` as one array ``(N, *out, *kernel, C)``,
    ``view[n, *o, *i, c] = xpad[n, *(o * stride + i * dilation), c]``: a strided view, no copy."""
    nd = xpad.ndim - 2
    dilation = dilation or (1,) * nd
    out = geometry.padded_output_shape(xpad.shape[1:-1], ((0, 0),) * nd, kernel, strides, op, dilation)
    st = xpad.strides
    shape = (xpad.shape[0],) + out + tuple(kernel) + (xpad.shape[-1],)
    byte_strides = ((st[0],) + tuple(st[1 + a] * s for a, s in enumerate(strides))
                    + tuple(st[1 + a] * d for a, d in enumerate(dilation)) + (st[-1],))
    return get_array_module(xpad).lib.stride_tricks.as_strided(xpad, shape, byte_strides)


def offset_slices(offset, strides, out, dilation=None):
    """The index of the input elements that kernel offset ``offset`` reads, one per output
    position: ``xpad[index]`` has the output's shape ``(N, *out, C)``."""
    dilation = dilation or (1,) * len(offset)
    return ((slice(None),) + tuple(slice(i * d, i * d + s * (n - 1) + 1, s)
                                   for i, s, n, d in zip(offset, strides, out, dilation))
            + (slice(None),))


def im2col(x, kernel, strides, pads, op='conv', dilation=None):
    """The column matrix ``(N * prod(out), prod(kernel) * C)`` of ``x`` padded by ``pads``, and
    the output's spatial shape ``out``."""
    view = window_view(pad_spatial(x, pads), kernel, strides, op, dilation)
    out = view.shape[1:x.ndim - 1]
    col = view.reshape(x.shape[0] * math.prod(out), math.prod(kernel) * x.shape[-1])  # the one copy
    return col, out


def col2im(col, x_shape, kernel, strides, pads, dilation=None):
    """The adjoint of ``im2col``: ``col`` (anything that reshapes to ``(N, *out, *kernel, C)``)
    goes back onto an input of shape ``x_shape``. For each kernel offset ``i`` the block
    ``col[:, *out, *i, :]`` is added onto the input positions that offset read."""
    nd = len(x_shape) - 2
    xp = get_array_module(col)
    out = geometry.padded_output_shape(x_shape[1:-1], pads, kernel, strides, dilation=dilation)
    windows = col if col.ndim == 2 * nd + 2 else col.reshape((x_shape[0],) + out + tuple(kernel) + (x_shape[-1],))
    padded_shape = (x_shape[0],) + tuple(n + sum(p) for n, p in zip(x_shape[1:-1], pads)) + (x_shape[-1],)
    gx = xp.zeros(padded_shape, col.dtype)
    for offset in np.ndindex(*kernel):
        gx[offset_slices(offset, strides, out, dilation)] += windows[(slice(None),) * (1 + nd) + offset]
    return crop_spatial(gx, pads)


def split_groups(col, kernel_size, groups):
    """(rows, K * C) -> (G, rows, K * C / G): the columns each group of channels reads."""
    rows = col.shape[0]
    return col.reshape(rows, kernel_size, groups, -1).transpose(2, 0, 1, 3).reshape(groups, rows, -1)


def merge_groups(gcol, kernel_size):
    """The inverse of ``split_groups``: (G, rows, K * C / G) -> (rows, K * C)."""
    groups, rows = gcol.shape[:2]
    return gcol.reshape(groups, rows, kernel_size, -1).transpose(1, 2, 0, 3).reshape(rows, -1)


def group_kernel(w, groups):
    """(*kernel, C / G, F) -> (G, K * C / G, F / G): each group's filters as one matrix."""
    return w.reshape(-1, groups, w.shape[-1] // groups).transpose(1, 0, 2)


class Conv(Function):
    """y = im2col(x) @ w + b over 1, 2 or 3 spatial axes, in ``groups`` independent blocks of
    channels (the module docstring has the math). ``pads`` are the zeros before and after each
    spatial axis (``geometry.pad_amounts``), ``dilation`` the spacing of the kernel taps; ``op``
    names the op in errors."""
    def __init__(self, strides, pads, op='conv', dilation=None, groups=1):
        self.strides, self.pads, self.op = strides, pads, op
        self.dilation, self.groups = dilation, groups

    def forward(self, x, w, b=None):
        nd, filters = x.ndim - 2, w.shape[-1]
        kernel = w.shape[:nd]
        col, out = im2col(x, kernel, self.strides, self.pads, self.op, self.dilation)
        self.col = split_groups(col, math.prod(kernel), self.groups)      # (G, rows, K C/G)
        y = self.col @ group_kernel(w, self.groups)                       # (G, rows, F/G)
        y = y.transpose(1, 0, 2).reshape(-1, filters)
        if b is not None:
            y = y + b
        return y.reshape((x.shape[0],) + out + (filters,))

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        nd, filters = x.ndim - 2, w.shape[-1]
        kernel = w.shape[:nd]
        gy2 = gy.reshape(-1, filters)
        gyg = gy2.reshape(-1, self.groups, filters // self.groups).transpose(1, 0, 2)    # (G, rows, F/G)
        gw = None
        if w.requires_grad:
            gw = (self.col.transpose(0, 2, 1) @ gyg).transpose(1, 0, 2).reshape(w.shape)
        gx = None
        if x.requires_grad:
            gcol = merge_groups(gyg @ group_kernel(w.data, self.groups).transpose(0, 2, 1), math.prod(kernel))
            gx = col2im(gcol, x.shape, kernel, self.strides, self.pads, self.dilation)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, gy2.sum(axis=0)


class ConvTranspose(Function):
    """y = col2im(x @ w.reshape(-1, C)^T) + b: the adjoint of ``Conv`` (the module docstring has
    the math). ``w`` is ``(*kernel, F, C)``; ``pads`` are those of the convolution from the
    output back to the input (``geometry.transposed_pad_amounts``), ``out`` the output's
    spatial shape."""
    def __init__(self, strides, pads, out, op='conv_transpose', dilation=None):
        self.strides, self.pads, self.out, self.op, self.dilation = strides, pads, out, op, dilation

    def forward(self, x, w, b=None):
        nd, channels, filters = x.ndim - 2, x.shape[-1], w.shape[-2]
        gcol = x.reshape(-1, channels) @ w.reshape(-1, channels).T              # (rows, K F)
        y = col2im(gcol, (x.shape[0],) + tuple(self.out) + (filters,), w.shape[:nd], self.strides, self.pads,
                   self.dilation)
        return y if b is None else y + b

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        nd, channels = x.ndim - 2, x.shape[-1]
        col, _ = im2col(gy, w.shape[:nd], self.strides, self.pads, self.op, self.dilation)   # (rows, K F)
        gx = (col @ w.data.reshape(-1, channels)).reshape(x.shape) if x.requires_grad else None
        gw = (col.T @ x.data.reshape(-1, channels)).reshape(w.shape) if w.requires_grad else None
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, gy.reshape(-1, gy.shape[-1]).sum(axis=0)


def _check_conv_shapes(op, x, w, b, nd, groups=1, transposed=False):
    x_shape, w_shape = tuple(x.shape), tuple(w.shape)
    layout, k_layout = LAYOUTS[nd]
    if transposed:
        k_layout = k_layout.replace('C, F', 'F, C')
    if len(x_shape) != nd + 2:
        raise ValueError(f'{op}: expected an input {layout}, got shape {x_shape}.')
    if len(w_shape) != nd + 2:
        raise ValueError(f'{op}: expected a kernel {k_layout}, got shape {w_shape}.')
    kernel_channels = w_shape[-1] if transposed else w_shape[-2] * groups
    if x_shape[-1] != kernel_channels:
        per_group = f' / groups ({groups})' if groups != 1 else ''
        raise ValueError(f'{op}: the input has {x_shape[-1]} channels (shape {x_shape}) but the kernel '
                         f'expects {kernel_channels} (shape {w_shape}); the kernel must be {k_layout} with '
                         f'C = {x_shape[-1]}{per_group}.')
    filters = w_shape[-2] if transposed else w_shape[-1]
    if not transposed and filters % groups:
        raise ValueError(f'{op}: the kernel {w_shape} has {filters} filters, which groups={groups} does not '
                         'divide; use a number of filters that is a multiple of groups.')
    if b is not None and tuple(b.shape) != (filters,):
        raise ValueError(f'{op}: the bias must have shape ({filters},) to match the kernel {w_shape}, '
                         f'got {tuple(b.shape)}.')


def _positive_int(value, name, op):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f'{op}: {name} must be a positive int, got {value!r}.')
    return int(value)


def _conv(op, nd, x, w, b, strides, padding, dilation_rate, groups, allowed):
    groups = _positive_int(groups, 'groups', op)
    _check_conv_shapes(op, x, w, b, nd, groups)
    strides = geometry.normalize_tuple(strides, nd, 'strides', op)
    dilation = geometry.normalize_tuple(dilation_rate, nd, 'dilation_rate', op)
    kernel = tuple(w.shape[:nd])
    spatial = tuple(x.shape[1:-1])
    pads = geometry.pad_amounts(spatial, kernel, strides, padding, dilation, owner=op, allowed=allowed)
    geometry.padded_output_shape(spatial, pads, kernel, strides, op, dilation)  # explains a misfit
    f = kernels.make('conv', Conv, x, w, strides=strides, pads=pads, op=op, dilation=dilation, groups=groups)
    return f(x, w) if b is None else f(x, w, b)


def conv1d(x, w, b=None, strides=1, padding='valid', dilation_rate=1, groups=1):
    """1-D cross-correlation (Keras Conv1D): x (N, W, C), w (k, C / groups, F), b (F,) or None;
    ``padding`` 'valid', 'same' or 'causal' (output t sees the inputs up to t)."""
    return _conv('conv1d', 1, x, w, b, strides, padding, dilation_rate, groups, ('valid', 'same', 'causal'))


def conv2d(x, w, b=None, strides=1, padding='valid', dilation_rate=1, groups=1):
    """2-D cross-correlation (Keras Conv2D): x (N, H, W, C), w (kh, kw, C / groups, F), b (F,) or
    None; ``padding`` 'valid' or 'same'."""
    return _conv('conv2d', 2, x, w, b, strides, padding, dilation_rate, groups, ('valid', 'same'))


def conv3d(x, w, b=None, strides=1, padding='valid', dilation_rate=1, groups=1):
    """3-D cross-correlation (Keras Conv3D): x (N, D, H, W, C), w (kd, kh, kw, C / groups, F),
    b (F,) or None; ``padding`` 'valid' or 'same'."""
    return _conv('conv3d', 3, x, w, b, strides, padding, dilation_rate, groups, ('valid', 'same'))


def _conv_transpose(op, nd, x, w, b, strides, padding, output_padding, dilation_rate):
    _check_conv_shapes(op, x, w, b, nd, transposed=True)
    strides = geometry.normalize_tuple(strides, nd, 'strides', op)
    dilation = geometry.normalize_tuple(dilation_rate, nd, 'dilation_rate', op)
    output_padding = geometry.normalize_output_padding(output_padding, strides, op)
    kernel, spatial = tuple(w.shape[:nd]), tuple(x.shape[1:-1])
    pads = geometry.transposed_pad_amounts(spatial, kernel, strides, padding, output_padding, dilation, owner=op)
    out = tuple(geometry.transposed_output_length(n, k, s, padding, extra, d) for n, k, s, extra, d
                in zip(spatial, kernel, strides, output_padding or (None,) * nd, dilation))
    if min(out) < 1:
        raise ValueError(f'{op}: the input of spatial shape {spatial} gives an empty output {out} with kernel '
                         f"{kernel}, strides {strides} and padding '{padding}'.")
    f = kernels.make('conv_transpose', ConvTranspose, x, w, strides=strides, pads=pads, out=out, op=op,
                     dilation=dilation)
    return f(x, w) if b is None else f(x, w, b)


def conv_transpose1d(x, w, b=None, strides=1, padding='valid', output_padding=None, dilation_rate=1):
    """Keras Conv1DTranspose: x (N, W, C), w (k, F, C), b (F,) or None -> (N, W', F) with
    W' = ``geometry.transposed_output_length`` (e.g. W s for 'same')."""
    return _conv_transpose('conv_transpose1d', 1, x, w, b, strides, padding, output_padding, dilation_rate)


def conv_transpose2d(x, w, b=None, strides=1, padding='valid', output_padding=None, dilation_rate=1):
    """Keras Conv2DTranspose: x (N, H, W, C), w (kh, kw, F, C), b (F,) or None -> (N, H', W', F)."""
    return _conv_transpose('conv_transpose2d', 2, x, w, b, strides, padding, output_padding, dilation_rate)


def conv_transpose3d(x, w, b=None, strides=1, padding='valid', output_padding=None, dilation_rate=1):
    """Keras Conv3DTranspose: x (N, D, H, W, C), w (kd, kh, kw, F, C), b (F,) or None."""
    return _conv_transpose('conv_transpose3d', 3, x, w, b, strides, padding, output_padding, dilation_rate)


def _depthwise(op, nd, x, w, b, strides, padding, dilation_rate):
    """A convolution with one group per input channel: the kernel (*kernel, C, M) is the grouped
    kernel (*kernel, 1, C M), output channel c M + m being filter m of channel c."""
    if len(w.shape) != nd + 2:
        raise ValueError(f'{op}: expected a depthwise kernel ({", ".join(["k"] * nd)}, C, depth_multiplier), '
                         f'got shape {tuple(w.shape)}.')
    if len(x.shape) == nd + 2 and x.shape[-1] != w.shape[-2]:
        raise ValueError(f'{op}: the input has {x.shape[-1]} channels (shape {tuple(x.shape)}) but the depthwise '
                         f'kernel {tuple(w.shape)} has {w.shape[-2]}; its second-to-last axis must be the channels.')
    channels = w.shape[-2]
    grouped = _reshape(w, tuple(w.shape[:nd]) + (1, channels * w.shape[-1]))
    return _conv(op, nd, x, grouped, b, strides, padding, dilation_rate, channels, ('valid', 'same'))


def depthwise_conv1d(x, w, b=None, strides=1, padding='valid', dilation_rate=1):
    """Keras DepthwiseConv1D: x (N, W, C), w (k, C, M), b (C M,) or None -> (N, W', C M)."""
    return _depthwise('depthwise_conv1d', 1, x, w, b, strides, padding, dilation_rate)


def depthwise_conv2d(x, w, b=None, strides=1, padding='valid', dilation_rate=1):
    """Keras DepthwiseConv2D: x (N, H, W, C), w (kh, kw, C, M), b (C M,) or None -> (N, H', W', C M)."""
    return _depthwise('depthwise_conv2d', 2, x, w, b, strides, padding, dilation_rate)


def _separable(op, nd, x, depthwise_kernel, pointwise_kernel, b, strides, padding, dilation_rate):
    y = _depthwise(op, nd, x, depthwise_kernel, None, strides, padding, dilation_rate)
    if tuple(pointwise_kernel.shape[:nd]) != (1,) * nd or len(pointwise_kernel.shape) != nd + 2:
        raise ValueError(f'{op}: the pointwise kernel must be ({", ".join(["1"] * nd)}, C M, F), got shape '
                         f'{tuple(pointwise_kernel.shape)}.')
    return _conv(op, nd, y, pointwise_kernel, b, 1, 'valid', 1, 1, ('valid',))


def separable_conv1d(x, depthwise_kernel, pointwise_kernel, b=None, strides=1, padding='valid', dilation_rate=1):
    """Keras SeparableConv1D: a depthwise conv (k, C, M) then a 1x1 conv (1, C M, F) and the bias."""
    return _separable('separable_conv1d', 1, x, depthwise_kernel, pointwise_kernel, b, strides, padding,
                      dilation_rate)


def separable_conv2d(x, depthwise_kernel, pointwise_kernel, b=None, strides=1, padding='valid', dilation_rate=1):
    """Keras SeparableConv2D: a depthwise conv (kh, kw, C, M) then a 1x1 conv (1, 1, C M, F) and the bias."""
    return _separable('separable_conv2d', 2, x, depthwise_kernel, pointwise_kernel, b, strides, padding,
                      dilation_rate)
