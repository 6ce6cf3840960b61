"""Layer, group and unit normalization: statistics over the features of each sample, not over
the batch (so they behave the same in training and inference and need no moving averages).

* ``layer_norm``: y = gamma (x - mean) / sqrt(var + eps) + beta, the mean and (biased)
  variance taken over ``axes`` of every sample; gamma and beta have the shape of those axes.
* ``group_norm``: the channels (one axis) are split into ``groups``; each group of each
  sample is normalized over its channels and every other non-batch axis, then a per-channel
  gamma and beta are applied. groups = 1 is layer norm over all features; groups = channels
  is instance norm.
* ``unit_norm``: y = x / ||x||_2 over ``axes`` (the norm floored at 1e-12, as Keras).
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from .shape import reshape


def _axes(axes, ndim):
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    out = sorted({int(a) % ndim for a in axes})
    if any(not -ndim <= int(a) < ndim for a in axes):
        raise ValueError(f'normalization: axis {axes} is out of bounds for an input of rank {ndim}.')
    return tuple(out)


class LayerNorm(Function):
    """y = xhat gamma + beta,  xhat = (x - mean) inv,  inv = 1 / sqrt(var + eps), over ``axes``.

    Backward, with M the number of elements normalized together and means over ``axes``:
      dbeta  = sum gy                     dgamma = sum gy xhat      (over the other axes)
      dxhat  = gy gamma
      dx     = inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat))

    ``rms_scaling`` (Keras' deprecated flag): y = x inv gamma, no centring and no beta; then
      dx = inv dxhat - inv^3 (x - mean) mean(dxhat x).
    gamma and beta may be None (no scale / no centre).
    """
    def __init__(self, axes, epsilon, has_gamma, has_beta, rms_scaling=False):
        self.axes, self.epsilon = axes, epsilon
        self.has_gamma, self.has_beta, self.rms = has_gamma, has_beta, rms_scaling

    def _param_shape(self, x):
        return tuple(n if i in self.axes else 1 for i, n in enumerate(x.shape))

    def forward(self, x, *params):
        xp = get_array_module(x)
        params = list(params)
        gamma = params.pop(0).reshape(self._param_shape(x)) if self.has_gamma else None
        beta = params.pop(0).reshape(self._param_shape(x)) if self.has_beta else None
        mean = x.mean(axis=self.axes, keepdims=True)
        self.centered = x - mean
        var = (self.centered * self.centered).mean(axis=self.axes, keepdims=True)
        self.inv = 1 / xp.sqrt(var + x.dtype.type(self.epsilon))
        self.xhat = (x if self.rms else self.centered) * self.inv
        self.gamma = gamma
        y = self.xhat * gamma if gamma is not None else self.xhat
        if beta is not None:
            y = y + beta
        return y

    def backward(self, gy):
        other = tuple(i for i in range(gy.ndim) if i not in self.axes)
        x = self.inputs[0].data
        grads = []
        g_xhat = gy * self.gamma if self.gamma is not None else gy
        if self.inputs[0].requires_grad:
            if self.rms:
                gx = self.inv * g_xhat - self.inv ** 3 * self.centered * (g_xhat * x).mean(axis=self.axes, keepdims=True)
            else:
                gx = self.inv * (g_xhat - g_xhat.mean(axis=self.axes, keepdims=True)
                                 - self.xhat * (g_xhat * self.xhat).mean(axis=self.axes, keepdims=True))
        else:
            gx = None
        grads.append(gx)
        shape = lambda i: self.inputs[i].shape  # noqa: E731
        if self.has_gamma:
            grads.append((gy * self.xhat).sum(axis=other).reshape(shape(1)))
        if self.has_beta:
            grads.append(gy.sum(axis=other).reshape(shape(len(grads))))
        return tuple(grads)


def layer_norm(x, gamma=None, beta=None, axis=-1, epsilon=1e-3, rms_scaling=False):
    """Keras' ``ops.layer_normalization``: normalize every sample over ``axis`` (an int or a
    list). gamma and beta (or None) have the sizes of those axes, in order."""
    axes = _axes(axis, len(x.shape))
    want = tuple(x.shape[a] for a in axes)
    for name, p in (('gamma', gamma), ('beta', beta)):
        if p is not None and int(np.prod(p.shape)) != int(np.prod(want)):
            raise ValueError(f'layer_norm: {name} must have shape {want} (the sizes of axes {list(axes)} of the '
                             f'input {tuple(x.shape)}), got {tuple(p.shape)}.')
    params = [p for p in (gamma, beta) if p is not None]
    return LayerNorm(axes, epsilon, gamma is not None, beta is not None, rms_scaling)(x, *params)


def group_norm(x, groups, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    """Keras' GroupNormalization: split axis ``axis`` (C channels) into ``groups`` and normalize
    each (sample, group) over its C / groups channels and every other non-batch axis; then
    y = gamma_c xhat + beta_c. Composed from ``layer_norm`` on a reshaped view."""
    ndim = len(x.shape)
    axis = axis % ndim
    channels = x.shape[axis]
    if groups <= 0 or channels % groups:
        raise ValueError(f'group_norm: {channels} channels (axis {axis} of input {tuple(x.shape)}) cannot be split '
                         f'into {groups} groups; choose a divisor of {channels}.')
    grouped = tuple(x.shape[:axis]) + (groups, channels // groups) + tuple(x.shape[axis + 1:])
    reduce_axes = [a for a in range(1, ndim + 1) if a != axis]
    y = reshape(layer_norm(reshape(x, grouped), None, None, reduce_axes, epsilon), tuple(x.shape))
    shape = [1] * ndim
    shape[axis] = channels
    if gamma is not None:
        y = y * reshape(gamma, tuple(shape))
    if beta is not None:
        y = y + reshape(beta, tuple(shape))
    return y


class UnitNorm(Function):
    """y = x r with r = min(1 / sqrt(sum x^2), 1 / eps) over ``axes`` (Keras' ops.normalize).

    dx = r gy - r^3 x sum(gy x) where the norm exceeds eps; dx = gy / eps where it is floored.
    """
    def __init__(self, axes, epsilon=1e-12):
        self.axes, self.epsilon = axes, epsilon

    def forward(self, x):
        xp = get_array_module(x)
        square_sum = (x * x).sum(axis=self.axes, keepdims=True)
        with np.errstate(divide='ignore'):
            inv = 1 / xp.sqrt(square_sum)
        cap = x.dtype.type(1 / self.epsilon)
        self.floored = ~(inv < cap)
        self.r = xp.where(self.floored, cap, inv)
        return x * self.r

    def backward(self, gy):
        x = self.inputs[0].data
        xp = get_array_module(gy)
        dot = (gy * x).sum(axis=self.axes, keepdims=True)
        free = self.r * gy - self.r ** 3 * x * dot
        return xp.where(self.floored, self.r * gy, free)


def unit_norm(x, axis=-1, epsilon=1e-12):
    """x / max(||x||_2, epsilon) along ``axis`` (an int or a list)."""
    return UnitNorm(_axes(axis, len(x.shape)), epsilon)(x)
