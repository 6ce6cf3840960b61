"""Gathers, repeats and orderings: ops whose backward sends each output's gradient back to the
input element it came from (accumulating where one input fed several outputs).

    take(x, idx, axis)             y = x[..., idx, ...]          dx: scatter-add gy at idx
    take_along_axis(x, idx, axis)  y[i] = x[i with idx on axis]  dx: scatter-add along axis
    tile(x, reps)                  y = x repeated in blocks      dx: the blocks summed
    repeat(x, n, axis)             each element n times          dx: each group of n summed
    flip(x, axis) / roll(x, k)     a permutation                 dx: the inverse permutation of gy
    sort(x, axis), top_k(x, k)     take_along_axis at the argsort, so the gradient goes back the same way
    cumsum(x, axis)                running sums                  dx: reversed running sums of gy
    cumprod(x, axis)               running products              dx = revcumsum(gy y) / x
"""
import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module, scatter_add


class Take(Function):
    def __init__(self, indices, axis):
        self.indices, self.axis = indices, axis

    def forward(self, x):
        return get_array_module(x).take(x, self.indices, axis=self.axis)

    def backward(self, gy):
        x = self.inputs[0]
        xp = get_array_module(gy)
        if self.axis is None:
            gx = xp.zeros(x.size, gy.dtype)
            scatter_add(gx, self.indices.reshape(-1), gy.reshape(-1))
            return gx.reshape(x.shape)
        axis = self.axis % x.ndim
        gx = xp.zeros(x.shape, gy.dtype)
        moved = xp.moveaxis(gx, axis, 0)  # a view: scatter into its first axis
        g = xp.moveaxis(gy, tuple(range(axis, axis + self.indices.ndim)), tuple(range(self.indices.ndim)))
        scatter_add(moved, self.indices.reshape(-1), g.reshape((-1,) + moved.shape[1:]))
        return gx


class TakeAlongAxis(Function):
    def __init__(self, indices, axis):
        self.indices, self.axis = indices, axis

    def forward(self, x):
        return get_array_module(x).take_along_axis(x, self.indices, axis=self.axis)

    def backward(self, gy):
        xp = get_array_module(gy)
        x = self.inputs[0]
        gx = xp.zeros(x.shape, gy.dtype)
        index = list(xp.indices(self.indices.shape, sparse=True))
        index[self.axis % x.ndim] = self.indices
        scatter_add(gx, tuple(index), gy)
        return gx


class Tile(Function):
    def __init__(self, reps):
        self.reps = tuple(reps)

    def forward(self, x):
        return get_array_module(x).tile(x, self.reps)

    def backward(self, gy):
        shape = self.inputs[0].shape
        reps = (1,) * (gy.ndim - len(self.reps)) + self.reps
        full = (1,) * (gy.ndim - len(shape)) + tuple(shape)
        blocks = gy.reshape([n for r, s in zip(reps, full) for n in (r, s)])
        return blocks.sum(axis=tuple(range(0, 2 * gy.ndim, 2))).reshape(shape)


class Repeat(Function):
    def __init__(self, repeats, axis):
        self.repeats, self.axis = repeats, axis

    def forward(self, x):
        return get_array_module(x).repeat(x, self.repeats, axis=self.axis)

    def backward(self, gy):
        x = self.inputs[0]
        xp = get_array_module(gy)
        if self.axis is None:
            flat_shape = (x.size,)
            axis = 0
        else:
            flat_shape, axis = x.shape, self.axis % x.ndim
        if isinstance(self.repeats, (int, np.integer)):
            g = gy.reshape(flat_shape[:axis] + (flat_shape[axis], int(self.repeats)) + flat_shape[axis + 1:])
            return g.sum(axis=axis + 1).reshape(x.shape)
        bounds = np.cumsum(np.asarray(self.repeats))[:-1]
        parts = xp.split(gy if self.axis is not None else gy.reshape(-1), bounds, axis=axis)
        return xp.stack([p.sum(axis=axis) for p in parts], axis=axis).reshape(x.shape)


class Flip(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return get_array_module(x).flip(x, axis=self.axis)

    def backward(self, gy):
        return get_array_module(gy).flip(gy, axis=self.axis)


class Roll(Function):
    def __init__(self, shift, axis):
        self.shift, self.axis = shift, axis

    def forward(self, x):
        return get_array_module(x).roll(x, self.shift, axis=self.axis)

    def backward(self, gy):
        shift = tuple(-s for s in self.shift) if isinstance(self.shift, tuple) else -self.shift
        return get_array_module(gy).roll(gy, shift, axis=self.axis)


class Cumsum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        if self.axis is None:
            return xp.cumsum(x.reshape(-1))
        return xp.cumsum(x, axis=self.axis)

    def backward(self, gy):
        xp = get_array_module(gy)
        axis = 0 if self.axis is None else self.axis
        g = xp.flip(xp.cumsum(xp.flip(gy, axis=axis), axis=axis), axis=axis)
        return g.reshape(self.inputs[0].shape)


class Cumprod(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        self.y = xp.cumprod(x.reshape(-1) if self.axis is None else x, axis=0 if self.axis is None else self.axis)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        axis = 0 if self.axis is None else self.axis
        x = self.inputs[0].data.reshape(self.y.shape)
        g = xp.flip(xp.cumsum(xp.flip(gy * self.y, axis=axis), axis=axis), axis=axis)
        return (g / x).reshape(self.inputs[0].shape)


def _raw_indices(indices):
    data = indices.data if isinstance(indices, Tensor) else indices
    xp = get_array_module(data) if hasattr(data, 'dtype') else np
    data = xp.asarray(data)
    if data.dtype.kind not in 'iu':
        data = data.astype(np.int64)
    return data


def take(x, indices, axis=None):
    return Take(_raw_indices(indices), axis)(x)


def take_along_axis(x, indices, axis=None):
    if axis is None:
        return TakeAlongAxis(_raw_indices(indices).reshape(-1), 0)(x.reshape(-1) if isinstance(x, Tensor)
                                                                   else Tensor(x).reshape(-1))
    return TakeAlongAxis(_raw_indices(indices), axis)(x)


def tile(x, reps):
    return Tile((reps,) if isinstance(reps, int) else tuple(reps))(x)


def repeat(x, repeats, axis=None):
    return Repeat(repeats if isinstance(repeats, (int, np.integer)) else list(repeats), axis)(x)


def flip(x, axis=None):
    return Flip(axis)(x)


def roll(x, shift, axis=None):
    return Roll(tuple(shift) if isinstance(shift, (list, tuple)) else shift,
                tuple(axis) if isinstance(axis, (list, tuple)) else axis)(x)


def argsort(x, axis=-1, descending=False):
    """Indices that sort ``x`` along ``axis`` (stable: ties keep their order); no gradient."""
    data = x.data if isinstance(x, Tensor) else x
    xp = get_array_module(data)
    return xp.argsort(-data if descending else data, axis=axis, kind='stable')


def sort(x, axis=-1, descending=False):
    """The values in order: a gather of ``x`` at its ``argsort``, so the gradient finds its way back."""
    return take_along_axis(x, argsort(x, axis, descending), axis)


def top_k(x, k, sorted=True):  # noqa: A002  (Keras' name)
    """(values, indices) of the ``k`` largest entries along the last axis, largest first (ties:
    lower index first); the values carry the gradient."""
    indices = argsort(x, -1, descending=True)[..., :int(k)]
    return take_along_axis(x, indices, -1), Tensor(indices)


def cumsum(x, axis=None):
    return Cumsum(axis)(x)


def cumprod(x, axis=None):
    return Cumprod(axis)(x)
