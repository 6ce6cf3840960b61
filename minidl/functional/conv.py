"""Convolution on channels-last data: im2col (a strided window view, one copy) + one GEMM.

``x`` is ``(N, *spatial, C)`` and the kernel ``w`` is ``(*kernel, C, F)`` (Keras layout), so the
column matrix ``col[(n, *out), (*offset, c)] = xpad[n, *(out * stride + offset), c]`` multiplies
``w.reshape(-1, F)`` directly and the product is already the channels-last output. Backward:
``gw = col^T gy``, ``gcol = gy w^T`` and ``col2im`` (the exact adjoint of im2col: a loop over
kernel offsets adding strided slices) gives ``gx``. The window helpers here also serve pooling.

Stride-1 2-D kernels larger than 3x3 that span a third of the padded width or more (the
course's 24x24 and 12x12 MNIST kernels) make im2col's column matrix huge and its GEMM only F wide,
so ``conv2d`` lowers them differently: ``BandedConv2D`` (rows only, against a banded weight
matrix) over a single channel or on the GPU, ``FFTConv2D`` (the convolution theorem) over several
channels.
"""
import math

import numpy as np
import scipy.fft

from ..autograd import Function
from ..backend import elementwise_kernel, get_array_module, is_cupy, sum_rows


def as_tuple(value, n, name):
    """An int or a sequence of ``n`` positive ints (kernel size, strides, pool size)."""
    values = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != n or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in values):
        raise ValueError(f'{name} must be a positive int or a sequence of {n} positive ints, got {value!r}.')
    return tuple(int(v) for v in values)


def pad_amounts(spatial, kernel, strides, padding):
    """(before, after) padding per spatial axis. 'valid': none. 'same' (Keras/TF rule):
    out = ceil(in / s), total = max((out - 1) s + k - in, 0), before = total // 2."""
    padding = str(padding).lower()
    if padding == 'valid':
        return tuple((0, 0) for _ in spatial)
    if padding != 'same':
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    pads = []
    for size, k, s in zip(spatial, kernel, strides):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


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


