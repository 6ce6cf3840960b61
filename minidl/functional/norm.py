"""Batch normalisation (one fused Function, analytic backward) and inverted dropout."""

from .. import backend
from ..autograd import Function, Tensor
from . import fused


class BatchNorm(Function):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, statistics per channel (last axis).

    Training: batch mean and biased variance over every axis but the last, and with
    c = x - mean, xhat = c / std, M = elements per channel:
      dbeta = sum(gy), dgamma = sum(gy xhat) = sum(gy c) / std,
      dx = gamma / std * (gy - dbeta / M - xhat dgamma / M).
    Only c is kept: y = c (gamma / std) + beta needs no separate xhat pass.
    Inference: the moving statistics are constants, so y = x scale + shift with
    scale = gamma / std and shift = beta - mean scale, and dx = gy scale;
    xhat is recomputed only if dgamma is asked for. The elementwise steps are ``fused``'s: one
    kernel each on the GPU.
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
        self.centered, y = fused.center(x2d, total, 1 / m)
        total_sq = backend.sum_rows(y)
        fused.update_moving(self.moving_mean.data, self.moving_var.data, total, total_sq, 1 / m, self.momentum)
        self.inv_std, self.scale = fused.normalizer(total_sq, gamma, 1 / m, self.epsilon)
        return fused.affine(self.centered, self.scale, beta, out=y).reshape(x.shape)

    def _inference(self, x, gamma, beta):
        xp = backend.get_array_module(x)
        self.mean = self.moving_mean.data.astype(x.dtype)
        self.inv_std = 1 / xp.sqrt(self.moving_var.data.astype(x.dtype) + self.epsilon)
        self.scale = self.inv_std * gamma if gamma is not None else self.inv_std
        shift = (beta - self.mean * self.scale) if beta is not None else -self.mean * self.scale
        return fused.affine(x, self.scale, shift)

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
            gx = fused.batch_norm_input_grad(gy2, self.centered, gbeta, ggamma, self.inv_std, self.scale,
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
        y, self.scale = fused.dropout_mask(x, self.rate)
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
