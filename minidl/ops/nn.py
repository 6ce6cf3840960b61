"""``keras.ops.nn`` on minidl tensors: activations, normalization helpers and one-hot codes.
Each is a thin wrapper over ``minidl.functional``; see ``minidl.ops.core``."""
from .. import backend
from .. import functional as F
from ..autograd import Tensor
from .core import _const, _raw, _t, mean, one_hot, symbolic, var, sqrt, sum as _sum, maximum, divide


def _activation(name):
    def op(x, *args, **kwargs):
        fn = getattr(F, name, None)
        if fn is None:
            raise NotImplementedError(f'minidl.ops.{name}: minidl.functional has no {name} yet.')
        return fn(_t(x), *args, **kwargs)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f'The {name} activation (``minidl.functional.{name}``).'
    return symbolic(op)


relu = _activation('relu')
sigmoid = _activation('sigmoid')
tanh = _activation('tanh')
softplus = _activation('softplus')
elu = _activation('elu')
gelu = _activation('gelu')
silu = _activation('silu')
swish = silu
selu = _activation('selu')
softsign = _activation('softsign')
relu6 = _activation('relu6')
hard_sigmoid = _activation('hard_sigmoid')
hard_silu = _activation('hard_silu')
hard_swish = hard_silu
log_sigmoid = _activation('log_sigmoid')
mish = _activation('mish')


@symbolic
def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(_t(x), negative_slope)


@symbolic
def softmax(x, axis=-1):
    return F.softmax(_t(x), axis)


@symbolic
def log_softmax(x, axis=-1):
    return F.log_softmax(_t(x), axis)


@symbolic
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over ``axes``."""
    return mean(x, axes, keepdims), var(x, axes, keepdims)


@symbolic
def normalize(x, axis=-1, order=2, epsilon=None):
    """x / max(||x||_order, epsilon) along ``axis`` (Keras' default epsilon 1e-12 for L2)."""
    x = _t(x)
    if order == 2:
        norm = sqrt(_sum(x * x, axis=axis, keepdims=True))
    else:
        norm = _sum(F.abs(x) ** order, axis=axis, keepdims=True) ** (1.0 / order)
    return divide(x, maximum(norm, 1e-12 if epsilon is None else epsilon))


@symbolic
def multi_hot(inputs, num_classes, axis=-1, dtype=None):
    codes = _raw(one_hot(inputs, num_classes, dtype=dtype))
    return _const(codes.max(axis=-2) if codes.ndim > 1 else codes)


del backend, Tensor
