"""Batch normalisation (one fused Function, analytic backward) and inverted dropout."""

from .. import backend
from ..autograd import Function, Tensor
from ..backend import elementwise_kernel, get_array_module, is_cupy, random_unit


class BatchNorm(Function):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, statistics per channel (last axis).

    Training: batch mean and biased variance over every axis but the last, and with
    c = x - mean, xhat = c / std, M = elements per channel:
      dbeta = sum(gy), dgamma = sum(gy xhat) = sum(gy c) / std,
      dx = gamma / std * (gy - dbeta / M - xhat dgamma / M).
    Only c is kept: y = c (gamma / std) + beta needs no separate xhat pass.
    Inference: the moving statistics are constants, so y = x scale + shift with
    scale = gamma / std and shift = beta - mean scale, and dx = gy scale;
    xhat is recomputed only if dgamma is asked for. The elementwise steps are the functions at the
    end of this module: a few NumPy calls each, one CuPy kernel each on the GPU.
    """
    def __init__(self, moving_mean, moving_var, training, momentum, epsilon, has_gamma, has_beta):
        self.moving_mean, self.moving_var = moving_mean, moving_var
        self.training, self.momentum, self.epsilon = training, momentum, epsilon
        self.has_gamma, self.has_beta = has_gamma, has_beta

    def forward(self, x, *params):
        gamma = params[0] if self.has_gamma else None
        beta = params[-1] if self.has_beta else None
        if not self.training:
            return self._inference(x, gamma, beta)
        m = x.size // x.shape[-1]
        x2d = x.reshape(m, -1)
        total = backend.sum_rows(x2d)
        self.centered, y = center(x2d, total, 1 / m)
        total_sq = backend.sum_rows(y)
        update_moving(self.moving_mean.data, self.moving_var.data, total, total_sq, 1 / m, self.momentum)
        self.inv_std, self.scale = normalizer(total_sq, gamma, 1 / m, self.epsilon)
        return affine(self.centered, self.scale, beta, out=y).reshape(x.shape)

    def _inference(self, x, gamma, beta):
        xp = backend.get_array_module(x)
        self.mean = self.moving_mean.data.astype(x.dtype)
        self.inv_std = 1 / xp.sqrt(self.moving_var.data.astype(x.dtype) + self.epsilon)
        self.scale = self.inv_std * gamma if gamma is not None else self.inv_std
        shift = (beta - self.mean * self.scale) if beta is not None else -self.mean * self.scale
        return affine(x, self.scale, shift)

    def backward(self, gy):
        if not self.training:
            return self._inference_backward(gy)
        channels = gy.shape[-1]
        gy2 = gy.reshape(-1, channels)
        gbeta = backend.sum_rows(gy2)
        gy_c = backend.get_array_module(gy).multiply(gy2, self.centered)
        ggamma = backend.sum_rows(gy_c) * self.inv_std
        gx = None
        if self.inputs[0].requires_grad:
            gx = batch_norm_input_grad(gy2, self.centered, gbeta, ggamma, self.inv_std, self.scale,
                                       1 / gy2.shape[0], out=gy_c).reshape(gy.shape)
        return self._grads(gx, ggamma, gbeta)

    def _inference_backward(self, gy):
        channels = gy.shape[-1]
        gx = gy * self.scale if self.inputs[0].requires_grad else None
        ggamma = gbeta = None
        if self.has_gamma and self.inputs[1].requires_grad:
            xhat = (self.inputs[0].data - self.mean) * self.inv_std
            ggamma = backend.sum_rows((gy * xhat).reshape(-1, channels))
        if self.has_beta and self.inputs[-1].requires_grad:
            gbeta = backend.sum_rows(gy.reshape(-1, channels))
        return self._grads(gx, ggamma, gbeta)

    def _grads(self, gx, ggamma, gbeta):
        grads = [gx]
        if self.has_gamma:
            grads.append(ggamma)
        if self.has_beta:
            grads.append(gbeta)
        return tuple(grads)


def batch_norm(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
    """Keras BatchNormalization over the last axis of a 2-D, 3-D or 4-D ``x``.

    ``gamma``/``beta`` are Tensors of shape (C,) or None (no scale / no centre).
    ``moving_mean``/``moving_var`` are Tensors of shape (C,) updated in place when ``training``;
    inference normalises with them.
    """
    channels = x.shape[-1]
    if len(x.shape) < 2:
        raise ValueError(f'batch_norm: expected an input with a batch axis and a channel axis, got shape '
                         f'{tuple(x.shape)}.')
    for name, t in (('gamma', gamma), ('beta', beta), ('moving_mean', moving_mean), ('moving_var', moving_var)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f'batch_norm: {name} must have shape ({channels},) for an input of shape '
                             f'{tuple(x.shape)}, got {tuple(t.shape)}.')
    if not isinstance(moving_mean, Tensor) or not isinstance(moving_var, Tensor):
        raise TypeError('batch_norm: moving_mean and moving_var must be Tensors (they are updated in place).')
    params = [p for p in (gamma, beta) if p is not None]
    f = BatchNorm(moving_mean, moving_var, bool(training), momentum, epsilon, gamma is not None, beta is not None)
    return f(x, *params)


class Dropout(Function):
    """y = x * mask / (1 - rate) with mask = (u >= rate), u ~ U[0, 1);  dx = gy * mask / (1 - rate)."""
    def __init__(self, rate):
        self.rate = rate

    def forward(self, x):
        y, self.scale = dropout_mask(x, self.rate)
        return y

    def backward(self, gy):
        return gy * self.scale


def dropout(x, rate, training):
    """Keras Dropout: zero each element with probability ``rate`` and scale the rest by
    1 / (1 - rate) in training; identity otherwise (or when rate == 0)."""
    if not 0 <= rate < 1:
        raise ValueError(f'dropout: rate must be in [0, 1), got {rate}.')
    if not training or rate == 0:
        return x if isinstance(x, Tensor) else Tensor(x)
    return Dropout(float(rate))(x)


# --- The elementwise steps, written once in NumPy (the math) and once as one CuPy kernel --------
# (one launch and one pass over memory on the GPU instead of a chain of them; the tests compare
# the two). Per-channel vectors broadcast over the last axis.

def center(x2d, total, inv_m):
    """c = x - total / m and c^2 (the centred input and its square), for the variance."""
    if is_cupy(x2d):
        kernel = elementwise_kernel('minidl_center', 'T x, T total, T inv_m', 'T c, T c2',
                                    'c = x - total * inv_m; c2 = c * c')
        return kernel(x2d, total, x2d.dtype.type(inv_m))
    c = x2d - total * inv_m
    return c, get_array_module(x2d).multiply(c, c)


def update_moving(moving_mean, moving_var, total, total_sq, inv_m, momentum):
    """In place: moving = momentum moving + (1 - momentum) statistic, for the batch mean
    total / m and the biased variance total_sq / m (Keras' rule), in the moving arrays' dtype."""
    if is_cupy(total):
        kernel = elementwise_kernel(
            'minidl_bn_update_moving', 'T total, T total_sq, T inv_m, M momentum', 'M mean, M var',
            'mean = momentum * mean + ((M)1 - momentum) * (M)(total * inv_m);'
            'var = momentum * var + ((M)1 - momentum) * (M)(total_sq * inv_m)')
        kernel(total, total_sq, total.dtype.type(inv_m), moving_mean.dtype.type(momentum), moving_mean, moving_var)
        return
    for moving, stat in ((moving_mean, total * inv_m), (moving_var, total_sq * inv_m)):
        moving *= momentum
        moving += (1 - momentum) * stat.astype(moving.dtype)


def normalizer(total_sq, gamma, inv_m, epsilon):
    """inv_std = 1 / sqrt(var + eps) with var = total_sq / m, and scale = gamma inv_std
    (gamma may be None: scale = inv_std)."""
    xp = get_array_module(total_sq)
    if gamma is None:
        gamma = xp.ones_like(total_sq)
    if is_cupy(total_sq):
        kernel = elementwise_kernel('minidl_bn_normalizer', 'T s2, T gamma, T inv_m, T eps', 'T inv_std, T scale',
                                    'inv_std = (T)1 / sqrt(s2 * inv_m + eps); scale = gamma * inv_std')
        t = total_sq.dtype.type
        return kernel(total_sq, gamma.astype(total_sq.dtype, copy=False), t(inv_m), t(epsilon))
    inv_std = 1 / xp.sqrt(total_sq * inv_m + epsilon)
    return inv_std, inv_std * gamma


def affine(x, scale, shift, out=None):
    """y = x scale + shift (scale, shift per channel; shift may be None)."""
    xp = get_array_module(x)
    if shift is None:
        return xp.multiply(x, scale, out=out)
    if is_cupy(x):
        kernel = elementwise_kernel('minidl_affine', 'T x, T scale, T shift', 'T y', 'y = x * scale + shift')
        args = (x, scale.astype(x.dtype, copy=False), shift.astype(x.dtype, copy=False))
        return kernel(*args) if out is None else kernel(*args, out)
    y = xp.multiply(x, scale, out=out)
    y += shift
    return y


def batch_norm_input_grad(gy, c, gbeta, ggamma, inv_std, scale, inv_m, out=None):
    """dx = scale (gy - (gbeta + c inv_std ggamma) / m): batch norm's input gradient, with c the
    centred input, gbeta = sum(gy), ggamma = sum(gy c) inv_std and scale = gamma inv_std."""
    if is_cupy(gy):
        kernel = elementwise_kernel(
            'minidl_bn_input_grad', 'T gy, T c, T gbeta, T ggamma, T inv_std, T scale, T inv_m', 'T gx',
            'gx = scale * (gy - (gbeta + c * inv_std * ggamma) * inv_m)')
        vectors = [a.astype(gy.dtype, copy=False) for a in (c, gbeta, ggamma, inv_std, scale)]
        args = [gy] + vectors + [gy.dtype.type(inv_m)]
        return kernel(*args) if out is None else kernel(*args, out)
    gx = get_array_module(gy).multiply(c, -ggamma * inv_std * inv_m, out=out)
    gx += gy
    gx -= gbeta * inv_m
    gx *= scale
    return gx


def dropout_mask(x, rate):
    """(y, mask) with mask = (u >= rate) / (1 - rate), u ~ U[0, 1) in x's dtype, and y = x mask."""
    u = random_unit(x.shape, x.dtype)
    scale = x.dtype.type(1 / (1 - rate))
    if is_cupy(x):
        kernel = elementwise_kernel('minidl_dropout', 'T x, T u, T rate, T scale', 'T y, T mask',
                                    'mask = u >= rate ? scale : (T)0; y = x * mask')
        return kernel(x, u, x.dtype.type(rate), scale)
    mask = (u >= rate).astype(x.dtype)
    mask *= scale
    return x * mask, mask
