"""Fast forms of the ``conv`` op (reference: ``functional/conv.py``'s im2col ``Conv``).

Four Functions, each with the reference's constructor ``(strides, pads, op, dilation, groups)``,
tried in this order (the first whose rule accepts the call computes it):

``BandedConv2D``  stride-1 2-D kernels larger than 3x3 that span a third of the padded width or
                  more (the course's 24x24 and 12x12 MNIST kernels), over a single input
                  channel or on the GPU: the rows are lowered against a banded weight matrix.
``FFTConv2D``     the same wide kernels over several channels, on the CPU: the convolution
                  theorem.
``DepthwiseConv``  one group per input channel (DepthwiseConv1D/2D, the first step of
                  SeparableConv1D/2D), any stride and dilation, on both backends: one multiply-add
                  over the whole batch per kernel offset instead of C tiny matrix products.
``Im2colConv``    every other 1-D or 2-D convolution without dilation or groups: im2col + GEMM as
                  the reference, with a cheaper input gradient (for stride 1, a second
                  correlation; else one kernel offset at a time into one reused block) and, on
                  the GPU, one CUDA kernel that pads and copies. (Dilated, grouped and 3-D
                  convolutions run the reference.)

Why: with a 24x24 kernel on a 28x28 image im2col's column matrix is 576 times the input and its
GEMM only F = 10 wide; the banded column matrix is 13x smaller and its GEMM 140-280 wide. A 3x3
kernel's column matrix is only 9 times its input, and im2col is faster even on a 4x4 map
(512x4x4x128 -> 128: 30 ms forward + backward, against 46 banded and 79 by FFT). A depthwise
kernel has a single input channel per group: the reference's G matrix products are each
(rows, K) @ (K, M), far too thin for a GEMM, while a multiply-add per kernel offset streams the
batch once per offset (128x32x32x32, 3x3: 7.4 s forward + backward by the grouped GEMMs).
"""
import math

import numpy as np
import scipy.fft

from ..autograd import Function
from ..backend import get_array_module, is_cupy
from . import register
from .cuda import GEOMETRY_PARAMS, elementwise_kernel, kernel_geometry
from .reduce import sum_rows


# --- shared array helpers (the same index arithmetic as the reference, written here again so
# --- that this module reads on its own) -----------------------------------------------------
def _pad(x, pads):
    if not any(before or after for before, after in pads):
        return x
    return get_array_module(x).pad(x, ((0, 0),) + tuple(pads) + ((0, 0),))


def _crop(x, pads):
    if not any(before or after for before, after in pads):
        return x
    return x[(slice(None),) + tuple(slice(b, x.shape[i + 1] - a) for i, (b, a) in enumerate(pads))]


