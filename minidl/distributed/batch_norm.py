"""Synchronized batch normalisation: the statistics of the global batch, over all ranks.

``layers.BatchNormalization(synchronized=True)`` calls this in training when the program runs on
several ranks; with one rank, or in inference, it is the ordinary ``batch_norm``.
"""
import numpy as np

from ..autograd import Function, Tensor
from ..functional.norm import check_batch_norm_args
from . import core
from .core import Sum


class SyncBatchNorm(Function):
    """y = gamma (x - mean) / sqrt(var + eps) + beta per channel (last axis), with the mean and
    the biased variance of the union of every rank's batch, as one process would compute them on
    the concatenated batch.

    Rank r holds x_r, m_r rows per channel; every sum below is over all rows of all ranks (one
    all-reduce of a few per-channel vectors, in float64):
      M = sum_r m_r,  mean = sum x / M,  c = x - mean,  var = sum c^2 / M,
      xhat = c / std with std = sqrt(var + eps),  y = gamma xhat + beta.
    The moving statistics move towards the global mean and variance, identically on every rank.

    Backward, where gy = dL/dy_r of the ranks' summed loss L and g = gy gamma = dL/dxhat_r:
      dbeta_r = sum_{rows of r} gy,  dgamma_r = sum_{rows of r} gy xhat  (this rank's share: the
      DistributedOptimizer sums the shares of all ranks), and with two global sums over all
      rows of all ranks (one more all-reduce):
      dx = (g - sum g / M - xhat sum(g xhat) / M) / std,
    the input gradient of one batch normalisation over the whole global batch (gamma is the
    same on every rank in training; the sums carry each rank's own, so the formula holds even
    where it is not).
    """

    def __init__(self, moving_mean, moving_var, momentum, epsilon, has_gamma, has_beta):
        self.moving_mean, self.moving_var = moving_mean, moving_var
        self.momentum, self.epsilon = momentum, epsilon
        self.has_gamma, self.has_beta = has_gamma, has_beta

    def forward(self, x, *params):
        xp = core._xp(x)
        gamma = params[0] if self.has_gamma else None
        beta = params[-1] if self.has_beta else None
        channels = x.shape[-1]
        x2 = x.reshape(-1, channels)
        # Global count and sums: [sum_rows x, m] summed over ranks.
        totals = xp.empty(channels + 1, np.float64)
        totals[:-1] = x2.sum(axis=0)
        totals[-1] = x2.shape[0]
        core._allreduce_buffer(totals, Sum)
        self.count = float(totals[-1])
        mean = (totals[:-1] / self.count).astype(x.dtype)
        c = x2 - mean
        # Global sum of squared deviations from the global mean (two passes, as one process does).
        squares = (c * c).sum(axis=0).astype(np.float64)
        core._allreduce_buffer(squares, Sum)
        var = (squares / self.count).astype(x.dtype)
        for moving, stat in ((self.moving_mean.data, mean), (self.moving_var.data, var)):
            moving *= self.momentum
            moving += (1 - self.momentum) * stat.astype(moving.dtype)
        self.inv_std = 1 / xp.sqrt(var + x.dtype.type(self.epsilon))
        self.xhat = c * self.inv_std
        self.gamma = gamma
        y = self.xhat * gamma if gamma is not None else self.xhat.copy()
        if beta is not None:
            y += beta
        return y.reshape(x.shape)

    def backward(self, gy):
        xp = core._xp(gy)
        channels = gy.shape[-1]
        gy2 = gy.reshape(-1, channels)
        gbeta = gy2.sum(axis=0)
        ggamma = (gy2 * self.xhat).sum(axis=0)
        gx = None
        if self.inputs[0].requires_grad:
            # dL/dxhat = gy gamma; its two global sums, in one all-reduce
            sums = xp.empty(2 * channels, np.float64)
            sums[:channels], sums[channels:] = gbeta, ggamma
            if self.gamma is not None:
                sums[:channels] *= self.gamma
                sums[channels:] *= self.gamma
            core._allreduce_buffer(sums, Sum)
            mean_gxhat = (sums[:channels] / self.count).astype(gy.dtype)
            mean_gxhat_xhat = (sums[channels:] / self.count).astype(gy.dtype)
            gxhat = gy2 * self.gamma if self.gamma is not None else gy2
            gx = (self.inv_std * (gxhat - mean_gxhat - self.xhat * mean_gxhat_xhat)).reshape(gy.shape)
        grads = [gx]
        if self.has_gamma:
            grads.append(ggamma)
        if self.has_beta:
            grads.append(gbeta)
        return tuple(grads)


def sync_batch_norm(x, gamma, beta, moving_mean, moving_var, momentum=0.99, epsilon=1e-3):
    """Training-mode batch normalisation over the last axis of ``x`` with the statistics of the
    global batch (every rank calls it, in the same order). ``gamma``/``beta``: Tensors of shape
    (C,) or None; ``moving_mean``/``moving_var``: Tensors of shape (C,), updated in place."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    check_batch_norm_args('sync_batch_norm', x, gamma, beta, moving_mean, moving_var)
    params = [p for p in (gamma, beta) if p is not None]
    f = SyncBatchNorm(moving_mean, moving_var, float(momentum), float(epsilon), gamma is not None, beta is not None)
    return f(x, *params)
