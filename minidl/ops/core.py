"""``keras.ops`` on minidl tensors: NumPy-style and math functions (``minidl.ops.matmul``,
``ops.sum``, ``ops.where``, ...), differentiable wherever Keras' are.

Every function is a thin wrapper over ``minidl.functional``: it converts arrays and Python
numbers to Tensors and calls the reference op, so there is one implementation of each op.
Called on symbolic tensors (from ``Input``), a function records a node of the functional graph
instead (``symbolic``), so ``x = ops.sum(inputs * 2, axis=-1)`` works in a functional model as
in Keras. Functions without a gradient (comparisons, ``argmax``, ``floor``...) return constant
Tensors.
"""
import builtins
import functools

import numpy as np

from .. import backend, tree
from .. import functional as F
from ..autograd import Tensor, as_tensor
from ..functional import indexing, special
from ..layers.base import KerasTensor, Layer, is_symbolic, unique_name


# --- recording calls on symbolic tensors ----------------------------------------------------------
class OpLayer(Layer):
    """A ``minidl.ops`` function applied in a functional graph: the node's arguments are the
    call's (symbolic tensors and plain values); ``op_kwargs`` are fixed arguments (what Keras
    keeps in an operation's config)."""

    def __init__(self, function, op_kwargs=None, name=None, **kwargs):
        super().__init__(name=name or unique_name(function), **kwargs)
        if not callable(getattr(_namespace(), function, None)):
            raise ValueError(f'OpLayer: minidl.ops has no function {function!r}.')
        self.function = function
        self.op_kwargs = dict(op_kwargs or {})

    def call(self, *args, **kwargs):
        return getattr(_namespace(), self.function)(*args, **{**self.op_kwargs, **kwargs})

    def get_config(self):
        return {'name': self.name, 'function': self.function, 'op_kwargs': self.op_kwargs}

    def _summary_class_name(self):
        return ''.join(part.capitalize() for part in self.function.split('_'))


def _namespace():
    from .. import ops
    return ops


def symbolic(fn):
    """Run ``fn`` eagerly, or record it as a graph node when any argument is symbolic."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if is_symbolic(args, kwargs):
            return OpLayer(fn.__name__)(*args, **kwargs)
        return fn(*args, **kwargs)
    wrapper.__wrapped_op__ = fn
    return wrapper


def _t(x):
    """A Tensor for ``x`` (arrays and Python numbers become float32 unless integral arrays)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)):
        return Tensor(backend.as_array(x, backend.floatx))
    return Tensor(backend.as_array(x))


def _raw(x):
    return x.data if isinstance(x, Tensor) else backend.as_array(x)


def _const(array):
    return Tensor(array)


def _same_float(a, b):
    """Binary ops: a Python number takes the other operand's float dtype."""
    a_t, b_t = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_t and not b_t and isinstance(b, (int, float)):
        return a, Tensor(backend.as_array(b, a.dtype if a.dtype.kind == 'f' else backend.floatx))
    if b_t and not a_t and isinstance(a, (int, float)):
        return Tensor(backend.as_array(a, b.dtype if b.dtype.kind == 'f' else backend.floatx)), b
    return _t(a), _t(b)


# --- creation and conversion ------------------------------------------------------------------
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else cast(x, dtype)
    return Tensor(backend.as_array(x, None if dtype is None else np.dtype(dtype)))


def convert_to_numpy(x):
    return backend.to_numpy(x.data if isinstance(x, Tensor) else x)


def is_tensor(x):
    return isinstance(x, (Tensor, KerasTensor))


def shape(x):
    return tuple(x.shape)


def ndim(x):
    return len(x.shape)


def size(x):
    return int(np.prod(x.shape))


def dtype(x):
    return str(x.dtype)


def zeros(shape, dtype=None):
    return _const(backend.xp().zeros(shape, dtype or backend.floatx))


def ones(shape, dtype=None):
    return _const(backend.xp().ones(shape, dtype or backend.floatx))