def _out_shape(spatial, pads, kernel, strides):
    return tuple((n + b + a - k) // s + 1 for n, (b, a), k, s in zip(spatial, pads, kernel, strides))


def _offset_index(offset, strides, out):
    return ((slice(None),) + tuple(slice(o, o + s * (n - 1) + 1, s) for o, s, n in zip(offset, strides, out))
            + (slice(None),))


def im2col_fast(x, kernel, strides, pads):
    """(col, out): the column matrix ``(N * prod(out), prod(kernel) * C)`` and the output's
    spatial shape. NumPy: a padded copy, a strided window view and one contiguous copy; CuPy:
    one kernel that pads and copies (``im2col_gpu``)."""
    out = _out_shape(x.shape[1:-1], pads, kernel, strides)
    if is_cupy(x):
        return im2col_gpu(x, kernel, strides, pads, out), out
    xpad = _pad(x, pads)
    st = xpad.strides
    shape = (x.shape[0],) + out + tuple(kernel) + (x.shape[-1],)
    byte_strides = (st[0],) + tuple(st[1 + a] * s for a, s in enumerate(strides)) + tuple(st[1:-1]) + (st[-1],)
    view = np.lib.stride_tricks.as_strided(xpad, shape, byte_strides)
    return np.ascontiguousarray(view).reshape(-1, math.prod(kernel) * x.shape[-1]), out


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


def _bias_grad(gy, inputs):
    return None if len(inputs) == 2 else sum_rows(gy.reshape(-1, gy.shape[-1]))


def _plain(dilation, groups):
    """No dilation and one group: the convolutions the forms below were written for."""
    return groups == 1 and (dilation is None or all(d == 1 for d in dilation))


# --- the wide-kernel lowerings -----------------------------------------------------------------
def _wide_kernel(x, w, strides, pads):
    """A stride-1 2-D kernel larger than 3x3 spanning at least a third of the padded width."""
    if len(x.shape) != 4 or tuple(strides) != (1, 1):
        return False
    kh, kw = w.shape[:2]
    padded_height, padded_width = x.shape[1] + sum(pads[0]), x.shape[2] + sum(pads[1])
    return kh * kw > 9 and 3 * kw >= padded_width and padded_height >= kh and padded_width >= kw


def _fft_pays(x):
    """Among the wide-kernel convs, the FFT wins on the CPU once the input has several channels
    (the course's 12x12 conv over 10 channels: 2-3x faster than the banded GEMM); over a single
    input channel the banded column matrix is small and its GEMM is faster."""
    return x.shape[-1] >= 4


def _band_diagonals(band, kw):
    """The view ``v[a, b, c, j, f] = band[a, j + b, c, j, f]`` (b < kw) of a (kh, wp, C, ow, F) array."""
    kh, _, channels, ow, filters = band.shape
    s0, s1, s2, s3, s4 = band.strides
    return get_array_module(band).lib.stride_tricks.as_strided(
        band, (kh, kw, channels, ow, filters), (s0, s1, s2, s1 + s3, s4))


@register('conv', backend='numpy', when=lambda x, w, *b, strides, pads, op, dilation=None, groups=1:
          _plain(dilation, groups) and _wide_kernel(x, w, strides, pads) and _fft_pays(x))
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
    def __init__(self, strides, pads, op='conv2d', dilation=None, groups=1):
        self.pads, self.op = pads, op

    def forward(self, x, w, b=None):
        kh, kw = w.shape[:2]
        self.in_hw = x.shape[1:3]
        padded = tuple(size + sum(p) for size, p in zip(self.in_hw, self.pads))
        self.fft_shape = tuple(scipy.fft.next_fast_len(size, real=True) for size in padded)
        xpad = _pad(x, self.pads)
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
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, _bias_grad(gy, self.inputs))


@register('conv', when=lambda x, w, *b, strides, pads, op, dilation=None, groups=1:
          _plain(dilation, groups) and _wide_kernel(x, w, strides, pads))
class BandedConv2D(Function):
    """Stride-1 conv2d lowered along the rows only, for kernels wide relative to the image.

    ``col[(n, i), (a, q, c)] = xpad[n, i + a, q, c]`` (every padded column q) multiplies a banded
    weight matrix ``band[(a, q, c), (j, f)] = w[a, q - j, c, f]`` (zero outside 0 <= q - j < kw),
    so ``y = col @ band``. With the course's 24x24 and 12x12 kernels the column matrix is 13x
    smaller than im2col's and the GEMM is 140-280 wide instead of 10. Backward:
    gband = col^T gy, gw = the band's diagonals summed; gx = the kh row offsets of
    gy band^T added back."""
    def __init__(self, strides, pads, op='conv2d', dilation=None, groups=1):
        self.pads, self.op = pads, op

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        kh, kw, channels, filters = w.shape
        xpad = _pad(x, self.pads)
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
            gx = _crop(gxpad, self.pads)
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, _bias_grad(gy, self.inputs))


# --- depthwise: one group per channel, offset by offset -------------------------------------------
def _is_depthwise(x, w, groups):
    return groups > 1 and groups == x.shape[-1] and w.shape[-2] == 1


def _dilated_index(offset, strides, out, dilation):
    return ((slice(None),) + tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                                   for o, s, n, d in zip(offset, strides, out, dilation)) + (slice(None),))


_CHUNK_ELEMENTS = 1 << 16     # per array of one batch chunk: 256 KiB in float32, so the passes stay in cache


def _lanes(a, merge):
    """``a`` (..., W, C) as (..., W C) when ``merge``, so that NumPy's inner loops run W C long
    instead of C. ``merge`` promises that the two axes are adjacent in memory (a contiguous array,
    or a view of one with step 1 along W), so the reshape is a view and writes go through."""
    return a.reshape(a.shape[:-2] + (-1,)) if merge else a


