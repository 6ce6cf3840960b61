"""Batch normalisation and inverted dropout, the reference.

The fused forms (BatchNorm in few passes over memory with in-place buffers, one CUDA kernel per
step; dropout's mask in place, one CUDA kernel) are in ``minidl/kernels/norm.py``.
"""
import numpy as np

from .. import backend, kernels
from ..autograd import Function, Tensor
from ..backend import get_array_module


class BatchNorm(Function):
    """y = gamma * xhat + beta with xhat = (x - mean) / sqrt(var + eps), per channel (last axis).

    Training: mean and var are the batch's, over the M = x.size / C positions of each channel
    (var is biased: divided by M), and the moving statistics move towards them (Keras' rule):
      moving_mean = momentum moving_mean + (1 - momentum) mean     (the same for var)
    Backward (training): mean and var depend on x, so
      dbeta  = sum(gy)
      dgamma = sum(gy xhat)
      dx     = gamma / sqrt(var + eps) * (gy - dbeta / M - xhat dgamma / M)
    Inference: mean and var are the moving statistics, constants, so
      dx = gy gamma / sqrt(var + eps), and dgamma, dbeta as above.
    ``gamma``/``beta`` are optional inputs (``has_gamma``/``has_beta``): without them gamma = 1,
    beta = 0.
    """
    def __init__(self, moving_mean, moving_var, training, momentum, epsilon, has_gamma, has_beta):
        self.moving_mean, self.moving_var = moving_mean, moving_var
        self.training, self.momentum, self.epsilon = training, momentum, epsilon
        self.has_gamma, self.has_beta = has_gamma, has_beta

    def forward(self, x, *params):
        xp = get_array_module(x)
        gamma = params[0] if self.has_gamma else xp.ones(x.shape[-1], x.dtype)
        beta = params[-1] if self.has_beta else xp.zeros(x.shape[-1], x.dtype)
        axes = tuple(range(x.ndim - 1))  # every axis but the channels
        if self.training:
            mean = x.mean(axis=axes)
            var = ((x - mean) ** 2).mean(axis=axes)
            m = self.momentum
            self.moving_mean.data[...] = m * self.moving_mean.data + (1 - m) * mean
            self.moving_var.data[...] = m * self.moving_var.data + (1 - m) * var
        else:
            mean = self.moving_mean.data.astype(x.dtype)
            var = self.moving_var.data.astype(x.dtype)
        self.inv_std = 1 / xp.sqrt(var + self.epsilon)
        self.xhat = (x - mean) * self.inv_std
        self.gamma = gamma
        return gamma * self.xhat + beta

    def backward(self, gy):
        axes = tuple(range(gy.ndim - 1))
        dbeta = gy.sum(axis=axes)
        dgamma = (gy * self.xhat).sum(axis=axes)
        if self.training:
            m = gy.size // gy.shape[-1]
            dx = self.gamma * self.inv_std * (gy - dbeta / m - self.xhat * dgamma / m)
        else:
            dx = gy * self.gamma * self.inv_std
        grads = [dx]
        if self.has_gamma:
            grads.append(dgamma)
        if self.has_beta:
            grads.append(dbeta)
        return tuple(grads)


def check_batch_norm_args(op, x, gamma, beta, moving_mean, moving_var):
    """The argument checks of ``batch_norm`` and ``sync_batch_norm``: a batch and a channel axis,
    (C,)-shaped parameters, moving statistics that are Tensors (updated in place)."""
    channels = x.shape[-1]
    if len(x.shape) < 2:
        raise ValueError(f'{op}: expected an input with a batch axis and a channel axis, got shape '
                         f'{tuple(x.shape)}.')
    for name, t in (('gamma', gamma), ('beta', beta), ('moving_mean', moving_mean), ('moving_var', moving_var)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f'{op}: {name} must have shape ({channels},) for an input of shape '
                             f'{tuple(x.shape)}, got {tuple(t.shape)}.')
    if not isinstance(moving_mean, Tensor) or not isinstance(moving_var, Tensor):
        raise TypeError(f'{op}: moving_mean and moving_var must be Tensors (they are updated in place).')