def full(shape, fill_value, dtype=None):
    return _const(backend.xp().full(shape, fill_value, dtype or backend.floatx))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803  (Keras' names)
    return _const(backend.xp().eye(N, M, k, dtype=dtype or backend.floatx))


identity = eye


def arange(start, stop=None, step=1, dtype=None):
    values = backend.xp().arange(start, stop, step) if stop is not None else backend.xp().arange(start)
    if dtype is not None:
        values = values.astype(dtype)
    elif values.dtype.kind == 'f':
        values = values.astype(backend.floatx)
    return _const(values)


def linspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return _const(backend.xp().linspace(start, stop, num, endpoint=endpoint, axis=axis).astype(dtype or backend.floatx))


@symbolic
def zeros_like(x, dtype=None):
    return _const(backend.get_array_module(_raw(x)).zeros_like(_raw(x), dtype=dtype))


@symbolic
def ones_like(x, dtype=None):
    return _const(backend.get_array_module(_raw(x)).ones_like(_raw(x), dtype=dtype))


@symbolic
def full_like(x, fill_value, dtype=None):
    return _const(backend.get_array_module(_raw(x)).full_like(_raw(x), fill_value, dtype=dtype))


@symbolic
def cast(x, dtype):
    """A copy in ``dtype``. Between floating dtypes the gradient flows (cast back); to integers or
    booleans it stops, as in Keras."""
    dtype = np.dtype(dtype)
    x = _t(x)
    if x.dtype == dtype:
        return x
    if dtype.kind == 'f' and x.dtype.kind == 'f':
        return special.cast(x, dtype)
    return _const(x.data.astype(dtype))


@symbolic
def stop_gradient(x):
    return _const(_raw(x))


# --- arithmetic ---------------------------------------------------------------------------------------
@symbolic
def add(x1, x2):
    return F.add(*_same_float(x1, x2))


@symbolic
def subtract(x1, x2):
    return F.sub(*_same_float(x1, x2))


@symbolic
def multiply(x1, x2):
    return F.mul(*_same_float(x1, x2))


@symbolic
def divide(x1, x2):
    return F.div(*_same_float(x1, x2))


true_divide = divide


@symbolic
def divide_no_nan(x1, x2):
    a, b = _same_float(x1, x2)
    zero = b.data == 0
    safe = F.add(b, Tensor(zero.astype(b.dtype)))  # 1 where b is 0: no division by zero, b keeps its gradient
    quotient = F.div(a, safe)
    return F.where(~zero, quotient, Tensor(backend.get_array_module(zero).zeros(quotient.shape, quotient.dtype)))


@symbolic
def negative(x):
    return F.neg(_t(x))


@symbolic
def power(x1, x2):
    return F.pow(*_same_float(x1, x2))


@symbolic
def square(x):
    x = _t(x)
    return F.mul(x, x)


@symbolic
def sqrt(x):
    return F.sqrt(_t(x))


@symbolic
def rsqrt(x):
    return F.div(1.0, F.sqrt(_t(x)))


@symbolic
def reciprocal(x):
    x = _t(x)
    return F.div(Tensor(backend.as_array(1, x.dtype)), x)


@symbolic
def exp(x):
    return F.exp(_t(x))


@symbolic
def log(x):
    return F.log(_t(x))


@symbolic
def log1p(x):
    return special.log1p(_t(x))


@symbolic
def expm1(x):
    return special.expm1(_t(x))


@symbolic
def log2(x):
    return F.div(F.log(_t(x)), float(np.log(2.0)))


@symbolic
def log10(x):
    return F.div(F.log(_t(x)), float(np.log(10.0)))


@symbolic
def absolute(x):
    return F.abs(_t(x))


abs = absolute  # noqa: A001  (Keras' name)


@symbolic
def sin(x):
    return special.sin(_t(x))


@symbolic
def cos(x):
    return special.cos(_t(x))


@symbolic
def tan(x):
    x = _t(x)
    return F.div(special.sin(x), special.cos(x))


@symbolic
def erf(x):
    return special.erf(_t(x))


@symbolic
def maximum(x1, x2):
    return F.maximum(*_same_float(x1, x2))


@symbolic
def minimum(x1, x2):
    return F.minimum(*_same_float(x1, x2))


@symbolic
def clip(x, x_min, x_max):
    return F.clip(_t(x), x_min, x_max)


@symbolic
def where(condition, x1=None, x2=None):
    cond = _raw(condition).astype(bool)
    if x1 is None and x2 is None:
        return tuple(_const(i) for i in backend.get_array_module(cond).nonzero(cond))
    return F.where(cond, *_same_float(x1, x2))


@symbolic
def matmul(x1, x2):
    return F.matmul(_t(x1), _t(x2))


@symbolic
def dot(x1, x2):
    """NumPy's dot: matmul for 2-D, a contraction of the last axis of x1 with the second-to-last of x2."""
    a, b = _t(x1), _t(x2)
    if a.ndim == 0 or b.ndim == 0:
        return F.mul(a, b)
    if b.ndim <= 2:
        return F.matmul(a, b)
    return special.einsum(f'...i,{"".join("abcdefgh"[:b.ndim - 2])}ij->...{"".join("abcdefgh"[:b.ndim - 2])}j', a, b)


@symbolic
def einsum(subscripts, *operands):
    return special.einsum(subscripts, *[_t(o) for o in operands])


@symbolic
def tensordot(x1, x2, axes=2):
    a, b = _t(x1), _t(x2)
    if isinstance(axes, int):
        axes = (list(range(a.ndim - axes, a.ndim)), list(range(axes)))
    ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                  [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    letters = iter('abcdefghijklmnopqrstuvwxyz')
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(ax_a, ax_b):
        sb[j % b.ndim] = sa[i % a.ndim]
    out = [c for i, c in enumerate(sa) if i not in [k % a.ndim for k in ax_a]] + \
          [c for j, c in enumerate(sb) if j not in [k % b.ndim for k in ax_b]]
    return special.einsum(f'{"".join(sa)},{"".join(sb)}->{"".join(out)}', a, b)


# --- reductions -----------------------------------------------------------------------------------------
@symbolic
def sum(x, axis=None, keepdims=False):  # noqa: A001
    return F.sum(_t(x), _axis(axis), keepdims)


@symbolic
def mean(x, axis=None, keepdims=False):
    return F.mean(_t(x), _axis(axis), keepdims)


@symbolic
def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return F.max(_t(x), _axis(axis), keepdims)


@symbolic
def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    return F.min(_t(x), _axis(axis), keepdims)


amax, amin = max, min


@symbolic
def var(x, axis=None, keepdims=False):
    return F.var(_t(x), _axis(axis), keepdims)


@symbolic
def std(x, axis=None, keepdims=False):
    return F.sqrt(F.var(_t(x), _axis(axis), keepdims))


@symbolic
def prod(x, axis=None, keepdims=False, dtype=None):
    x = _t(x)
    y = indexing.cumprod(x, axis=axis if axis is None else axis)
    if axis is None:
        return F.reshape(y[-1], ())
    last = F.getitem(y, (builtins.slice(None),) * (axis % x.ndim) + (builtins.slice(-1, None),))
    return last if keepdims else F.squeeze(last, axis % x.ndim)


@symbolic
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m = max(x) (held constant)."""
    x = _t(x)
    axes = _axis(axis)
    m = x.data.max(axis=axes, keepdims=True)
    m = backend.get_array_module(m).where(backend.get_array_module(m).isfinite(m), m, 0)
    y = F.add(F.log(F.sum(F.exp(F.sub(x, Tensor(m))), axes, keepdims=True)), Tensor(m))
    if keepdims:
        return y
    return F.reshape(y, tuple(n for i, n in enumerate(x.shape) if i not in _normalized_axes(axes, x.ndim)))


@symbolic
def cumsum(x, axis=None, dtype=None):
    return indexing.cumsum(_t(x), axis)


@symbolic
def cumprod(x, axis=None, dtype=None):
    return indexing.cumprod(_t(x), axis)


@symbolic
def argmax(x, axis=None, keepdims=False):
    data = _raw(x)
    out = data.argmax(axis=axis)
    if keepdims and axis is not None:
        out = backend.get_array_module(out).expand_dims(out, axis)
    return _const(out)


@symbolic
def argmin(x, axis=None, keepdims=False):
    data = _raw(x)
    out = data.argmin(axis=axis)
    if keepdims and axis is not None:
        out = backend.get_array_module(out).expand_dims(out, axis)
    return _const(out)


@symbolic
def argsort(x, axis=-1):
    return _const(indexing.argsort(_t(x), axis))


@symbolic
def sort(x, axis=-1):
    return indexing.sort(_t(x), axis)


@symbolic
def top_k(x, k, sorted=True):  # noqa: A002
    return indexing.top_k(_t(x), k, sorted)


@symbolic
def all(x, axis=None, keepdims=False):  # noqa: A001
    return _const(backend.get_array_module(_raw(x)).all(_raw(x), axis=_axis(axis), keepdims=keepdims))


@symbolic
def any(x, axis=None, keepdims=False):  # noqa: A001
    return _const(backend.get_array_module(_raw(x)).any(_raw(x), axis=_axis(axis), keepdims=keepdims))


@symbolic
def count_nonzero(x, axis=None):
    return _const(backend.get_array_module(_raw(x)).count_nonzero(_raw(x), axis=_axis(axis)))


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _normalized_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else axis
    return tuple(a % ndim for a in axis)


# --- comparisons and other functions without a gradient --------------------------------------------
def _no_grad(name, fn):
    def op(*args):
        return _const(fn(*[_raw(a) if isinstance(a, (Tensor, np.ndarray)) or backend.is_cupy(a) else a
                           for a in args]))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f'``{name}`` elementwise (no gradient).'
    return symbolic(op)


equal = _no_grad('equal', lambda a, b: a == b)
not_equal = _no_grad('not_equal', lambda a, b: a != b)
greater = _no_grad('greater', lambda a, b: a > b)
greater_equal = _no_grad('greater_equal', lambda a, b: a >= b)
less = _no_grad('less', lambda a, b: a < b)
less_equal = _no_grad('less_equal', lambda a, b: a <= b)
logical_and = _no_grad('logical_and', lambda a, b: backend.get_array_module(a).logical_and(a, b))
logical_or = _no_grad('logical_or', lambda a, b: backend.get_array_module(a).logical_or(a, b))
logical_xor = _no_grad('logical_xor', lambda a, b: backend.get_array_module(a).logical_xor(a, b))
logical_not = _no_grad('logical_not', lambda a: backend.get_array_module(a).logical_not(a))
isnan = _no_grad('isnan', lambda a: backend.get_array_module(a).isnan(a))
isinf = _no_grad('isinf', lambda a: backend.get_array_module(a).isinf(a))
isfinite = _no_grad('isfinite', lambda a: backend.get_array_module(a).isfinite(a))
sign = _no_grad('sign', lambda a: backend.get_array_module(a).sign(a))
floor = _no_grad('floor', lambda a: backend.get_array_module(a).floor(a))
ceil = _no_grad('ceil', lambda a: backend.get_array_module(a).ceil(a))
round = _no_grad('round', lambda a, decimals=0: backend.get_array_module(a).round(a, decimals))  # noqa: A001
floor_divide = _no_grad('floor_divide', lambda a, b: backend.get_array_module(a).floor_divide(a, b))
mod = _no_grad('mod', lambda a, b: backend.get_array_module(a).mod(a, b))


# --- shapes ------------------------------------------------------------------------------------------------
@symbolic
def reshape(x, newshape):
    x = _t(x)
    newshape = (newshape,) if isinstance(newshape, int) else tuple(-1 if d is None else d for d in newshape)
    return F.reshape(x, newshape)


@symbolic
def transpose(x, axes=None):
    return F.transpose(_t(x), axes)


@symbolic
def swapaxes(x, axis1, axis2):
    x = _t(x)
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return F.transpose(x, axes)


@symbolic
def moveaxis(x, source, destination):
    x = _t(x)
    source = [source] if isinstance(source, int) else list(source)
    destination = [destination] if isinstance(destination, int) else list(destination)
    order = [a for a in range(x.ndim) if a not in [s % x.ndim for s in source]]
    for dst, src in sorted(zip([d % x.ndim for d in destination], [s % x.ndim for s in source])):
        order.insert(dst, src)
    return F.transpose(x, order)


@symbolic
def expand_dims(x, axis):
    x = _t(x)
    for a in sorted([axis] if isinstance(axis, int) else list(axis)):
        x = F.expand_dims(x, a)
    return x


@symbolic
def squeeze(x, axis=None):
    x = _t(x)
    if axis is None:
        return F.reshape(x, tuple(n for n in x.shape if n != 1))
    axes = sorted((a % x.ndim for a in ([axis] if isinstance(axis, int) else axis)), reverse=True)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f'ops.squeeze: axis {a} of shape {tuple(x.shape)} has size {x.shape[a]}, not 1.')
        x = F.squeeze(x, a)
    return x


@symbolic
def ravel(x):
    return F.reshape(_t(x), (-1,))


@symbolic
def broadcast_to(x, shape):
    return F.broadcast_to(_t(x), tuple(shape))


@symbolic
def concatenate(xs, axis=0):
    return F.concatenate([_t(x) for x in xs], axis=axis)


@symbolic
def stack(x, axis=0):
    return F.stack([_t(v) for v in x], axis=axis)


@symbolic
def unstack(x, num=None, axis=0):
    x = _t(x)
    n = x.shape[axis]
    return [F.squeeze(part, axis % x.ndim) for part in F.split(x, n, axis=axis)]


@symbolic
def split(x, indices_or_sections, axis=0):
    out = F.split(_t(x), indices_or_sections, axis=axis)
    return list(out) if isinstance(out, tuple) else [out]


@symbolic
def tile(x, repeats):
    return indexing.tile(_t(x), repeats)


@symbolic
def repeat(x, repeats, axis=None):
    return indexing.repeat(_t(x), repeats, axis)


@symbolic
def flip(x, axis=None):
    return indexing.flip(_t(x), axis)


@symbolic
def roll(x, shift, axis=None):
    return indexing.roll(_t(x), shift, axis)


@symbolic
def take(x, indices, axis=None):
    return indexing.take(_t(x), indices, axis)


@symbolic
def take_along_axis(x, indices, axis=None):
    return indexing.take_along_axis(_t(x), indices, axis)


@symbolic
def getitem(x, key):
    return F.getitem(_t(x), key)


get_item = getitem


@symbolic
def slice(inputs, start_indices, shape):  # noqa: A001  (Keras' name)
    """inputs[start : start + shape] on every axis (Keras' ``ops.slice``)."""
    key = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return F.getitem(_t(inputs), key)


@symbolic
def pad(x, pad_width, mode='constant', constant_values=None):
    if mode != 'constant':
        raise ValueError(f"ops.pad: only mode='constant' is supported, got {mode!r}.")
    return F.pad(_t(x), pad_width, 0.0 if constant_values is None else constant_values)


@symbolic
def tril(x, k=0):
    x = _t(x)
    mask = backend.get_array_module(x.data).tril(backend.get_array_module(x.data).ones(x.shape[-2:], bool), k)
    return F.where(mask, x, zeros_like(x))


@symbolic
def triu(x, k=0):
    x = _t(x)
    mask = backend.get_array_module(x.data).triu(backend.get_array_module(x.data).ones(x.shape[-2:], bool), k)
    return F.where(mask, x, zeros_like(x))


@symbolic
def one_hot(x, num_classes, axis=-1, dtype=None):
    ids = _raw(x).astype(np.int64)
    xp = backend.get_array_module(ids)
    out = (ids[..., None] == xp.arange(num_classes)).astype(dtype or backend.floatx)
    if axis != -1:
        out = xp.moveaxis(out, -1, axis)
    return _const(out)


__all__ = [n for n in dir() if not n.startswith('_') and n not in ('np', 'builtins', 'functools', 'backend', 'tree',
                                                                    'F', 'Tensor', 'as_tensor', 'indexing', 'special',
                                                                    'KerasTensor', 'Layer', 'is_symbolic',
                                                                    'unique_name')]
