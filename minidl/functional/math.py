"""Elementwise arithmetic and matrix products. Broadcasting is undone by the engine (sum_to),
so each backward returns gradients with the broadcast shape."""
import numpy as np

from .. import kernels
from ..autograd import Function, Tensor
from ..backend import get_array_module


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, -gy


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b.data, gy * a.data


class Div(Function):
    """y = a / b;  da = gy / b,  db = -gy a / b^2."""
    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs[0].data, self.inputs[1].data
        ga = gy / b
        return ga, (-ga * a / b) if self.inputs[1].requires_grad else None


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = a ** b;  da = b a^(b-1) gy,  db = y log(a) gy (only when b needs a gradient)."""
    def forward(self, a, b):
        self.y = a ** b
        return self.y

    def backward(self, gy):
        a, b = self.inputs[0].data, self.inputs[1].data
        ga = gy * b * a ** (b - 1) if self.inputs[0].requires_grad else None
        gb = gy * self.y * get_array_module(a).log(a) if self.inputs[1].requires_grad else None
        return ga, gb


class Exp(Function):
    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y


class Log(Function):
    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0].data


class Sqrt(Function):
    """y = sqrt(x);  dx = gy / (2 y)."""
    def forward(self, x):
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (2 * self.y)


class Abs(Function):
    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, gy):
        return gy * get_array_module(gy).sign(self.inputs[0].data)


class Maximum(Function):
    """Elementwise max; the gradient goes to ``a`` where a >= b (ties to ``a``)."""
    def forward(self, a, b):
        self.mask = a >= b
        return get_array_module(a).maximum(a, b)

    def backward(self, gy):
        return gy * self.mask, gy * ~self.mask


class Minimum(Function):
    """Elementwise min; the gradient goes to ``a`` where a <= b (ties to ``a``)."""
    def forward(self, a, b):
        self.mask = a <= b
        return get_array_module(a).minimum(a, b)

    def backward(self, gy):
        return gy * self.mask, gy * ~self.mask


class Clip(Function):
    """y = min(max(x, lo), hi); the gradient passes where lo <= x <= hi."""
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.mask = (x >= self.lo) & (x <= self.hi)
        return get_array_module(x).clip(x, self.lo, self.hi)

    def backward(self, gy):
        return gy * self.mask


class Where(Function):
    """y = cond ? a : b, with ``cond`` a constant boolean array."""
    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        xp = get_array_module(a)
        self.cond = xp.asarray(self.cond)  # on a's device: a NumPy mask may meet GPU arrays
        return xp.where(self.cond, a, b)

    def backward(self, gy):
        zero = gy.dtype.type(0)
        xp = get_array_module(gy)
        return xp.where(self.cond, gy, zero), xp.where(self.cond, zero, gy)


class MatMul(Function):
    """y = a @ b (batched, NumPy rules);  da = gy @ b^T,  db = a^T @ gy."""
    def forward(self, a, b):
        return a @ b

    def backward(self, gy):
        a, b = self.inputs[0].data, self.inputs[1].data
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        gy = gy.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
        ga = gy @ b2.swapaxes(-1, -2) if self.inputs[0].requires_grad else None
        gb = a2.swapaxes(-1, -2) @ gy if self.inputs[1].requires_grad else None
        if a.ndim == 1 and ga is not None:
            ga = ga[..., 0, :]
        if b.ndim == 1 and gb is not None:
            gb = gb[..., 0]
        return ga, gb


def add(a, b): return Add()(a, b)
def sub(a, b): return Sub()(a, b)
def mul(a, b): return Mul()(a, b)
def div(a, b): return Div()(a, b)
def neg(x): return Neg()(x)
def pow(a, b): return Pow()(a, b)  # noqa: A001  (the name users expect)
def exp(x): return Exp()(x)
def log(x): return Log()(x)
def sqrt(x): return Sqrt()(x)
def abs(x): return Abs()(x)  # noqa: A001
def maximum(a, b): return Maximum()(a, b)
def minimum(a, b): return Minimum()(a, b)
def clip(x, lo, hi): return Clip(lo, hi)(x)
def matmul(a, b): return kernels.make('matmul', MatMul, a, b)(a, b)


def where(cond, a, b):
    """Elementwise ``cond ? a : b``; ``cond`` is a boolean array (no gradient)."""
    return Where(cond.data if isinstance(cond, Tensor) else cond)(a, b)