@register('conv', when=lambda x, w, *b, strides, pads, op, dilation=None, groups=1: _is_depthwise(x, w, groups))
class DepthwiseConv(Function):
    """A convolution with one group per input channel, kernel (*k, 1, C M), as multiply-adds:

      y[n, *o, c, m] = sum_i xpad[n, *(o s + i d), c] w[*i, c, m]    (+ b; channel c M + m)

    one multiply-add per kernel offset i (and multiplier m) over the strided view
    ``xpad[offset]`` (n, *out, C). Backward, per offset: gw[i, :, m] = the sum over (n, *o) of
    view * gy_m (``einsum``), gxpad[offset] += gy_m w[i, :, m]. No column matrix is built; the
    batch is walked in chunks of about 64 Ki elements, so that the K passes over a chunk run in
    cache instead of streaming the whole batch K times, and with stride 1 along the last
    spatial axis the last two axes are one (W C) lane per row, the weights tiled along it."""
    def __init__(self, strides, pads, op='conv', dilation=None, groups=1):
        self.strides, self.pads, self.op = strides, pads, op
        self.dilation = dilation

    def _geometry(self, x_shape, w):
        """The taps (K, M, lane): w[*i, :, m], tiled W times when the lanes merge."""
        xp = get_array_module(w)
        nd = len(x_shape) - 2
        self.kernel = tuple(w.shape[:nd])
        self.dilation = tuple(self.dilation or (1,) * nd)
        self.multiplier = w.shape[-1] // x_shape[-1]
        effective = tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation))
        self.out = _out_shape(x_shape[1:-1], self.pads, effective, self.strides)
        self.merge = self.strides[-1] == 1
        self.chunk = max(1, _CHUNK_ELEMENTS // (math.prod(self.out) * x_shape[-1]))
        taps = w.reshape(-1, x_shape[-1], self.multiplier).transpose(0, 2, 1)          # (K, M, C)
        return xp.tile(taps, self.out[-1]) if self.merge else taps

    def _views(self, batch):
        """(k, the index of xpad[batch] that kernel offset k reads) for every offset."""
        for k, offset in enumerate(np.ndindex(*self.kernel)):
            index = (batch,) + _dilated_index(offset, self.strides, self.out, self.dilation)[1:]
            yield k, index

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        taps = self._geometry(x.shape, w)
        self.xpad = xp.ascontiguousarray(_pad(x, self.pads))
        n, channels, multiplier = x.shape[0], x.shape[-1], self.multiplier
        per_m = xp.empty((multiplier, n) + self.out + (channels,), x.dtype)      # (M, N, *out, C)
        term = xp.empty((min(self.chunk, n),) + self.out + (channels,), x.dtype)
        bias = None if b is None else b.reshape(channels, multiplier).T                  # (M, C)
        if bias is not None and self.merge:
            bias = xp.tile(bias, self.out[-1])
        for start in range(0, n, self.chunk):
            batch = slice(start, start + self.chunk)
            t = _lanes(term[:min(self.chunk, n - start)], self.merge)
            for m in range(multiplier):
                acc = _lanes(per_m[m, batch], self.merge)
                for k, index in self._views(batch):
                    view = _lanes(self.xpad[index], self.merge)
                    xp.multiply(view, taps[k, m], out=acc if k == 0 else t)
                    if k:
                        acc += t
                if bias is not None:
                    acc += bias[m]
        y = per_m[0] if multiplier == 1 else xp.ascontiguousarray(xp.moveaxis(per_m, 0, -1))
        return y.reshape((n,) + self.out + (-1,))

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        xp = get_array_module(gy)
        n, channels, multiplier = x.shape[0], x.shape[-1], self.multiplier
        taps = self._geometry(x.shape, w.data)
        g = gy.reshape(gy.shape[:-1] + (channels, multiplier))
        per_m = g[None, ..., 0] if multiplier == 1 else xp.ascontiguousarray(xp.moveaxis(g, -1, 0))
        per_m = xp.ascontiguousarray(per_m)
        gw = xp.zeros(taps.shape, gy.dtype) if w.requires_grad else None                # (K, M, lane)
        gxpad = xp.zeros(self.xpad.shape, gy.dtype) if x.requires_grad else None
        term = xp.empty((min(self.chunk, n),) + self.out + (channels,), gy.dtype)
        lead = 'abcd'[:len(self.out) + (0 if self.merge else 1)]
        spec = f'{lead}z,{lead}z->z'                  # the sum over the batch and output rows
        for start in range(0, n, self.chunk):
            batch = slice(start, start + self.chunk)
            t = _lanes(term[:min(self.chunk, n - start)], self.merge)
            for m in range(multiplier):
                gm = _lanes(per_m[m, batch], self.merge)
                for k, index in self._views(batch):
                    if gw is not None:
                        gw[k, m] += xp.einsum(spec, _lanes(self.xpad[index], self.merge), gm)
                    if gxpad is not None:
                        xp.multiply(gm, taps[k, m], out=t)
                        lanes = _lanes(gxpad[index], self.merge)
                        lanes += t
        gx = None if gxpad is None else _crop(gxpad, self.pads)
        if gw is not None:
            if self.merge:                                            # fold the W tiles back onto C
                gw = gw.reshape(gw.shape[:2] + (self.out[-1], channels)).sum(axis=2)
            gw = gw.transpose(0, 2, 1).reshape(w.shape)               # (K, C, M) -> (*k, 1, C M)
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, _bias_grad(gy, self.inputs))


