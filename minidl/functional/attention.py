"""Attention: masked softmax, scaled dot-product attention and additive (Bahdanau) scores.

Attention lets every query position i read a weighted average of the value vectors, the
weights saying how well query i matches each key j::

    s_ij = scale * q_i . k_j                 scores         (..., Tq, Tk)
    p_ij = softmax_j(s_ij)                   attention      (rows sum to 1)
    o_i  = sum_j p_ij v_j                    output         (..., Tq, Dv)

A boolean ``mask`` (True = may attend; broadcastable to the scores) removes positions from
the softmax. Keras has two ways of doing so, and both are here (``MaskedSoftmax``):

* ``'replace'`` (MultiHeadAttention, the Softmax layer): masked scores become -1e9 before the
  softmax and the probabilities there are set to 0 after it, so a row with no allowed position
  gives zeros, not a uniform average.
* ``'subtract'`` (the Attention and AdditiveAttention layers): 1e9 is subtracted from masked
  scores; a fully masked row stays a (uniform) softmax of its scores.

Everything works on any number of leading (batch, head) axes: matrix products broadcast.
"""
from .. import kernels
from ..autograd import Function, Tensor
from ..backend import get_array_module
from .activation import stable_softmax

LARGE_NEGATIVE = 1e9


def _mask_data(mask, like):
    if mask is None:
        return None
    data = mask.data if isinstance(mask, Tensor) else mask
    xp = get_array_module(like)
    data = xp.asarray(data)
    return data if data.dtype == bool else data > 0.5


class MaskedSoftmax(Function):
    """y = softmax(x') over ``axis``, x' = x where mask else (-1e9 | x - 1e9).

    Backward (the softmax Jacobian, as in ``activation.Softmax``):
    dx = y (gy - sum(gy y)). With mode 'replace' y is 0 at masked positions, so dx is 0 there
    too: a replaced score does not reach the output. With 'subtract' the shift is a constant,
    so the same formula holds everywhere.
    """
    def __init__(self, mask, axis=-1, mode='replace'):
        if mode not in ('replace', 'subtract'):
            raise ValueError(f"masked_softmax: mode must be 'replace' or 'subtract', got {mode!r}.")
        self.mask, self.axis, self.mode = mask, axis, mode

    def forward(self, x):
        xp = get_array_module(x)
        mask = _mask_data(self.mask, x)
        if mask is None:
            self.y = stable_softmax(x, self.axis)
        elif self.mode == 'replace':
            self.y = xp.where(mask, stable_softmax(xp.where(mask, x, x.dtype.type(-LARGE_NEGATIVE)), self.axis), 0)
        else:
            self.y = stable_softmax(xp.where(mask, x, x - x.dtype.type(LARGE_NEGATIVE)), self.axis)
        return self.y.astype(x.dtype, copy=False)

    def backward(self, gy):
        gyy = gy * self.y
        return gyy - self.y * gyy.sum(axis=self.axis, keepdims=True)


def masked_softmax(x, mask=None, axis=-1, mode='replace'):
    """Softmax over ``axis`` ignoring the positions where ``mask`` is False (see the module text)."""
    return MaskedSoftmax(mask, axis, mode)(x)


