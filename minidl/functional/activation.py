"""Activations, written to be stable: no exp of a large positive number is ever taken.
(ReLU's GPU backward kernel is in ``minidl/kernels/activation.py``.)"""
from .. import kernels
from ..autograd import Function
from ..backend import get_array_module


class ReLU(Function):
    """y = max(x, 0);  dx = gy where y > 0 (the output is kept, not a mask)."""
    def forward(self, x):
        self.y = get_array_module(x).maximum(x, x.dtype.type(0))
        return self.y

    def backward(self, gy):
        return gy * (self.y > 0)


class LeakyReLU(Function):
    """y = x for x > 0, alpha x otherwise."""
    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        self.slope = get_array_module(x).where(x > 0, x.dtype.type(1), x.dtype.type(self.alpha))
        return x * self.slope

    def backward(self, gy):
        return gy * self.slope


class ELU(Function):
    """y = x for x > 0, alpha (e^x - 1) otherwise;  dy/dx = 1 or y + alpha."""
    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = get_array_module(x)
        self.positive = x > 0
        self.y = xp.where(self.positive, x, self.alpha * xp.expm1(xp.minimum(x, 0)))
        return self.y

    def backward(self, gy):
        return gy * get_array_module(gy).where(self.positive, 1, self.y + self.alpha)


def stable_sigmoid(x):
    """1 / (1 + e^-x) computed from e^-|x| so that neither branch overflows."""
    xp = get_array_module(x)
    e = xp.exp(-abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    """dy/dx = y (1 - y)."""
    def forward(self, x):
        self.y = stable_sigmoid(x)
        return self.y

    def backward(self, gy):
        return gy * self.y * (1 - self.y)


class Tanh(Function):
    """dy/dx = 1 - y^2."""
    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


class Softplus(Function):
    """y = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dy/dx = sigmoid(x)."""
    def forward(self, x):
        xp = get_array_module(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-abs(x)))

    def backward(self, gy):
        return gy * stable_sigmoid(self.inputs[0].data)


def stable_softmax(x, axis):
    e = get_array_module(x).exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def stable_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - get_array_module(x).log(get_array_module(x).exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    """y = e^x / sum(e^x);  dx = y (gy - sum(gy y))."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = stable_softmax(x, self.axis)
        return self.y

    def backward(self, gy):
        gyy = gy * self.y
        return gyy - self.y * gyy.sum(axis=self.axis, keepdims=True)


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dx = gy - softmax(x) sum(gy)."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = stable_log_softmax(x, self.axis)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def relu(x): return kernels.make('relu', ReLU, x)(x)
def leaky_relu(x, alpha=0.3): return LeakyReLU(alpha)(x)
def elu(x, alpha=1.0): return ELU(alpha)(x)
def sigmoid(x): return Sigmoid()(x)
def tanh(x): return Tanh()(x)
def softplus(x): return Softplus()(x)
def softmax(x, axis=-1): return Softmax(axis)(x)
def log_softmax(x, axis=-1): return LogSoftmax(axis)(x)
def linear(x): return x
