"""Pooling and upsampling on channels-last data in 1, 2 or 3 spatial dimensions, the reference,
over ``conv.py``'s windows.

``window_view`` shows every window of the padded input as one array ``(N, *out, *pool, C)``
(no copy); a pooling is a reduction over its window axes, and its backward is ``col2im`` of
what each window element receives. 'same' follows Keras: max pooling pads with -inf (padding
never wins a max) and average pooling divides by the number of real inputs in each window.
The fast forms of max pooling (offset-by-offset passes in place; one CUDA kernel each way) are
in ``minidl/kernels/pool.py``.
"""
import math

from .. import kernels
from ..autograd import Function, Tensor
from ..backend import get_array_module
from . import geometry, image
from .conv import col2im, pad_spatial, window_view
from .reduce import max as reduce_max, mean as reduce_mean


class MaxPool(Function):
    """y = the maximum of each window.

    The gradient goes to ONE element per window, the arg-max: the first element (in row-major
    window order) equal to the maximum, as Keras does for ties. With the window copied to
    ``windows (N, *out, K, C)`` (K = prod(pool)):
      y = max over K,  arg = argmax over K,  gwindows = one-hot(arg) * gy,  gx = col2im(gwindows)
    """
    def __init__(self, pool, strides, pads, op='max_pool'):
        self.pool, self.strides, self.pads, self.op = pool, strides, pads, op

    def forward(self, x):
        xp = get_array_module(x)
        view = window_view(pad_spatial(x, self.pads, value=-xp.inf), self.pool, self.strides, self.op)
        windows = view.reshape(view.shape[:x.ndim - 1] + (math.prod(self.pool), x.shape[-1]))
        self.arg = windows.argmax(axis=-2)          # (N, *out, C): the first maximum's position
        return windows.max(axis=-2)

    def backward(self, gy):
        xp = get_array_module(gy)
        positions = xp.arange(math.prod(self.pool)).reshape(-1, 1)           # (K, 1)
        one_hot = positions == self.arg[..., None, :]                        # (N, *out, K, C)
        gwindows = one_hot * gy[..., None, :]
        return col2im(gwindows, self.inputs[0].shape, self.pool, self.strides, self.pads)


class AvgPool(Function):
    """y = the mean of the real (unpadded) inputs of each window: sum / count, where count is
    prod(pool) inside the image and fewer at 'same' borders. Backward: every element of a window
    receives gy / count (col2im of that)."""
    def __init__(self, pool, strides, pads, op='avg_pool'):
        self.pool, self.strides, self.pads, self.op = pool, strides, pads, op

    def forward(self, x):
        xp = get_array_module(x)
        nd = x.ndim - 2
        window_axes = tuple(range(1 + nd, 1 + 2 * nd))
        total = window_view(pad_spatial(x, self.pads), self.pool, self.strides, self.op).sum(axis=window_axes)
        ones = pad_spatial(xp.ones((1,) + x.shape[1:-1] + (1,), x.dtype), self.pads)
        self.count = window_view(ones, self.pool, self.strides, self.op).sum(axis=window_axes)
        return total / self.count

    def backward(self, gy):
        xp = get_array_module(gy)
        nd = gy.ndim - 2
        g = (gy / self.count)[(Ellipsis,) + (None,) * nd + (slice(None),)]   # (N, *out, 1.., C)
        gwindows = xp.broadcast_to(g, gy.shape[:-1] + tuple(self.pool) + gy.shape[-1:])
        return col2im(gwindows, self.inputs[0].shape, self.pool, self.strides, self.pads)


class UpSample(Function):
    """Nearest neighbour over every spatial axis: y[n, *i, c] = x[n, *(i // size), c] (each input
    position repeated ``size`` times along its axis). Backward: each block of ``prod(size)``
    output positions sums back onto the one input position it copied."""
    def __init__(self, size):
        self.size = tuple(size)

    def forward(self, x):
        xp = get_array_module(x)
        spatial = x.shape[1:-1]
        blocks = x.reshape(self._interleaved(spatial, x.shape, 1))           # (N, n1, 1, n2, 1, ..., C)
        repeated = xp.broadcast_to(blocks, self._interleaved(spatial, x.shape, None))
        return repeated.reshape((x.shape[0],) + tuple(n * r for n, r in zip(spatial, self.size)) + x.shape[-1:])

    def backward(self, gy):
        x_shape = self.inputs[0].shape
        blocks = gy.reshape(self._interleaved(x_shape[1:-1], x_shape, None))
        return blocks.sum(axis=tuple(range(2, 2 * len(self.size) + 1, 2)))

    def _interleaved(self, spatial, shape, repeat):
        """(N, n1, r1, n2, r2, ..., C), with every r = ``repeat`` (or the size when None)."""
        axes = tuple(v for n, r in zip(spatial, self.size) for v in (n, r if repeat is None else repeat))
        return (shape[0],) + axes + (shape[-1],)


