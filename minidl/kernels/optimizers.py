"""Fast forms of the optimizers' update rules: each writes the same numbers as the optimizer's
readable ``update_step`` (``minidl/optimizers/``), in place and without weight-sized temporaries.

* NumPy (and CuPy when no CUDA kernel applies): the rule as a chain of ``out=`` ufunc calls into
  a scratch buffer shared by all weights (as large as the largest weight), so a step allocates
  nothing. The comments say which line of the rule each group computes.
* CuPy: one fused ``ElementwiseKernel`` per rule (SGD with momentum, Adam): one launch and one
  pass over memory instead of a dozen.

Each form is registered as ``'optimizer.<name>'`` and called as ``form(optimizer, g, w, slots, lr, t)``
with raw arrays ``g`` and ``w`` (updated in place), ``slots`` the dict of the weight's slot
Variables ('momentum', ...), ``lr`` the step's learning rate and ``t`` the step number (1, 2, ...);
hyperparameters are read from the optimizer object. Tested equal to the reference rules in
``tests/test_optimizers.py``.
"""
import math

import numpy as np

from . import register
from ..backend import elementwise_kernel, get_array_module

_scratch = {}   # (array type, dtype) -> flat buffer shared by every weight


def _xp(w):
    return np if type(w) is np.ndarray else get_array_module(w)


def scratch(w, count=1):
    """``count`` views shaped like ``w`` into the shared scratch buffer (contents undefined)."""
    key = (type(w), w.dtype)
    need = count * w.size
    buf = _scratch.get(key)
    if buf is None or buf.size < need:
        buf = _scratch[key] = _xp(w).empty(need, w.dtype)
    if count == 1:
        return (buf[:w.size].reshape(w.shape),)
    return [buf[i * w.size:(i + 1) * w.size].reshape(w.shape) for i in range(count)]


# --- CUDA kernels (registered first: find() takes the first form that applies) ----------------------------
@register('optimizer.sgd', backend='cupy', when=lambda w, optimizer: optimizer.momentum != 0,
          description='SGD with momentum as one CUDA kernel')
def sgd_momentum_cuda(opt, g, w, slots, lr, t):
    kernel = elementwise_kernel('minidl_sgd_momentum', 'T g, T lr, T mu, bool nesterov', 'T m, T w',
                                'm = mu * m - lr * g; w += nesterov ? mu * m - lr * g : m')
    kernel(g, w.dtype.type(lr), w.dtype.type(opt.momentum), opt.nesterov, slots['momentum'].data, w)


@register('optimizer.adam', backend='cupy', when=lambda w, optimizer: not optimizer.amsgrad,
          description='Adam (and AdamW) as one CUDA kernel')
def adam_cuda(opt, g, w, slots, lr, t):
    alpha = lr * math.sqrt(1.0 - opt.beta_2 ** t) / (1.0 - opt.beta_1 ** t)
    kernel = elementwise_kernel(
        'minidl_adam', 'T g, T alpha, T b1, T b2, T eps', 'T m, T v, T w',
        'm = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g; w -= alpha * m / (sqrt(v) + eps)')
    kernel(g, *(w.dtype.type(c) for c in (alpha, opt.beta_1, opt.beta_2, opt.epsilon)),
           slots['momentum'].data, slots['velocity'].data, w)


# --- in-place forms (NumPy, and CuPy where no kernel above applies) ---------------------------------------------
@register('optimizer.sgd', description='SGD in place')
def sgd_inplace(opt, g, w, slots, lr, t):
    xp = _xp(w)
    tmp, = scratch(w)
    xp.multiply(g, lr, out=tmp)                 # tmp = lr g
    if not opt.momentum:
        w -= tmp
        return
    m = slots['momentum'].data
    m *= opt.momentum
    m -= tmp                                    # m = mu m - lr g
    if opt.nesterov:
        w -= tmp
        xp.multiply(m, opt.momentum, out=tmp)
        w += tmp                                # w += mu m - lr g
    else:
        w += m


