"""Fast form of the LSTM sequence op (reference: ``functional/rnn.py``, class ``LSTM``).

``LSTMNumPy`` computes exactly what the reference computes (tanh and sigmoid activations; masks,
go_backwards, return_sequences, initial states, zero_output_for_mask) with the work laid out
for NumPy:

* **Transposed, time-major layout.** Step k works on h^T, c^T (U, N) and the gate
  pre-activations z^T (4U, N) = R^T h^T + W^T x^T + b, stored as Z (T, 4U, N), H, C (T+1, U, N):
  each gate (i, f, c, o) of a step is a contiguous block of U rows (in the (N, 4U) layout of
  the reference the gates are column blocks, on which NumPy is 2-4x slower).
* **One small product per step forward.** W^T x_t^T for all steps is one batched product
  before the loop; in the loop only R^T h^T, (4U, U) @ (U, N), runs. Backward, each step adds
  its share to dW and dR and writes dx_t while its dz is still in cache (four small products),
  so no (4U, T*N) copy of the gate gradients is ever made.
* **One BLAS thread** (``one_blas_thread``): all these products are small.
* **No per-step allocation**: buffers for all steps are made once per call, the gates are
  activated in place, c and h written straight into their slots, and the backward overwrites
  each step's gates with that step's gate gradients dz (the activations are not needed again).
* The sigmoid is (1 + tanh(z / 2)) / 2: NumPy's SIMD tanh makes it four cheap passes, several
  times faster than scipy's expit, it cannot overflow, and a saturated gate is exactly 0 or 1
  (never a subnormal number).
* Gradients carried back through time are flushed to zero once below 2e-31 (float32): subnormal
  numbers make every later product many times slower (see ``_flush_tiny``).

The reference and this form are tested equal (tests/test_rnn_ops.py).
"""
import contextlib

import numpy as np

from ..autograd import Function
from . import register

_blas = {}


def one_blas_thread():
    """A context in which BLAS runs on one thread (when threadpoolctl is installed; else a no-op).

    The per-step products ((4U, U) @ (U, N): 8 MFLOP at U = N = 128) are too small to gain from
    BLAS threads, and OpenBLAS threads lose badly when the cores are shared: on this project's
    2-core machine under load, 28 ms per product on 2 threads against 0.8-2.4 ms on one
    (benchmarks/RESULTS.md). The large products before and after the loops keep every thread."""
    if 'controller' not in _blas:
        try:
            from threadpoolctl import ThreadpoolController
            _blas['controller'] = ThreadpoolController()
        except Exception:   # not installed, or no BLAS it can see
            _blas['controller'] = None
    controller = _blas['controller']
    return controller.limit(limits=1, user_api='blas') if controller is not None else contextlib.nullcontext()


def _sigmoid_in_place(z):
    """z <- 1 / (1 + e^-z) = (1 + tanh(z / 2)) / 2."""
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5


def _flush_tiny(a, tiny, scratch, flags):
    """a <- 0 where |a| < tiny, in place. Gradients that decay through time reach the subnormal
    range of float32 (below 1.2e-38), where x86 arithmetic, BLAS included, runs many times
    slower (PyTorch's LSTM backward on the IMDB benchmark: 4.8 s instead of 0.25 s, unless
    torch.set_flush_denormal(True)); flushing them, as a CPU in FTZ mode would, changes every
    result by less than ``tiny``."""
    np.abs(a, out=scratch)
    np.less(scratch, tiny, out=flags)
    np.putmask(a, flags, 0)


def _applies(*args, **kwargs):
    return kwargs.get('activation', 'tanh') == 'tanh' and kwargs.get('recurrent_activation', 'sigmoid') == 'sigmoid'


@register('lstm', backend='numpy', when=_applies,
          description='LSTM over NumPy: feature-major gates, large GEMMs, one small GEMM per step, no allocation')