class DotProductAttention(Function):
    """o = dropout(softmax_masked(scale q k^T)) v, for q (..., Tq, Dk), k (..., Tk, Dk),
    v (..., Tk, Dv); returns (o, p) with p the attention probabilities before dropout.

    Forward                                 Backward (from do = dL/do, and dL/dp when p is used)
      s = scale q k^T                         dv = p_d^T do
      p = softmax_masked(s)                   dp = (do v^T) * drop + dL/dp
      p_d = p * drop                          ds = p (dp - sum_j dp p)      (softmax Jacobian)
      o = p_d v                               dq = scale ds k,   dk = scale ds^T q

    ``drop`` is an optional dropout mask (already scaled by 1 / (1 - rate)) broadcastable to
    the scores; the caller draws it, so a test can fix it.
    """
    def __init__(self, mask=None, scale=1.0, dropout_mask=None, mask_mode='replace'):
        self.mask, self.scale, self.drop, self.mask_mode = mask, scale, dropout_mask, mask_mode

    def forward(self, q, k, v):
        s = (q @ k.swapaxes(-1, -2)) * q.dtype.type(self.scale)
        self.softmax = MaskedSoftmax(self.mask, -1, self.mask_mode)
        self.p = self.softmax.forward(s)
        self.p_d = self.p if self.drop is None else self.p * get_array_module(q).asarray(self.drop, q.dtype)
        return self.p_d @ v, self.p

    def backward(self, g_out, g_p):
        q, k, v = (t.data for t in self.inputs)
        xp = get_array_module(g_out)
        g_v = _unbroadcast(self.p_d.swapaxes(-1, -2) @ g_out, v.shape)
        g_pd = g_out @ v.swapaxes(-1, -2)
        g_prob = g_pd if self.drop is None else g_pd * xp.asarray(self.drop, g_pd.dtype)
        g_s = self.softmax.backward(g_prob + g_p) * g_out.dtype.type(self.scale)
        g_q = _unbroadcast(g_s @ k, q.shape)
        g_k = _unbroadcast(g_s.swapaxes(-1, -2) @ q, k.shape)
        return g_q, g_k, g_v


def _unbroadcast(g, shape):
    from ..autograd import sum_to
    return sum_to(g, shape) if g.shape != tuple(shape) else g


def dot_product_attention(query, key, value, mask=None, scale=None, dropout_mask=None, mask_mode='replace'):
    """Scaled dot-product attention; ``scale`` defaults to 1 / sqrt(Dk). Returns (output,
    attention probabilities)."""
    for name, t in (('query', query), ('key', key), ('value', value)):
        if len(t.shape) < 2:
            raise ValueError(f'dot_product_attention: {name} must be (..., length, dim), got shape {tuple(t.shape)}.')
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f'dot_product_attention: query {tuple(query.shape)} and key {tuple(key.shape)} need the '
                         f'same last dimension, and key and value {tuple(value.shape)} the same length (axis -2).')
    if scale is None:
        scale = 1.0 / float(query.shape[-1]) ** 0.5
    from ..kernels import attention as _fast_forms  # noqa: F401  (registers the fast form)
    cls = kernels.find('dot_product_attention', query, key, value) or DotProductAttention
    return cls(mask, scale, dropout_mask, mask_mode)(query, key, value)


class AdditiveScores(Function):
    """Bahdanau's scores s_ij = sum_d w_d tanh(q_id + k_jd) for q (B, Tq, D), k (B, Tk, D),
    w (D,) (the AdditiveAttention layer's ``scale``; ones when it has none).

    With t_ijd = tanh(q_id + k_jd) and u_ijd = g_ij w_d (1 - t_ijd^2):
    dq_id = sum_j u_ijd,   dk_jd = sum_i u_ijd,   dw_d = sum_ij g_ij t_ijd.
    """
    def forward(self, q, k, w):
        self.t = get_array_module(q).tanh(q[:, :, None, :] + k[:, None, :, :])      # (B, Tq, Tk, D)
        return self.t @ w

    def backward(self, gy):
        w = self.inputs[2].data
        u = gy[..., None] * w * (1 - self.t * self.t)
        g_w = (gy[..., None] * self.t).reshape(-1, w.shape[0]).sum(axis=0)
        return u.sum(axis=2), u.sum(axis=1), g_w


def additive_scores(query, key, scale):
    """s_ij = sum_d scale_d tanh(query_id + key_jd), shape (B, Tq, Tk)."""
    if len(query.shape) != 3 or len(key.shape) != 3 or query.shape[-1] != key.shape[-1]:
        raise ValueError(f'additive_scores: query and key must be (batch, length, dim) with the same dim, got '
                         f'{tuple(query.shape)} and {tuple(key.shape)}.')
    return AdditiveScores()(query, key, scale)


def causal_mask(query_length, key_length, xp=None):
    """(1, Tq, Tk) boolean lower-triangular mask: position i may attend to j <= i."""
    if xp is None:
        from .. import backend
        xp = backend.xp()
    rows = xp.arange(query_length)[:, None]
    cols = xp.arange(key_length)[None, :]
    return (rows >= cols)[None]
