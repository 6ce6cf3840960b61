"""``keras.ops.linalg`` on minidl tensors. ``norm``, ``inv``, ``det`` and ``solve`` carry
gradients; the factorizations (``qr``, ``svd``, ``eigh``, ``cholesky``) return constants."""
from .. import backend
from ..functional import special
from .core import _const, _raw, _t, absolute, max as _max, power, sqrt, sum as _sum, symbolic


@symbolic
def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002  (Keras' name)
    """Vector norms (2 by default, any p, inf) over one axis, or the Frobenius norm of matrices."""
    x = _t(x)
    if ord in (None, 'fro', 'euclidean', 2) and not (ord == 2 and isinstance(axis, (tuple, list))):
        return sqrt(_sum(x * x, axis=axis, keepdims=keepdims))
    if ord in (float('inf'), 'inf'):
        return _max(absolute(x), axis=axis, keepdims=keepdims)
    if isinstance(ord, (int, float)) and not isinstance(axis, (tuple, list)):
        return power(_sum(power(absolute(x), float(ord)), axis=axis, keepdims=keepdims), 1.0 / ord)
    raise ValueError(f'ops.norm: ord={ord!r} with axis={axis!r} is not supported; use vector norms (ord None, p or '
                     "inf over one axis) or the Frobenius norm ('fro').")


@symbolic
def inv(x):
    return special.inv(_t(x))


@symbolic
def det(x):
    return special.det(_t(x))


@symbolic
def solve(a, b):
    return special.solve(_t(a), _t(b))


def _xp(x):
    return backend.get_array_module(_raw(x))


def qr(x, mode='reduced'):
    q, r = _xp(x).linalg.qr(_raw(x), mode=mode)
    return _const(q), _const(r)


def svd(x, full_matrices=True, compute_uv=True):
    out = _xp(x).linalg.svd(_raw(x), full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(_const(o) for o in out) if compute_uv else _const(out)


def eigh(x):
    w, v = _xp(x).linalg.eigh(_raw(x))
    return _const(w), _const(v)


def cholesky(x, upper=False):
    c = _xp(x).linalg.cholesky(_raw(x))
    return _const(c.swapaxes(-1, -2) if upper else c)