class LSTMNumPy(Function):
    """Keras' LSTM over a sequence (gates i, f, c, o), the NumPy fast form.

    It takes the reference's constructor parameters; ``make`` chooses it only for the tanh and
    sigmoid activations it hard-codes."""

    def __init__(self, activation='tanh', recurrent_activation='sigmoid', mask=None, go_backwards=False,
                 return_sequences=False, zero_output_for_mask=False, use_bias=True, **options):
        self.mask = mask
        self.go_backwards = bool(go_backwards)
        self.return_sequences = bool(return_sequences)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.use_bias = bool(use_bias)
        self.options = options

    def forward(self, x, kernel, recurrent_kernel, *rest):
        bias = rest[0] if self.use_bias else None
        h0, c0 = rest[1:] if self.use_bias else rest
        n, steps, d = x.shape
        u = recurrent_kernel.shape[0]
        dtype = x.dtype
        self.order = order = np.arange(steps - 1, -1, -1) if self.go_backwards else np.arange(steps)
        xt = np.ascontiguousarray(x.transpose(1, 2, 0)[order])          # (T, D, N), processing order
        with one_blas_thread():
            z = np.matmul(kernel.T, xt)                                 # (T, 4U, N): W^T x_t^T, every step
        if bias is not None:
            z += bias[:, None]
        rt = np.ascontiguousarray(recurrent_kernel.T)                   # (4U, U)
        h = np.empty((steps + 1, u, n), dtype)
        c = np.empty((steps + 1, u, n), dtype)
        tc = np.empty((steps, u, n), dtype)
        h[0], c[0] = h0.T, c0.T
        keep_all = None if self.mask is None else np.asarray(self.mask, dtype=bool)[:, order].T[:, None, :]
        outputs = np.empty((steps, u, n), dtype) if self.return_sequences else None
        buf, tmp = np.empty((4 * u, n), dtype), np.empty((u, n), dtype)
        out = np.zeros((u, n), dtype)
        with one_blas_thread():
            for k in range(steps):
                zk = z[k]
                np.matmul(rt, h[k], out=buf)
                zk += buf
                i, f, g, o = zk[:u], zk[u:2 * u], zk[2 * u:3 * u], zk[3 * u:]
                _sigmoid_in_place(zk[:2 * u])                           # i and f
                np.tanh(g, out=g)
                _sigmoid_in_place(o)
                np.multiply(f, c[k], out=c[k + 1])
                np.multiply(i, g, out=tmp)
                c[k + 1] += tmp
                np.tanh(c[k + 1], out=tc[k])
                np.multiply(o, tc[k], out=h[k + 1])
                if keep_all is None:
                    if outputs is not None:
                        outputs[k] = h[k + 1]
                    continue
                keep = keep_all[k]
                out = np.where(keep, h[k + 1], 0 if self.zero_output_for_mask else out).astype(dtype, copy=False)
                np.copyto(h[k + 1], h[k], where=~keep)
                np.copyto(c[k + 1], c[k], where=~keep)
                if outputs is not None:
                    outputs[k] = out
        self.xt, self.z, self.h, self.c, self.tc, self.keep_all = xt, z, h, c, tc, keep_all
        if keep_all is None:
            out = h[steps]
        result = np.ascontiguousarray(outputs.transpose(2, 0, 1)) if outputs is not None else out.T.copy()
        return result, h[steps].T.copy(), c[steps].T.copy()

    def backward(self, g_out, g_h_final, g_c_final):
        x, kernel, recurrent_kernel = (t.data for t in self.inputs[:3])
        n, steps, d = x.shape
        u = recurrent_kernel.shape[0]
        dtype = g_out.dtype
        z, h, c, tc, keep_all = self.z, self.h, self.c, self.tc, self.keep_all
        g_seq = np.ascontiguousarray(g_out.transpose(1, 2, 0)) if self.return_sequences else None   # (T, U, N)
        g_h = np.ascontiguousarray(g_h_final.T)
        g_c = np.ascontiguousarray(g_c_final.T)
        # dL/d(outputs) not yet handed to a step: the last output's, or later ones passed back by masks
        g_carry = np.ascontiguousarray(g_out.T) if g_seq is None else np.zeros((u, n), dtype)
        dc, t1, t2, buf = (np.empty((u, n), dtype) for _ in range(4))
        flags = np.empty((u, n), bool)
        xt, want_x = self.xt, self.inputs[0].requires_grad
        g_recurrent_t, g_kernel_t = np.zeros((4 * u, u), dtype), np.zeros((4 * u, d), dtype)
        tmp_r, tmp_k = np.empty((4 * u, u), dtype), np.empty((4 * u, d), dtype)
        g_xt = np.empty((steps, d, n), dtype) if want_x else None
        tiny = np.finfo(dtype).tiny * 2.0 ** 24
        with one_blas_thread():
            for k in range(steps - 1, -1, -1):
                zk = z[k]
                i, f, g, o = zk[:u], zk[u:2 * u], zk[2 * u:3 * u], zk[3 * u:]
                pass_h = pass_c = None
                if keep_all is None:
                    if g_seq is not None:
                        g_h += g_seq[k]
                    elif k == steps - 1:
                        g_h += g_carry
                else:                        # a masked column hands its gradients on past the step
                    keep = keep_all[k]
                    g_o = g_carry if g_seq is None else g_seq[k] + g_carry
                    pass_h, pass_c = np.where(keep, 0, g_h), np.where(keep, 0, g_c)
                    g_h = np.where(keep, g_h + g_o, 0).astype(dtype, copy=False)
                    g_c = np.where(keep, g_c, 0).astype(dtype, copy=False)
                    if self.zero_output_for_mask:
                        g_carry = np.zeros((u, n), dtype)
                    else:
                        g_carry = np.where(keep, 0, g_o).astype(dtype, copy=False)
                # dc = g_c + g_h o (1 - tanh(c)^2)
                np.multiply(tc[k], tc[k], out=t1)
                np.subtract(1, t1, out=t1)
                t1 *= o
                t1 *= g_h
                np.add(g_c, t1, out=dc)
                # o's rows become dz_o = g_h tanh(c) o (1 - o)
                np.multiply(g_h, tc[k], out=t1)
                np.subtract(1, o, out=t2)
                t2 *= o
                np.multiply(t2, t1, out=o)
                # dc_{t-1} = dc f; f's rows become dz_f = dc c_{t-1} f (1 - f)
                np.multiply(dc, f, out=g_c)
                np.subtract(1, f, out=t1)
                t1 *= f
                t1 *= c[k]
                np.multiply(t1, dc, out=f)
                # dz_i = dc g i (1 - i) (in t2); g's rows become dz_g = dc i (1 - g^2); then i's rows dz_i
                np.subtract(1, i, out=t2)
                t2 *= i
                t2 *= g
                t2 *= dc
                np.multiply(g, g, out=t1)
                np.subtract(1, t1, out=t1)
                t1 *= i
                np.multiply(t1, dc, out=g)
                i[...] = t2
                # the step's share of the weights' gradients (while dz is in cache), and dx_t
                np.matmul(zk, h[k].T, out=tmp_r)
                g_recurrent_t += tmp_r
                np.matmul(zk, xt[k].T, out=tmp_k)
                g_kernel_t += tmp_k
                if want_x:
                    np.matmul(kernel, zk, out=g_xt[k])
                # dh_{t-1}^T = R dz^T
                np.matmul(recurrent_kernel, zk, out=buf)
                g_h, buf = buf, g_h
                if pass_h is not None:
                    g_h += pass_h
                    g_c += pass_c
                _flush_tiny(g_h, tiny, t1, flags)
                _flush_tiny(g_c, tiny, t1, flags)
        self.z = None
        grads = [None, g_kernel_t.T.copy(), g_recurrent_t.T.copy()]
        if want_x:
            g_x = np.empty_like(x)
            g_x.transpose(1, 2, 0)[self.order] = g_xt                  # back to (N, T, D), time order
            grads[0] = g_x
        if self.use_bias:
            grads.append(z.sum(axis=(0, 2)))
        return tuple(grads + [g_h.T.copy(), g_c.T.copy()])
