"""Fast form of scaled dot-product attention (reference: ``functional/attention.py``,
``DotProductAttention``).

The same computation, NumPy only, with two differences that matter for speed:

* the batched matrix products (one small (Tq, Dk) @ (Dk, Tk) product per batch element and
  head) run on one BLAS thread: OpenBLAS parallelises each small product on its own, and with
  the cores shared that costs more than it gains (see ``kernels/rnn.py``, ``one_blas_thread``);
* the masked softmax and its backward are computed in place in the scores' buffer (one array
  of (..., Tq, Tk) each way instead of four temporaries).

Forward                                 Backward (from do, and dL/dp when p is used)
  s = scale q k^T                         dv = p_d^T do
  s = -1e9 (replace) or s - 1e9           dp = (do v^T) * drop + dL/dp
      (subtract) where the mask is False  ds = scale p (dp - sum_j dp p)
  p = softmax(s); 0 where masked          dq = ds k,   dk = ds^T q
      (replace only)
  o = (p * drop) v
"""
import numpy as np

from ..autograd import Function, sum_to
from . import register
from .rnn import one_blas_thread

LARGE_NEGATIVE = 1e9


def _mask_array(mask, like):
    if mask is None:
        return None
    data = np.asarray(getattr(mask, 'data', mask))
    return data if data.dtype == bool else data > 0.5


def _unbroadcast(g, shape):
    return sum_to(g, shape) if g.shape != tuple(shape) else g


@register('dot_product_attention', backend='numpy',
          description='dot-product attention: batched products on one BLAS thread, in-place masked softmax')
class DotProductAttentionNumPy(Function):
    """o = dropout(softmax_masked(scale q k^T)) v; returns (o, attention probabilities)."""

    def __init__(self, mask=None, scale=1.0, dropout_mask=None, mask_mode='replace'):
        if mask_mode not in ('replace', 'subtract'):
            raise ValueError(f"masked_softmax: mode must be 'replace' or 'subtract', got {mask_mode!r}.")
        self.mask, self.scale, self.drop, self.mask_mode = mask, scale, dropout_mask, mask_mode

    def forward(self, q, k, v):
        with one_blas_thread():
            s = q @ k.swapaxes(-1, -2)
        s *= q.dtype.type(self.scale)
        mask = _mask_array(self.mask, s)
        if mask is not None:
            hidden = ~np.broadcast_to(mask, s.shape)
            if self.mask_mode == 'replace':
                s[hidden] = -LARGE_NEGATIVE
            else:
                np.subtract(s, s.dtype.type(LARGE_NEGATIVE), out=s, where=hidden)
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        if mask is not None and self.mask_mode == 'replace':
            s[hidden] = 0
        self.p = p = s
        self.p_d = p if self.drop is None else p * np.asarray(self.drop, q.dtype)
        with one_blas_thread():
            return self.p_d @ v, p

    def backward(self, g_out, g_p):
        q, k, v = (t.data for t in self.inputs)
        with one_blas_thread():
            g_v = _unbroadcast(self.p_d.swapaxes(-1, -2) @ g_out, v.shape)
            g = g_out @ v.swapaxes(-1, -2)                                  # dL/d(p_d)
        if self.drop is not None:
            g *= np.asarray(self.drop, g.dtype)
        if g_p is not None:
            g += g_p
        g *= self.p                                                         # softmax Jacobian, in place
        g -= self.p * g.sum(axis=-1, keepdims=True)
        g *= g.dtype.type(self.scale)
        with one_blas_thread():
            g_q = _unbroadcast(g @ k, q.shape)
            g_k = _unbroadcast(g.swapaxes(-1, -2) @ q, k.shape)
        return g_q, g_k, g_v
