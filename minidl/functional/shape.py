"""Operations that move values around without changing them: their backward moves the
gradient back (reshape back, transpose back, scatter back)."""
import numpy as np

from .. import autograd
from ..autograd import Function
from ..backend import get_array_module, scatter_add


class Reshape(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.inputs[0].shape)


class Transpose(Function):
    def __init__(self, axes=None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return gy.transpose()
        return gy.transpose(np.argsort([a % gy.ndim for a in self.axes]))


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return autograd.sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return autograd.sum_to(x, self.shape)

    def backward(self, gy):
        return get_array_module(gy).broadcast_to(gy, self.inputs[0].shape)


class Concatenate(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return get_array_module(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        bounds = np.cumsum([x.shape[self.axis] for x in self.inputs])[:-1]
        return tuple(get_array_module(gy).split(gy, bounds, axis=self.axis))


class Stack(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return get_array_module(xs[0]).stack(xs, axis=self.axis)

    def backward(self, gy):
        n = len(self.inputs)
        return tuple(g.squeeze(self.axis) for g in get_array_module(gy).split(gy, n, axis=self.axis))


class Split(Function):
    """Several outputs; unused ones receive zero gradients from the engine."""
    def __init__(self, indices_or_sections, axis):
        self.indices_or_sections, self.axis = indices_or_sections, axis

    def forward(self, x):
        return tuple(get_array_module(x).split(x, self.indices_or_sections, axis=self.axis))

    def backward(self, *gys):
        return get_array_module(gys[0]).concatenate(gys, axis=self.axis)


class Pad(Function):
    """Constant padding; the gradient is the central slice."""
    def __init__(self, pad_width, value):
        self.pad_width, self.value = pad_width, value

    def forward(self, x):
        self.pad_width = _normalize_pad(self.pad_width, x.ndim)
        return get_array_module(x).pad(x, self.pad_width, mode='constant', constant_values=self.value)

    def backward(self, gy):
        return gy[tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.pad_width))]


def _normalize_pad(pad_width, ndim):
    if np.isscalar(pad_width):
        return [(int(pad_width), int(pad_width))] * ndim
    pad_width = [tuple(p) if not np.isscalar(p) else (int(p), int(p)) for p in pad_width]
    if len(pad_width) == 1:
        pad_width = pad_width * ndim
    return pad_width


class GetItem(Function):
    """y = x[key]; the gradient is scattered back, accumulating repeated integer indices."""
    def __init__(self, key):
        self.key = key

    def forward(self, x):
        return x[self.key]

    def backward(self, gy):
        x = self.inputs[0]
        gx = get_array_module(gy).zeros(x.shape, gy.dtype)
        if _has_integer_array(self.key):
            scatter_add(gx, self.key, gy)
        else:
            gx[self.key] = gy
        return gx


def _has_integer_array(key):
    parts = key if isinstance(key, tuple) else (key,)
    return any(hasattr(k, 'dtype') and k.dtype.kind in 'iu' or isinstance(k, list) for k in parts)


def _raw_key(key):
    if isinstance(key, tuple):
        return tuple(k.data if isinstance(k, autograd.Tensor) else k for k in key)
    return key.data if isinstance(key, autograd.Tensor) else key


def reshape(x, shape):
    if isinstance(shape, int):
        shape = (shape,)
    if isinstance(x, autograd.Tensor) and tuple(x.shape) == tuple(shape):
        return x
    return Reshape(shape)(x)


def transpose(x, axes=None): return Transpose(axes)(x)
def broadcast_to(x, shape): return BroadcastTo(shape)(x)
def sum_to(x, shape): return SumTo(shape)(x)
def concatenate(xs, axis=0): return Concatenate(axis)(*xs)
def stack(xs, axis=0): return Stack(axis)(*xs)
def split(x, indices_or_sections, axis=0): return Split(indices_or_sections, axis)(x)
def getitem(x, key): return GetItem(_raw_key(key))(x)


def pad(x, pad_width, value=0.0):
    """Constant padding with NumPy's ``pad_width`` forms (an int, one pair, or a pair per axis)."""
    return Pad(pad_width, value)(x)


def flatten(x):
    """(N, ...) -> (N, prod(...))."""
    return reshape(x, (x.shape[0], -1))


def expand_dims(x, axis):
    shape = list(x.shape)
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    return reshape(x, shape)


def squeeze(x, axis):
    shape = list(x.shape)
    del shape[axis]
    return reshape(x, shape)