@register('optimizer.adam', description='Adam (and AdamW) in place')
def adam_inplace(opt, g, w, slots, lr, t):
    xp = _xp(w)
    tmp, = scratch(w)
    alpha = lr * math.sqrt(1.0 - opt.beta_2 ** t) / (1.0 - opt.beta_1 ** t)
    m, v = slots['momentum'].data, slots['velocity'].data
    m *= opt.beta_1
    xp.multiply(g, 1.0 - opt.beta_1, out=tmp)
    m += tmp                                    # m = b1 m + (1 - b1) g
    v *= opt.beta_2
    xp.square(g, out=tmp)
    tmp *= 1.0 - opt.beta_2
    v += tmp                                    # v = b2 v + (1 - b2) g^2
    if opt.amsgrad:
        v = xp.maximum(slots['velocity_hat'].data, v, out=slots['velocity_hat'].data)
    xp.sqrt(v, out=tmp)
    tmp += opt.epsilon
    xp.divide(m, tmp, out=tmp)
    tmp *= alpha
    w -= tmp                                    # w -= alpha m / (sqrt(v) + eps)


@register('optimizer.rmsprop', description='RMSprop in place')
def rmsprop_inplace(opt, g, w, slots, lr, t):
    xp = _xp(w)
    tmp, = scratch(w)
    v = slots['velocity'].data
    v *= opt.rho
    xp.square(g, out=tmp)
    tmp *= 1.0 - opt.rho
    v += tmp                                    # v = rho v + (1 - rho) g^2
    if opt.centered:
        a = slots['average_gradient'].data
        a *= opt.rho
        xp.multiply(g, 1.0 - opt.rho, out=tmp)
        a += tmp                                # a = rho a + (1 - rho) g
        xp.square(a, out=tmp)
        xp.subtract(v, tmp, out=tmp)
        tmp += opt.epsilon                      # tmp = v - a^2 + eps
    else:
        xp.add(v, opt.epsilon, out=tmp)         # tmp = v + eps
    xp.sqrt(tmp, out=tmp)
    xp.divide(g, tmp, out=tmp)
    tmp *= lr                                   # tmp = step = lr g / sqrt(...)
    if opt.momentum > 0:
        b = slots['momentum'].data
        b *= opt.momentum
        b += tmp
        w -= b
    else:
        w -= tmp


@register('optimizer.adagrad', description='Adagrad in place')
def adagrad_inplace(opt, g, w, slots, lr, t):
    xp = _xp(w)
    tmp, = scratch(w)
    a = slots['accumulator'].data
    xp.square(g, out=tmp)
    a += tmp                                    # a += g^2
    xp.add(a, opt.epsilon, out=tmp)
    xp.sqrt(tmp, out=tmp)
    xp.divide(g, tmp, out=tmp)
    tmp *= lr
    w -= tmp                                    # w -= lr g / sqrt(a + eps)


@register('optimizer.adadelta', description='Adadelta in place')
def adadelta_inplace(opt, g, w, slots, lr, t):
    xp = _xp(w)
    tmp, d = scratch(w, 2)
    mean_g2, mean_dx2 = slots['accumulated_grad'].data, slots['accumulated_delta_var'].data
    mean_g2 *= opt.rho
    xp.square(g, out=tmp)
    tmp *= 1.0 - opt.rho
    mean_g2 += tmp                              # E[g^2] = rho E[g^2] + (1 - rho) g^2
    xp.add(mean_g2, opt.epsilon, out=tmp)
    xp.sqrt(tmp, out=tmp)                       # tmp = RMS(E[g^2])
    xp.add(mean_dx2, opt.epsilon, out=d)
    xp.sqrt(d, out=d)
    d /= tmp
    d *= g                                      # d = -delta = RMS(E[dx^2]) / RMS(E[g^2]) g
    mean_dx2 *= opt.rho
    xp.square(d, out=tmp)
    tmp *= 1.0 - opt.rho
    mean_dx2 += tmp                             # E[dx^2] = rho E[dx^2] + (1 - rho) delta^2
    d *= lr
    w -= d                                      # w += lr delta


@register('optimizer.lion', description='Lion in place')
def lion_inplace(opt, g, w, slots, lr, t):
    xp = _xp(w)
    tmp, tmp2 = scratch(w, 2)
    m = slots['momentum'].data
    xp.multiply(m, opt.beta_1, out=tmp)
    xp.multiply(g, 1.0 - opt.beta_1, out=tmp2)
    tmp += tmp2                                 # c = b1 m + (1 - b1) g
    xp.sign(tmp, out=tmp)
    tmp *= lr
    w -= tmp                                    # w -= lr sign(c)
    m *= opt.beta_2
    xp.multiply(g, 1.0 - opt.beta_2, out=tmp2)
    m += tmp2                                   # m = b2 m + (1 - b2) g
