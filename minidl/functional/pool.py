"""Pooling and upsampling on channels-last data, the reference, over ``conv.py``'s windows.

``window_view`` shows every window of the padded input as one array ``(N, *out, *pool, C)``
(no copy); a pooling is a reduction over its window axes, and its backward is ``col2im`` of
what each window element receives. 'same' follows Keras: max pooling pads with -inf (padding
never wins a max) and average pooling divides by the number of real inputs in each window.
The fast forms of max pooling (offset-by-offset passes in place; one CUDA kernel each way) are
in ``minidl/kernels/pool.py``.
"""
import math

from .. import kernels
from ..autograd import Function
from ..backend import get_array_module
from . import geometry
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
    return UpSample(geometry.normalize_tuple(size, 2, 'size', 'upsample2d'))(x)