def window_shape(spatial, pads, kernel, strides, op='conv'):
    """The output's spatial shape, ``(spatial + pads - kernel) // stride + 1`` per axis, or an
    error that names ``op`` when the window does not fit."""
    padded = tuple(n + before + after for n, (before, after) in zip(spatial, pads))
    out = tuple((n - k) // s + 1 for n, k, s in zip(padded, kernel, strides))
    if min(out) < 1:
        raise ValueError(f'{op}: the window {kernel} does not fit in the (padded) input of spatial size '
                         f'{padded}; use a smaller window or padding="same".')
    return out


def window_view(x, kernel, strides, op='conv'):
    """A strided view ``(N, *out, *kernel, C)`` of ``x`` ``(N, *spatial, C)``: no copy."""
    out = window_shape(x.shape[1:-1], ((0, 0),) * (x.ndim - 2), kernel, strides, op)
    st = x.strides
    shape = (x.shape[0],) + out + tuple(kernel) + (x.shape[-1],)
    strides_bytes = ((st[0],) + tuple(st[i + 1] * s for i, s in enumerate(strides))
                     + tuple(st[1:-1]) + (st[-1],))
    return get_array_module(x).lib.stride_tricks.as_strided(x, shape, strides_bytes)


def offset_slices(offset, strides, out):
    """Index of the input elements that the kernel offset ``offset`` sees, one per output position."""
    return ((slice(None),) + tuple(slice(o, o + s * (n - 1) + 1, s) for o, s, n in zip(offset, strides, out))
            + (slice(None),))


def im2col(x, kernel, strides, pads, op):
    """The column matrix ``(N * prod(out), prod(kernel) * C)`` of ``x`` padded by ``pads``, with
    the output's leading shape ``(N, *out)`` and the padded input's shape. On the GPU one kernel
    pads and copies (``im2col_gpu``)."""
    if is_cupy(x):
        out = window_shape(x.shape[1:-1], pads, kernel, strides, op)
        padded = (x.shape[0],) + tuple(n + sum(p) for n, p in zip(x.shape[1:-1], pads)) + (x.shape[-1],)
        return im2col_gpu(x, kernel, strides, pads, out), (x.shape[0],) + out, padded
    xpad = pad_spatial(x, pads)
    view = window_view(xpad, kernel, strides, op)
    col = get_array_module(x).ascontiguousarray(view).reshape(-1, math.prod(kernel) * x.shape[-1])
    return col, view.shape[:x.ndim - 1], xpad.shape


# GPU-only index kernels (im2col here, max pooling in pool.py): an element's index is
# i = ((n H + h) W + w) C + c, and 1-D data (N, W, C) is handled as 2-D with H = 1.

GEOMETRY_PARAMS = ('int32 H, int32 W, int32 C, int32 OH, int32 OW, int32 KH, int32 KW, '
                   'int32 SH, int32 SW, int32 PH, int32 PW')


def kernel_geometry(shape, kernel, strides, pads, out_spatial):
    """The values of ``GEOMETRY_PARAMS`` for 1-D or 2-D channels-last data of ``shape``."""
    def as_2d(values, fill):
        return (fill,) * (2 - len(values)) + tuple(values)
    (h, w), (oh, ow) = as_2d(shape[1:-1], 1), as_2d(out_spatial, 1)
    (kh, kw), (sh, sw) = as_2d(kernel, 1), as_2d(strides, 1)
    ph, pw = as_2d([before for before, _ in pads], 0)
    return h, w, shape[-1], oh, ow, kh, kw, sh, sw, ph, pw


def im2col_gpu(x, kernel, strides, pads, out_spatial):
    """col[(n, oh, ow), (a, b, c)] = x[n, oh sh + a - ph, ow sw + b - pw, c], 0 outside x: the
    padding and the window copy of im2col in one kernel, with no padded copy of x."""
    xp = get_array_module(x)
    col = xp.empty((x.shape[0] * math.prod(out_spatial), math.prod(kernel) * x.shape[-1]), x.dtype)
    im2col = elementwise_kernel('minidl_im2col', 'raw T x, ' + GEOMETRY_PARAMS, 'T col', '''
        int c = i % C; ptrdiff_t t = i / C;
        int b = t % KW; t /= KW; int a = t % KH; t /= KH;
        int ow = t % OW; t /= OW; int oh = t % OH; ptrdiff_t n = t / OH;
        int h = oh * SH + a - PH, w = ow * SW + b - PW;
        col = (h >= 0 && h < H && w >= 0 && w < W) ? x[((n * H + h) * W + w) * C + c] : (T)0;''')
    im2col(xp.ascontiguousarray(x).reshape(-1), *kernel_geometry(x.shape, kernel, strides, pads, out_spatial), col)
    return col


def col2im(blocks, padded_shape, kernel, strides, xp, dtype):
    """Adjoint of ``window_view``: add each kernel offset's block ``(N, *out, C)`` onto the input
    positions that offset sees (``blocks`` yields (offset, block)); overlapping windows
    accumulate, disjoint ones (stride >= kernel) are simply written."""
    out = tuple((n - k) // s + 1 for n, k, s in zip(padded_shape[1:-1], kernel, strides))
    disjoint = all(s >= k for k, s in zip(kernel, strides))
    gx = xp.zeros(padded_shape, dtype)
    for offset, block in blocks:
        index = offset_slices(offset, strides, out)
        if disjoint:
            gx[index] = block
        else:
            gx[index] += block
    return gx


class Conv(Function):
    """y = im2col(pad(x)) @ w.reshape(-1, F) + b, over 1 or 2 spatial axes.

    Backward: gw = col^T gy, gb = sum(gy). gx for stride 1 is the correlation of gy with the
    flipped kernel (another im2col + GEMM); for larger strides it is col2im of gcol = gy w^T,
    computed one kernel offset at a time (gy @ w[offset]^T into a reused buffer)."""
    def __init__(self, strides, padding, op):
        self.strides, self.padding, self.op = strides, padding, op

    def forward(self, x, w, b=None):
        nd = x.ndim - 2
        kernel, filters = w.shape[:nd], w.shape[-1]
        self.pads = pad_amounts(x.shape[1:-1], kernel, self.strides, self.padding)
        self.col, self.out_shape, self.padded_shape = im2col(x, kernel, self.strides, self.pads, self.op)
        y = self.col @ w.reshape(-1, filters)
        if b is not None:
            y += b
        return y.reshape(self.out_shape + (filters,))

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        filters = w.shape[-1]
        gy2 = gy.reshape(-1, filters)
        gw = (self.col.T @ gy2).reshape(w.shape) if w.requires_grad else None
        gx = None
        if x.requires_grad and all(s == 1 for s in self.strides):
            gx = self._transposed_correlation(gy, w.data)
        elif x.requires_grad:
            gx = crop_spatial(self._input_gradient(gy2, w.data, x.shape[-1]), self.pads)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, sum_rows(gy2)

    def _transposed_correlation(self, gy, w):
        """Stride 1: gx[p] = sum_a gy[p + before - a] w[a]^T is itself a correlation, of ``gy``
        with the kernel flipped and its channel axes swapped, padded (k - 1 - before, k - 1 - after):
        im2col + one GEMM, like the forward."""
        xp = get_array_module(gy)
        nd = w.ndim - 2
        kernel = w.shape[:nd]
        flipped = xp.ascontiguousarray(xp.swapaxes(w[(slice(None, None, -1),) * nd], -1, -2))
        pads = tuple((k - 1 - before, k - 1 - after) for k, (before, after) in zip(kernel, self.pads))
        col, out_shape, _ = im2col(gy, kernel, (1,) * nd, pads, self.op)
        return (col @ flipped.reshape(-1, w.shape[-2])).reshape(out_shape + (w.shape[-2],))

    def _input_gradient(self, gy2, w, channels):
        xp = get_array_module(gy2)
        nd = w.ndim - 2
        w_t = xp.ascontiguousarray(xp.moveaxis(w, -1, -2))  # (*kernel, F, C): contiguous per offset
        block = xp.empty((gy2.shape[0], channels), gy2.dtype)

        def blocks():
            for offset in np.ndindex(*w.shape[:nd]):
                xp.matmul(gy2, w_t[offset], out=block)
                yield offset, block.reshape(self.out_shape + (channels,))
        return col2im(blocks(), self.padded_shape, w.shape[:nd], self.strides, xp, gy2.dtype)


class BandedConv2D(Function):
    """Stride-1 conv2d lowered along the rows only, for kernels wide relative to the image.

    ``col[(n, i), (a, q, c)] = xpad[n, i + a, q, c]`` (every padded column q) multiplies a banded
    weight matrix ``band[(a, q, c), (j, f)] = w[a, q - j, c, f]`` (zero outside 0 <= q - j < kw),
    so ``y = col @ band``. With the course's 24x24 and 12x12 kernels the column matrix is 13x
    smaller than im2col's and the GEMM is 140-280 wide instead of 10. Backward:
    gband = col^T gy, gw = the band's diagonals summed; gx = col2im over the kh row offsets of
    gy band^T."""
    def __init__(self, pads):
        self.pads = pads

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        kh, kw, channels, filters = w.shape
        xpad = pad_spatial(x, self.pads)
        n, hp, wp, _ = xpad.shape
        self.out_hw = (hp - kh + 1, wp - kw + 1)
        s0, s1, s2, s3 = xpad.strides
        rows = xp.lib.stride_tricks.as_strided(xpad, (n, self.out_hw[0], kh, wp, channels), (s0, s1, s1, s2, s3))
        self.col = xp.ascontiguousarray(rows).reshape(n * self.out_hw[0], kh * wp * channels)
        self.padded_shape = xpad.shape
        band = xp.zeros((kh, wp, channels, self.out_hw[1], filters), w.dtype)
        _band_diagonals(band, kw)[...] = w[:, :, :, None, :]
        self.band = band.reshape(kh * wp * channels, -1)
        y = (self.col @ self.band).reshape(n, self.out_hw[0], self.out_hw[1], filters)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        kh, kw, channels, filters = w.shape
        gy2 = gy.reshape(self.col.shape[0], -1)
        gw = None
        if w.requires_grad:
            gband = (self.col.T @ gy2).reshape(kh, self.padded_shape[2], channels, self.out_hw[1], filters)
            gw = _band_diagonals(gband, kw).sum(axis=3)
        gx = None
        if x.requires_grad:
            xp = get_array_module(gy)
            gcol = (gy2 @ self.band.T).reshape(gy.shape[0], self.out_hw[0], kh, self.padded_shape[2], channels)
            gxpad = xp.zeros(self.padded_shape, gy.dtype)
            for a in range(kh):
                gxpad[:, a:a + self.out_hw[0]] += gcol[:, :, a]
            gx = crop_spatial(gxpad, self.pads)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, sum_rows(gy.reshape(-1, filters))


class FFTConv2D(Function):
    """Stride-1 conv2d by the convolution theorem, for wide kernels over several channels.

    Every image and the kernel are zero-padded to ``L`` >= the padded input per spatial axis, so
    the circular correlation of the transforms never wraps into an output that is kept. Per
    frequency (u, v) the channel sum is then a small matrix product:
      Y[u, v] = X[u, v] @ conj(W[u, v])        (N, C) @ (C, F);  y = irfft2(Y)[:oh, :ow]
    Backward, with GY = rfft2(gy):
      gw = irfft2(X^T @ conj(GY))[:kh, :kw]      (correlation of the input with gy)
      gx = irfft2(GY @ W^T) cropped to the input (convolution of gy with the kernel)
    scipy.fft on the CPU; NumPy only until it has been measured on a GPU."""
    def __init__(self, pads):
        self.pads = pads

    def forward(self, x, w, b=None):
        kh, kw = w.shape[:2]
        self.in_hw = x.shape[1:3]
        padded = tuple(size + sum(p) for size, p in zip(self.in_hw, self.pads))
        self.fft_shape = tuple(scipy.fft.next_fast_len(size, real=True) for size in padded)
        xpad = pad_spatial(x, self.pads)
        self.x_freq = scipy.fft.rfft2(xpad, s=self.fft_shape, axes=(1, 2)).transpose(1, 2, 0, 3)  # (u, v, N, C)
        self.w_freq = scipy.fft.rfft2(w, s=self.fft_shape, axes=(0, 1))                           # (u, v, C, F)
        out_hw = (padded[0] - kh + 1, padded[1] - kw + 1)
        y = self._inverse(self.x_freq @ self.w_freq.conj(), out_hw, (0, 0))
        if b is not None:
            y += b
        return y

    def _inverse(self, freq, size, offset):
        """irfft2 of a (u, v, N, K) product, cropped to ``size`` from ``offset``: (N, h, w, K)."""
        full = scipy.fft.irfft2(freq.transpose(2, 0, 1, 3), s=self.fft_shape, axes=(1, 2))
        return np.ascontiguousarray(full[:, offset[0]:offset[0] + size[0], offset[1]:offset[1] + size[1]])

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        kh, kw = w.shape[:2]
        gy_freq = scipy.fft.rfft2(gy, s=self.fft_shape, axes=(1, 2)).transpose(1, 2, 0, 3)  # (u, v, N, F)
        gw = gx = None
        if w.requires_grad:
            gw_freq = self.x_freq.transpose(0, 1, 3, 2) @ gy_freq.conj()                     # (u, v, C, F)
            gw = scipy.fft.irfft2(gw_freq, s=self.fft_shape, axes=(0, 1))[:kh, :kw]
        if x.requires_grad:
            before = (self.pads[0][0], self.pads[1][0])
            gx = self._inverse(gy_freq @ self.w_freq.transpose(0, 1, 3, 2), self.in_hw, before)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, sum_rows(gy.reshape(-1, gy.shape[-1]))


def _band_diagonals(band, kw):
    """The view ``v[a, b, c, j, f] = band[a, j + b, c, j, f]`` (b < kw) of a (kh, wp, C, ow, F) array."""
    kh, _, channels, ow, filters = band.shape
    s0, s1, s2, s3, s4 = band.strides
    return get_array_module(band).lib.stride_tricks.as_strided(
        band, (kh, kw, channels, ow, filters), (s0, s1, s2, s1 + s3, s4))


def _banded_pays(x_shape, kernel, strides, pads):
    """Row lowering wins when a kernel larger than 3x3 spans at least a third of the padded width
    (stride 1). A 3x3 kernel's column matrix is only 9 times its input, and im2col is faster even
    on a 4x4 map (512x4x4x128 -> 128: 30 ms fwd+bwd against 46 banded and 79 by FFT); a kernel that
    does not fit is left to ``Conv``, which explains the error."""
    padded_height, padded_width = x_shape[1] + sum(pads[0]), x_shape[2] + sum(pads[1])
    fits = padded_height >= kernel[0] and padded_width >= kernel[1]
    wide = kernel[0] * kernel[1] > 9 and 3 * kernel[1] >= padded_width
    return strides == (1, 1) and fits and wide


def _fft_pays(x):
    """Among the wide-kernel convs, the FFT wins on the CPU once the input has several channels
    (the course's 12x12 conv over 10 channels: 2-3x faster than the banded GEMM); over a single
    input channel the banded column matrix is small and its GEMM is faster."""
    return not is_cupy(getattr(x, 'data', x)) and x.shape[-1] >= 4


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


def conv2d(x, w, b=None, strides=1, padding='valid'):
    """2-D cross-correlation (Keras Conv2D): x (N, H, W, C), w (kh, kw, C, F), b (F,) or None."""
    _check_conv_shapes('conv2d', x, w, b, 2)
    strides = as_tuple(strides, 2, 'conv2d strides')
    kernel = tuple(w.shape[:2])
    pads = pad_amounts(tuple(x.shape[1:3]), kernel, strides, padding)
    if _banded_pays(tuple(x.shape), kernel, strides, pads):
        f = FFTConv2D(pads) if _fft_pays(x) else BandedConv2D(pads)
    else:
        f = Conv(strides, padding, 'conv2d')
    return f(x, w) if b is None else f(x, w, b)


def conv1d(x, w, b=None, strides=1, padding='valid'):
    """1-D cross-correlation (Keras Conv1D): x (N, W, C), w (k, C, F), b (F,) or None."""
    _check_conv_shapes('conv1d', x, w, b, 1)
    f = Conv(as_tuple(strides, 1, 'conv1d strides'), padding, 'conv1d')
    return f(x, w) if b is None else f(x, w, b)
