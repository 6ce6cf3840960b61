"""Fast form of scaled dot-product attention (reference: ``functional/attention.py``,
``DotProductAttention``).

The same computation, with its batched matrix products (one small (Tq, Dk) @ (Dk, Tk) product per
batch element and head) run on one BLAS thread: OpenBLAS parallelises each small product on its
own, and with the cores shared that costs more than it gains (see ``kernels/rnn.py``,
``one_blas_thread``). The masked softmax is computed in place in the scores' buffer.
"""
import numpy as np

from ..functional.attention import DotProductAttention
from . import register
from .rnn import one_blas_thread


@register('dot_product_attention', backend='numpy',
          description='dot-product attention: batched products on one BLAS thread, in-place softmax')
class DotProductAttentionNumPy(DotProductAttention):
    """o = dropout(softmax_masked(scale q k^T)) v; returns (o, attention probabilities)."""

    def forward(self, q, k, v):
        with one_blas_thread():
            return super().forward(q, k, v)

    def backward(self, g_out, g_p):
        with one_blas_thread():
            return super().backward(g_out, g_p)
