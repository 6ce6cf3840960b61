"""Reductions. Backward broadcasts the upstream gradient back over the reduced axes."""
from ..autograd import Function
from ..backend import get_array_module


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axis)


def _expand(gy, in_shape, axes, keepdims):
    """Put the reduced axes back as size-1 axes so that ``gy`` broadcasts to ``in_shape``."""
    if not keepdims:
        gy = gy.reshape([1 if i in axes else n for i, n in enumerate(in_shape)])
    return gy


class Sum(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axes = _axes(self.axis, x.ndim)
        return get_array_module(x).asarray(x.sum(axis=self.axes, keepdims=self.keepdims))

    def backward(self, gy):
        shape = self.inputs[0].shape
        return get_array_module(gy).broadcast_to(_expand(gy, shape, self.axes, self.keepdims), shape)


class Mean(Sum):
    """y = sum(x) / n over the reduced axes."""
    def forward(self, x):
        y = super().forward(x)
        self.n = _prod(x.shape, self.axes)
        return (y / self.n).astype(x.dtype, copy=False)

    def backward(self, gy):
        return super().backward(gy / self.n)


class Max(Function):
    """Gradient shared equally among the elements that attain the maximum."""
    def __init__(self, axis, keepdims, find_min=False):
        self.axis, self.keepdims, self.find_min = axis, keepdims, find_min

    def forward(self, x):
        self.axes = _axes(self.axis, x.ndim)
        reduce = x.min if self.find_min else x.max
        self.y = get_array_module(x).asarray(reduce(axis=self.axes, keepdims=True))
        return self.y if self.keepdims else self.y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, gy):
        x = self.inputs[0].data
        mask = x == self.y
        count = mask.sum(axis=self.axes, keepdims=True)
        return mask * (_expand(gy, x.shape, self.axes, self.keepdims) / count)


class Var(Function):
    """y = mean((x - mean(x))^2);  dx = 2 (x - mean(x)) gy / n  (population variance)."""
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axes = _axes(self.axis, x.ndim)
        self.centered = x - x.mean(axis=self.axes, keepdims=True)
        self.n = _prod(x.shape, self.axes)
        y = (self.centered ** 2).mean(axis=self.axes, keepdims=self.keepdims)
        return get_array_module(x).asarray(y)

    def backward(self, gy):
        gy = _expand(gy, self.centered.shape, self.axes, self.keepdims)
        return gy * self.centered * (2.0 / self.n)


class SumSquares(Function):
    """y = sum(x^2) over every element, as one dot product;  dx = 2 x gy.
    The L2 weight penalty: one pass each way where ``sum(x * x)`` takes four."""
    def forward(self, x):
        flat = x.reshape(-1)
        return get_array_module(x).asarray(flat @ flat)

    def backward(self, gy):
        return self.inputs[0].data * (2 * gy)


def _prod(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def sum(x, axis=None, keepdims=False): return Sum(axis, keepdims)(x)  # noqa: A001
def mean(x, axis=None, keepdims=False): return Mean(axis, keepdims)(x)
def max(x, axis=None, keepdims=False): return Max(axis, keepdims)(x)  # noqa: A001
def min(x, axis=None, keepdims=False): return Max(axis, keepdims, find_min=True)(x)  # noqa: A001
def var(x, axis=None, keepdims=False): return Var(axis, keepdims)(x)
def sum_squares(x): return SumSquares()(x)
