"""Fast forms of ``batch_norm`` and ``dropout`` (references: ``functional/norm.py``).

``FusedBatchNorm``  BatchNorm in few passes over memory: the sums as BLAS column sums, the sums of
                    products (sum(c^2), sum(gy c)) as einsum column dots on NumPy, which read their
                    operands once and write nothing (2.7 ms against 6.6 for c^2 and its column
                    sum at 131072x32, one thread), only the centred input kept (no xhat array),
                    and on the GPU each elementwise step one CUDA kernel (centre, moving update,
                    normaliser, affine, gy xhat, input gradient), the output and the input
                    gradient written into the buffers of c^2 and gy xhat.
``FusedDropout``    the mask scaled in place, and on the GPU one kernel for mask and output. It
                    applies when the mask has the input's shape and comes from minidl's generator
                    (no ``noise_shape``, no ``seed``): then it draws the same numbers as the
                    reference, so the two give identical results under ``minidl.seed``.
"""
from ..autograd import Function
from ..backend import get_array_module, is_cupy, random_unit
from . import register
from .cuda import elementwise_kernel
from .reduce import column_dot, sum_rows


@register('batch_norm')
class FusedBatchNorm(Function):
    """BatchNorm with the centred input c = x - mean kept instead of xhat = c / std:

    Training, M elements per channel: total = sum(x), c = x - total / M, total_sq = sum(c^2),
      inv_std = 1 / sqrt(total_sq / M + eps), scale = gamma inv_std, y = c scale + beta
      dbeta = sum(gy), dgamma = sum(gy c) inv_std,
      dx = scale (gy - (dbeta + c inv_std dgamma) / M)
    Inference: scale = gamma / sqrt(moving_var + eps), shift = beta - moving_mean scale,
      y = x scale + shift, dx = gy scale; xhat is recomputed only if dgamma is asked for.
    ``y`` first holds c^2 (for the variance) and then the output; ``gy * c`` becomes dx."""
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
        total = sum_rows(x2d)
        if is_cupy(x2d):   # c and c^2 in one kernel, its column sums one GEMV; y reuses c^2's buffer
            self.centered, y = center(x2d, total, 1 / m)
            total_sq = sum_rows(y)
        else:              # NumPy: sum(c^2) without writing c^2 (einsum reads c once)
            self.centered, y = x2d - total * (1 / m), None
            total_sq = column_dot(self.centered, self.centered)
        update_moving(self.moving_mean.data, self.moving_var.data, total, total_sq, 1 / m, self.momentum)
        self.inv_std, self.scale = normalizer(total_sq, gamma, 1 / m, self.epsilon)
        return affine(self.centered, self.scale, beta, out=y).reshape(x.shape)

    def _inference(self, x, gamma, beta):
        xp = get_array_module(x)
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
        gbeta = sum_rows(gy2)
        if is_cupy(gy2):   # gy xhat = gy c inv_std as one kernel (dgamma its column sums); its buffer takes dx
            gy_c = gy_times_xhat(gy2, self.centered, self.inv_std)
            ggamma = sum_rows(gy_c)
        else:              # NumPy: sum(gy c) without writing gy c
            gy_c, ggamma = None, column_dot(gy2, self.centered) * self.inv_std
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
            ggamma = sum_rows((gy * xhat).reshape(-1, channels))
        if self.has_beta and self.inputs[-1].requires_grad:
            gbeta = sum_rows(gy.reshape(-1, channels))
        return self._grads(gx, ggamma, gbeta)

    def _grads(self, gx, ggamma, gbeta):
        grads = [gx]
        if self.has_gamma:
            grads.append(ggamma)
        if self.has_beta:
            grads.append(gbeta)
        return tuple(grads)


# --- The elementwise steps, each a few NumPy calls, or one CuPy kernel on the GPU --------------
# (per-channel vectors broadcast over the last axis)

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


def gy_times_xhat(gy, c, inv_std):
    """gy xhat = gy c inv_std on the GPU, one kernel: its column sums are dgamma (a separate
    product and a vector scaling were two launches)."""
    kernel = elementwise_kernel('minidl_bn_gy_xhat', 'T gy, T c, T inv_std', 'T p', 'p = gy * c * inv_std')
    return kernel(gy, c, inv_std.astype(gy.dtype, copy=False))


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


@register('dropout', when=lambda x, rate, noise_shape, seed: noise_shape is None and seed is None)
class FusedDropout(Function):
    """y = x * mask with mask = (u >= rate) / (1 - rate), u ~ U[0, 1) in x's dtype from minidl's
    generator; the mask is scaled in place, and on the GPU mask and output are one kernel."""
    def __init__(self, rate, noise_shape=None, seed=None):
        self.rate = rate

    def forward(self, x):
        y, self.mask = dropout_mask(x, self.rate)
        return y

    def backward(self, gy):
        return gy * self.mask


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