def batch_norm(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
    """Keras BatchNormalization over the last axis of a 2-D, 3-D or 4-D ``x``.

    ``gamma``/``beta`` are Tensors of shape (C,) or None (no scale / no centre).
    ``moving_mean``/``moving_var`` are Tensors of shape (C,) updated in place when ``training``;
    inference normalises with them.
    """
    check_batch_norm_args('batch_norm', x, gamma, beta, moving_mean, moving_var)
    params = [p for p in (gamma, beta) if p is not None]
    f = kernels.make('batch_norm', BatchNorm, x, *params, moving_mean=moving_mean, moving_var=moving_var,
                     training=bool(training), momentum=momentum, epsilon=epsilon,
                     has_gamma=gamma is not None, has_beta=beta is not None)
    return f(x, *params)


class Dropout(Function):
    """y = x * mask, mask = (u >= rate) / (1 - rate), u ~ U[0, 1) drawn at ``noise_shape`` and
    broadcast over x (a mask shared along the axes of size 1);  dx = gy * mask.

    ``seed``: None draws from minidl's generator (reseeded by ``minidl.seed``); an int draws the
    same mask at every call (as Keras' ``keras.random.dropout`` with an int seed); a
    ``numpy.random.Generator`` draws from that generator (a new mask each call, reproducible)."""
    def __init__(self, rate, noise_shape=None, seed=None):
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed

    def forward(self, x):
        u = uniform_noise(self.noise_shape or x.shape, x.dtype, self.seed, get_array_module(x))
        self.mask = (u >= self.rate) * x.dtype.type(1 / (1 - self.rate))
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask


def uniform_noise(shape, dtype, seed, xp):
    """U[0, 1) samples of ``shape`` in ``dtype`` on ``xp``'s device, from ``seed`` (see Dropout)."""
    if seed is None:
        return backend.random_unit(tuple(shape), dtype)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    u = rng.random(tuple(shape), dtype=np.float32 if np.dtype(dtype) == np.float32 else np.float64)
    return xp.asarray(u.astype(dtype, copy=False))


def _noise_shape(noise_shape, x_shape):
    """``noise_shape`` with None entries taken from ``x_shape``; each entry x's size or 1."""
    if noise_shape is None:
        return None
    noise_shape = tuple(noise_shape)
    if len(noise_shape) != len(x_shape):
        raise ValueError(f'dropout: noise_shape {noise_shape} must have one entry per axis of the input '
                         f'{tuple(x_shape)} (None takes the input\'s size).')
    shape = tuple(n if d is None else int(d) for d, n in zip(noise_shape, x_shape))
    if any(d not in (1, n) for d, n in zip(shape, x_shape)):
        raise ValueError(f'dropout: noise_shape {noise_shape} does not broadcast to the input {tuple(x_shape)}: '
                         'each entry must be None, 1 (one mask value shared along that axis) or the '
                         'input\'s size.')
    return None if shape == tuple(x_shape) else shape


def dropout(x, rate, training, noise_shape=None, seed=None):
    """Keras Dropout: zero each element with probability ``rate`` and scale the rest by
    1 / (1 - rate) in training; identity otherwise (or when rate == 0).

    ``noise_shape``: the shape the mask is drawn at (None entries take x's size), broadcast
    over x, e.g. ``(N, 1, 1, C)`` drops whole feature maps. ``seed``: see ``Dropout``."""
    if not 0 <= rate < 1:
        raise ValueError(f'dropout: rate must be in [0, 1), got {rate}.')
    if seed is not None and not isinstance(seed, (int, np.integer, np.random.Generator)):
        raise TypeError(f'dropout: seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}.')
    shape = _noise_shape(noise_shape, x.shape)
    if not training or rate == 0:
        return x if isinstance(x, Tensor) else Tensor(x)
    return kernels.make('dropout', Dropout, x, rate=float(rate), noise_shape=shape, seed=seed)(x)