_LAYOUTS = {1: '(N, W, C)', 2: '(N, H, W, C)', 3: '(N, D, H, W, C)'}


def _check_rank(op, x, nd):
    if len(x.shape) != nd + 2:
        raise ValueError(f'{op}: expected an input {_LAYOUTS[nd]}, got shape {tuple(x.shape)}.')


def _pool(name, reference, op, nd, x, pool_size, strides, padding):
    _check_rank(op, x, nd)
    pool = geometry.normalize_tuple(pool_size, nd, 'pool_size', op)
    strides = pool if strides is None else geometry.normalize_tuple(strides, nd, 'strides', op)
    pads = geometry.pad_amounts(tuple(x.shape[1:-1]), pool, strides, padding, owner=op, allowed=('valid', 'same'))
    geometry.padded_output_shape(tuple(x.shape[1:-1]), pads, pool, strides, op)  # explains a misfit
    return kernels.make(name, reference, x, pool=pool, strides=strides, pads=pads, op=op)(x)


def max_pool2d(x, pool_size=2, strides=None, padding='valid'):
    """Keras MaxPooling2D on x (N, H, W, C); strides default to the pool size."""
    return _pool('max_pool', MaxPool, 'max_pool2d', 2, x, pool_size, strides, padding)


def avg_pool2d(x, pool_size=2, strides=None, padding='valid'):
    """Keras AveragePooling2D on x (N, H, W, C); strides default to the pool size."""
    return _pool('avg_pool', AvgPool, 'avg_pool2d', 2, x, pool_size, strides, padding)


def max_pool1d(x, pool_size=2, strides=None, padding='valid'):
    """Keras MaxPooling1D on x (N, W, C); strides default to the pool size."""
    return _pool('max_pool', MaxPool, 'max_pool1d', 1, x, pool_size, strides, padding)


def avg_pool1d(x, pool_size=2, strides=None, padding='valid'):
    """Keras AveragePooling1D on x (N, W, C); strides default to the pool size."""
    return _pool('avg_pool', AvgPool, 'avg_pool1d', 1, x, pool_size, strides, padding)


def max_pool3d(x, pool_size=2, strides=None, padding='valid'):
    """Keras MaxPooling3D on x (N, D, H, W, C); strides default to the pool size."""
    return _pool('max_pool', MaxPool, 'max_pool3d', 3, x, pool_size, strides, padding)


def avg_pool3d(x, pool_size=2, strides=None, padding='valid'):
    """Keras AveragePooling3D on x (N, D, H, W, C); strides default to the pool size."""
    return _pool('avg_pool', AvgPool, 'avg_pool3d', 3, x, pool_size, strides, padding)


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


def global_avg_pool3d(x):
    """Mean over D, H and W: (N, D, H, W, C) -> (N, C)."""
    _check_rank('global_avg_pool3d', x, 3)
    return reduce_mean(x, axis=(1, 2, 3))


def global_max_pool3d(x):
    """Max over D, H and W: (N, D, H, W, C) -> (N, C); tied maxima share the gradient."""
    _check_rank('global_max_pool3d', x, 3)
    return reduce_max(x, axis=(1, 2, 3))


def upsample1d(x, size=2):
    """Keras UpSampling1D: every step repeated ``size`` times, (N, W, C) -> (N, W*size, C)."""
    _check_rank('upsample1d', x, 1)
    return UpSample(geometry.normalize_tuple(size, 1, 'size', 'upsample1d'))(x)


def upsample2d(x, size=2, interpolation='nearest'):
    """Keras UpSampling2D: (N, H, W, C) -> (N, H*sh, W*sw, C). 'nearest' repeats every pixel;
    'bilinear' is ``image.resize`` to that size (half-pixel centres, as Keras' ``ops.image.resize``)."""
    _check_rank('upsample2d', x, 2)
    size = geometry.normalize_tuple(size, 2, 'size', 'upsample2d')
    if interpolation == 'nearest':
        return UpSample(size)(x)
    if interpolation != 'bilinear':
        raise ValueError(f"upsample2d: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}.")
    x = x if isinstance(x, Tensor) else Tensor(x)
    return image.resize(x, (x.shape[1] * size[0], x.shape[2] * size[1]), 'bilinear')


def upsample3d(x, size=2):
    """Keras UpSampling3D (nearest): (N, D, H, W, C) -> (N, D*sd, H*sh, W*sw, C)."""
    _check_rank('upsample3d', x, 3)
    return UpSample(geometry.normalize_tuple(size, 3, 'size', 'upsample3d'))(x)