# --- im2col with the cheaper input gradients -----------------------------------------------------
@register('conv', when=lambda x, w, *b, strides, pads, op, dilation=None, groups=1:
          _plain(dilation, groups) and len(x.shape) <= 4)
class Im2colConv(Function):
    """y = im2col(x) @ w.reshape(-1, F) + b, as the reference, with two faster input gradients:

    * stride 1: gx[p] = sum_a gy[p + before - a] w[a]^T is itself a correlation, of ``gy`` with
      the kernel flipped and its channel axes swapped, padded (k - 1 - before, k - 1 - after):
      im2col + one GEMM, like the forward, and no col2im;
    * larger strides: col2im of gy w^T one kernel offset at a time (``gy @ w[offset]^T`` into one
      reused block), never the whole (rows, k C) matrix; disjoint windows are written, not added.

    The bias gradient is one matrix-vector product (``sum_rows``). For 1-D and 2-D convolutions
    without dilation or groups (3-D ones, dilated and grouped ones run the reference)."""
    def __init__(self, strides, pads, op='conv', dilation=None, groups=1):
        self.strides, self.pads, self.op = strides, pads, op

    def forward(self, x, w, b=None):
        nd, filters = x.ndim - 2, w.shape[-1]
        self.col, self.out = im2col_fast(x, w.shape[:nd], self.strides, self.pads)
        y = self.col @ w.reshape(-1, filters)
        if b is not None:
            y += b
        return y.reshape((x.shape[0],) + self.out + (filters,))

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        filters = w.shape[-1]
        gy2 = gy.reshape(-1, filters)
        gw = (self.col.T @ gy2).reshape(w.shape) if w.requires_grad else None
        gx = None
        if x.requires_grad and all(s == 1 for s in self.strides):
            gx = self._transposed_correlation(gy, w.data)
        elif x.requires_grad:
            gx = _crop(self._input_gradient(gy2, w.data, x.shape), self.pads)
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, _bias_grad(gy, self.inputs))

    def _transposed_correlation(self, gy, w):
        xp = get_array_module(gy)
        nd = w.ndim - 2
        kernel = w.shape[:nd]
        flipped = xp.ascontiguousarray(xp.swapaxes(w[(slice(None, None, -1),) * nd], -1, -2))
        pads = tuple((k - 1 - before, k - 1 - after) for k, (before, after) in zip(kernel, self.pads))
        col, out = im2col_fast(gy, kernel, (1,) * nd, pads)
        return (col @ flipped.reshape(-1, w.shape[-2])).reshape((gy.shape[0],) + out + (w.shape[-2],))

    def _input_gradient(self, gy2, w, x_shape):
        xp = get_array_module(gy2)
        nd, channels = w.ndim - 2, x_shape[-1]
        kernel = w.shape[:nd]
        w_t = xp.ascontiguousarray(xp.moveaxis(w, -1, -2))  # (*kernel, F, C): contiguous per offset
        block = xp.empty((gy2.shape[0], channels), gy2.dtype)
        padded_shape = (x_shape[0],) + tuple(n + sum(p) for n, p in zip(x_shape[1:-1], self.pads)) + (channels,)
        disjoint = all(s >= k for k, s in zip(kernel, self.strides))
        gx = xp.zeros(padded_shape, gy2.dtype)
        for offset in np.ndindex(*kernel):
            xp.matmul(gy2, w_t[offset], out=block)
            index = _offset_index(offset, self.strides, self.out)
            if disjoint:
                gx[index] = block.reshape((x_shape[0],) + self.out + (channels,))
            else:
                gx[index] += block.reshape((x_shape[0],) + self.out + (channels,))
        return gx
