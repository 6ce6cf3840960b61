"""Recurrent networks and backpropagation through time (BPTT).

A recurrent layer applies one *step* to every time step of a sequence ``x`` of shape
(N, T, D), carrying a state from each step to the next::

    states_t = step(x_t, states_{t-1})          output_t = h_t  (the first state)

Unrolled over time this is an ordinary (deep) graph, and its gradient is the chain rule run
backwards along it: backpropagation through time. This module writes that out by hand, in two
layers that can be read on their own:

* **One step**, forward and backward, per cell: ``SimpleRNN.step``/``step_backward``,
  ``LSTM.step``/``step_backward``, ``GRU.step``/``step_backward``. Each is the math of one
  cell on (N, ·) arrays, with its derivative beside it.
* **The sequence loop** around any step: ``Recurrence.forward`` (left to right, or right to
  left with ``go_backwards``; masked steps carry the previous state and output through) and
  ``Recurrence.backward`` (the same loop run in reverse, handing each step the gradient of its
  new state and collecting the gradient of its old one).

Weights are Keras 3's, so ``set_weights(keras_layer.get_weights())`` works::

    kernel            (D, G*U)   input projection, the G gates side by side
    recurrent_kernel  (U, G*U)   state projection
    bias              (G*U,)     (GRU with reset_after=True: (2, 3U), input and recurrent rows)

with G = 1 (SimpleRNN), 4 (LSTM: gates i, f, c, o) or 3 (GRU: gates z, r, h). The input
projection of all T steps is one matrix product before the loop (x @ kernel on (N*T, D)), and
its gradient one product after it; only the (N, U) @ (U, G*U) state product runs per step.

Masks follow Keras: ``mask`` (N, T) is True where a step is real. At a masked step every state
keeps its previous value and the output repeats the previous output (zeros before the first
real step, or zeros always with ``zero_output_for_mask``). With ``go_backwards`` the sequence
is read from its last step to its first and the outputs come back in that (reversed) order.

The activations of the fused step must have a derivative that can be read off their output
(``ACTIVATIONS``); any other activation runs through ``rnn_loop``, the same loop on Tensors
with autograd doing the backward (that is also what ``RNN(cell)`` uses for user cells).
"""
from .. import kernels
from ..autograd import Function, Tensor
from ..backend import get_array_module
from .activation import stable_sigmoid


# --- activations whose derivative is a function of their output y = f(x) ---------------------

def _tanh(x):
    return get_array_module(x).tanh(x)


def _relu(x):
    return get_array_module(x).maximum(x, x.dtype.type(0))


def _hard_sigmoid(x):
    """Keras 3's hard sigmoid: relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1)."""
    return get_array_module(x).clip(x / 6 + 0.5, 0, 1)


ACTIVATIONS = {
    # name: (f(x), f'(x) written with y = f(x))
    'tanh': (_tanh, lambda y: 1 - y * y),
    'sigmoid': (stable_sigmoid, lambda y: y * (1 - y)),
    'relu': (_relu, lambda y: (y > 0).astype(y.dtype)),
    'linear': (lambda x: x, lambda y: get_array_module(y).ones_like(y)),
    'hard_sigmoid': (_hard_sigmoid, lambda y: ((y > 0) & (y < 1)).astype(y.dtype) / 6),
}


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f'recurrent op: activation {name!r} has no fused form; choose one of '
                         f'{sorted(ACTIVATIONS)} or run the cell through rnn_loop.')
    return ACTIVATIONS[name]


class Recurrence(Function):
    """The sequence loop shared by every fused recurrent op, and its backward (BPTT).

    Inputs: ``x`` (N, T, D), ``kernel``, ``recurrent_kernel``, ``bias`` (only when
    ``use_bias``), then one initial state per state (N, U). Outputs: the outputs
    (N, T, U) with ``return_sequences``, else the last output (N, U); then the final states.

    Forward, for k = 0 .. T-1 with t = k (or T-1-k with ``go_backwards``)::

        new = step(xw[:, t], states)                    xw = x @ kernel (+ bias), all t at once
        states = where(mask_t, new, states)             a masked step keeps the old states
        out_k = where(mask_t, new[0], out_{k-1})        ... and repeats the previous output

    Backward walks k = T-1 .. 0. ``g_states`` holds dL/d(states after step k); a masked
    row routes it past the step unchanged, a real row hands it to ``step_backward``, which
    returns dL/d(xw[:, t]) and dL/d(states before step k) and adds the step's share to the
    recurrent kernel's gradient. The gradient of an output reaches the step's new h, or, at a
    masked row, the previous output. Finally the input projection's gradient is one product:
    dx = dxw @ kernel^T, dkernel = x^T @ dxw.
    """
    gates = 1            # G: blocks of U columns in the kernels
    state_count = 1      # h (LSTM: h and c)

    def __init__(self, activation='tanh', recurrent_activation='sigmoid', mask=None, go_backwards=False,
                 return_sequences=False, zero_output_for_mask=False, use_bias=True, **options):
        self.act, self.dact = _activation(activation)
        self.ract, self.dract = _activation(recurrent_activation)
        self.mask = mask
        self.go_backwards = bool(go_backwards)
        self.return_sequences = bool(return_sequences)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.use_bias = bool(use_bias)
        self.options = options

    # --- what each cell defines ---------------------------------------------------------------
    def input_bias(self, bias):
        """The part of ``bias`` added to the input projection (all of it, but for GRU)."""
        return bias

    def step(self, xw_t, states, recurrent_kernel, bias):
        """One time step: (new states tuple, cache for step_backward)."""
        raise NotImplementedError

    def step_backward(self, cache, g_states, recurrent_kernel):
        """dL/d(xw_t) and the tuple dL/d(previous states), from dL/d(new states); adds the step's
        contribution to ``self.g_recurrent_kernel`` (and ``self.g_recurrent_bias``)."""
        raise NotImplementedError

    # --- the loop -----------------------------------------------------------------------------
    def forward(self, x, kernel, recurrent_kernel, *rest):
        xp = get_array_module(x)
        bias = rest[0] if self.use_bias else None
        states = tuple(rest[1:] if self.use_bias else rest)
        n, steps, d = x.shape
        units = recurrent_kernel.shape[0]
        xw = x.reshape(n * steps, d) @ kernel                       # every step's input projection
        if bias is not None:
            xw += self.input_bias(bias)
        self.xw_shape = xw.shape
        xw = xw.reshape(n, steps, -1)
        mask = None if self.mask is None else xp.asarray(self.mask, dtype=bool)
        self.order = list(range(steps - 1, -1, -1)) if self.go_backwards else list(range(steps))
        out = xp.zeros((n, units), x.dtype)
        outputs = xp.empty((n, steps, units), x.dtype) if self.return_sequences else None
        self.caches = []
        for k, t in enumerate(self.order):
            new, cache = self.step(xw[:, t], states, recurrent_kernel, bias)
            self.caches.append(cache)
            if mask is None:
                states, out = new, new[0]
            else:
                keep = mask[:, t, None]
                states = tuple(xp.where(keep, s_new, s_old) for s_new, s_old in zip(new, states))
                out = xp.where(keep, new[0], 0 if self.zero_output_for_mask else out)
            if outputs is not None:
                outputs[:, k] = out
        self.mask_array = mask
        return (outputs if outputs is not None else out,) + states

    def backward(self, g_out, *g_states):
        xp = get_array_module(g_out)
        x, kernel, recurrent_kernel = (t.data for t in self.inputs[:3])
        n, steps, d = x.shape
        mask = self.mask_array
        self.g_recurrent_kernel = xp.zeros_like(recurrent_kernel)
        self.g_recurrent_bias = None
        g_xw = xp.empty((n, steps, self.xw_shape[1]), g_out.dtype)
        g_states = list(g_states)
        # dL/d(out_k) that has not yet reached a step: the last output's gradient, or later
        # outputs' gradients passed back through masked steps.
        g_carry = xp.zeros_like(g_states[0]) if self.return_sequences else g_out
        for k in range(steps - 1, -1, -1):
            t = self.order[k]
            g_o = g_out[:, k] + g_carry if self.return_sequences else g_carry
            if mask is None:
                g_new = [g_states[0] + g_o] + g_states[1:]
                g_carry = xp.zeros_like(g_o)
            else:
                keep = mask[:, t, None]
                g_new = [xp.where(keep, g, 0) for g in g_states]
                g_new[0] = g_new[0] + xp.where(keep, g_o, 0)
                g_carry = xp.zeros_like(g_o) if self.zero_output_for_mask else xp.where(keep, 0, g_o)
            g_xw[:, t], g_prev = self.step_backward(self.caches[k], g_new, recurrent_kernel)
            if mask is None:
                g_states = list(g_prev)
            else:   # a masked row's old states are its new states: its gradient goes past the step
                g_states = [gp + xp.where(keep, 0, g) for gp, g in zip(g_prev, g_states)]
        g_xw = g_xw.reshape(n * steps, -1)
        g_x = (g_xw @ kernel.T).reshape(x.shape) if self.inputs[0].requires_grad else None
        g_kernel = x.reshape(n * steps, d).T @ g_xw
        grads = [g_x, g_kernel, self.g_recurrent_kernel]
        if self.use_bias:
            grads.append(self.bias_gradient(g_xw.sum(axis=0)))
        return tuple(grads + g_states)

    def bias_gradient(self, g_input_bias):
        return g_input_bias


class SimpleRNN(Recurrence):
    """h_t = a(x_t W + h_{t-1} R + b)      (Keras SimpleRNN; a = tanh by default)

    Backward, with dh = dL/dh_t:  dz = dh * a'(z) = dh * a'(h_t) read off the output;
    dxw_t = dz,  dh_{t-1} = dz R^T,  dR += h_{t-1}^T dz.
    """
    gates = 1

    def step(self, xw_t, states, recurrent_kernel, bias):
        h_prev, = states
        h = self.act(xw_t + h_prev @ recurrent_kernel)
        return (h,), (h_prev, h)

    def step_backward(self, cache, g_states, recurrent_kernel):
        h_prev, h = cache
        g_z = g_states[0] * self.dact(h)
        self.g_recurrent_kernel += h_prev.T @ g_z
        return g_z, (g_z @ recurrent_kernel.T,)


class LSTM(Recurrence):
    """Keras' LSTM step, gates in Keras' order i, f, c, o (blocks of U columns):

        z = x_t W + h_{t-1} R + b                        (N, 4U)
        i = s(z_i)   f = s(z_f)   g = a(z_c)   o = s(z_o)    s = recurrent_activation, a = activation
        c_t = f c_{t-1} + i g
        h_t = o a(c_t)

    Backward, from dh = dL/dh_t and dc = dL/dc_t (the state's own gradient):

        do = dh a(c_t)
        dc += dh o a'(c_t)                               (c_t reaches h_t through a)
        di = dc g,   df = dc c_{t-1},   dg = dc i,   dc_{t-1} = dc f
        dz = [di s'(i), df s'(f), dg a'(g), do s'(o)]    (derivatives read off the outputs)
        dxw_t = dz,   dh_{t-1} = dz R^T,   dR += h_{t-1}^T dz
    """
    gates = 4
    state_count = 2

    def step(self, xw_t, states, recurrent_kernel, bias):
        h_prev, c_prev = states
        u = h_prev.shape[1]
        z = xw_t + h_prev @ recurrent_kernel
        i = self.ract(z[:, :u])
        f = self.ract(z[:, u:2 * u])
        g = self.act(z[:, 2 * u:3 * u])
        o = self.ract(z[:, 3 * u:])
        c = f * c_prev + i * g
        a_c = self.act(c)
        h = o * a_c
        return (h, c), (h_prev, c_prev, i, f, g, o, a_c)

    def step_backward(self, cache, g_states, recurrent_kernel):
        h_prev, c_prev, i, f, g, o, a_c = cache
        g_h, g_c = g_states
        xp = get_array_module(g_h)
        g_o = g_h * a_c
        g_c = g_c + g_h * o * self.dact(a_c)
        g_z = xp.concatenate([g_c * g * self.dract(i),
                              g_c * c_prev * self.dract(f),
                              g_c * i * self.dact(g),
                              g_o * self.dract(o)], axis=1)
        self.g_recurrent_kernel += h_prev.T @ g_z
        return g_z, (g_z @ recurrent_kernel.T, g_c * f)


class GRU(Recurrence):
    """Keras' GRU step, gates in Keras' order z, r, h (blocks of U columns).

    ``reset_after=True`` (Keras 3's default, cuDNN's form): bias (2, 3U), b_x = bias[0] on the
    input side and b_h = bias[1] on the state side::

        xz, xr, xh = x_t W + b_x           hz, hr, hh = h_{t-1} R + b_h
        z = s(xz + hz)   r = s(xr + hr)   n = a(xh + r hh)
        h_t = z h_{t-1} + (1 - z) n

    ``reset_after=False``: bias (3U,) on the input side only, and the reset gate multiplies the
    state before its product: n = a(xh + (r h_{t-1}) R_h), with hz, hr = h_{t-1} R_{z,r}.

    Backward, from dh = dL/dh_t::

        dz = dh (h_{t-1} - n),   dn = dh (1 - z),   dh_{t-1} = dh z   (+ the products below)
        dn_pre = dn a'(n)
        reset_after:   dr = dn_pre hh,   dhh = dn_pre r
                       d(h_{t-1} R + b_h) = [dz s'(z), dr s'(r), dhh]  -> dR, db_h, dh_{t-1}
        reset before:  d(r h_{t-1}) = dn_pre R_h^T,  dr = d(r h_{t-1}) h_{t-1},
                       dh_{t-1} += d(r h_{t-1}) r + [dz s'(z), dr s'(r)] R_{z,r}^T
        dxw_t = [dz s'(z), dr s'(r), dn_pre]
    """
    gates = 3

    def __init__(self, *args, reset_after=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.reset_after = bool(reset_after)

    def input_bias(self, bias):
        return bias[0] if self.reset_after else bias

    def step(self, xw_t, states, recurrent_kernel, bias):
        h_prev, = states
        u = h_prev.shape[1]
        if self.reset_after:
            hw = h_prev @ recurrent_kernel
            if bias is not None:
                hw = hw + bias[1]
            z = self.ract(xw_t[:, :u] + hw[:, :u])
            r = self.ract(xw_t[:, u:2 * u] + hw[:, u:2 * u])
            hh = hw[:, 2 * u:]
            n = self.act(xw_t[:, 2 * u:] + r * hh)
        else:
            hw = h_prev @ recurrent_kernel[:, :2 * u]
            z = self.ract(xw_t[:, :u] + hw[:, :u])
            r = self.ract(xw_t[:, u:2 * u] + hw[:, u:])
            hh = (r * h_prev) @ recurrent_kernel[:, 2 * u:]
            n = self.act(xw_t[:, 2 * u:] + hh)
        h = z * h_prev + (1 - z) * n
        return (h,), (h_prev, z, r, hh, n)

    def step_backward(self, cache, g_states, recurrent_kernel):
        h_prev, z, r, hh, n = cache
        g_h, = g_states
        xp = get_array_module(g_h)
        u = h_prev.shape[1]
        g_z = g_h * (h_prev - n) * self.dract(z)
        g_n = g_h * (1 - z) * self.dact(n)
        g_h_prev = g_h * z
        if self.reset_after:
            g_r = g_n * hh * self.dract(r)
            g_hw = xp.concatenate([g_z, g_r, g_n * r], axis=1)           # d(h_{t-1} R + b_h)
            self.g_recurrent_kernel += h_prev.T @ g_hw
            g_hb = g_hw.sum(axis=0)
            self.g_recurrent_bias = g_hb if self.g_recurrent_bias is None else self.g_recurrent_bias + g_hb
            g_h_prev = g_h_prev + g_hw @ recurrent_kernel.T
        else:
            g_rh = g_n @ recurrent_kernel[:, 2 * u:].T                    # d(r h_{t-1})
            g_r = g_rh * h_prev * self.dract(r)
            g_zr = xp.concatenate([g_z, g_r], axis=1)
            self.g_recurrent_kernel[:, :2 * u] += h_prev.T @ g_zr
            self.g_recurrent_kernel[:, 2 * u:] += (r * h_prev).T @ g_n
            g_h_prev = g_h_prev + g_rh * r + g_zr @ recurrent_kernel[:, :2 * u].T
        return xp.concatenate([g_z, g_r, g_n], axis=1), (g_h_prev,)

    def bias_gradient(self, g_input_bias):
        if not self.reset_after:
            return g_input_bias
        xp = get_array_module(g_input_bias)
        g_rec = self.g_recurrent_bias if self.g_recurrent_bias is not None else xp.zeros_like(g_input_bias)
        return xp.stack([g_input_bias, g_rec])


# --- the functions layers call ----------------------------------------------------------------

def _check(name, x, kernel, recurrent_kernel, bias, states, gates, bias_shapes):
    if len(x.shape) != 3:
        raise ValueError(f'{name}: inputs must be (batch, timesteps, features), got shape {tuple(x.shape)}.')
    n, steps, d = x.shape
    units = recurrent_kernel.shape[0]
    if tuple(kernel.shape) != (d, gates * units) or tuple(recurrent_kernel.shape) != (units, gates * units):
        raise ValueError(f'{name}: for inputs with {d} features and {units} units the kernel must be '
                         f'{(d, gates * units)} and the recurrent kernel {(units, gates * units)}; got '
                         f'{tuple(kernel.shape)} and {tuple(recurrent_kernel.shape)}.')
    if bias is not None and tuple(bias.shape) not in bias_shapes:
        raise ValueError(f'{name}: bias must have shape {" or ".join(map(str, bias_shapes))}, '
                         f'got {tuple(bias.shape)}.')
    for i, s in enumerate(states):
        if tuple(s.shape) != (n, units):
            raise ValueError(f'{name}: initial state {i} must have shape {(n, units)} (batch, units), '
                             f'got {tuple(s.shape)}.')
    if steps == 0:
        raise ValueError(f'{name}: the sequence has no time steps (input shape {tuple(x.shape)}).')


def _mask_array(mask, x):
    if mask is None:
        return None
    data = mask.data if isinstance(mask, Tensor) else mask
    xp = get_array_module(x.data if isinstance(x, Tensor) else x)
    data = xp.asarray(data)
    if tuple(data.shape) != tuple(x.shape[:2]):
        raise ValueError(f'recurrent op: mask must have shape (batch, timesteps) = {tuple(x.shape[:2])}, '
                         f'got {tuple(data.shape)}.')
    return data.astype(bool)


def _run(op, cls, x, kernel, recurrent_kernel, bias, states, mask, **options):
    from ..kernels import rnn as _fast_forms  # noqa: F401  (registers the fast forms of these ops)
    mask = _mask_array(mask, x)
    fast = kernels.find(op, x, kernel, recurrent_kernel, bias, *states, mask=mask, **options)
    f = (fast or cls)(mask=mask, use_bias=bias is not None, **options)
    inputs = [x, kernel, recurrent_kernel] + ([bias] if bias is not None else []) + list(states)
    return f(*inputs)


def simple_rnn(x, kernel, recurrent_kernel, bias, h0, mask=None, activation='tanh', go_backwards=False,
               return_sequences=False, zero_output_for_mask=False):
    """Keras SimpleRNN over a whole sequence: returns (outputs or last output, final h)."""
    _check('simple_rnn', x, kernel, recurrent_kernel, bias, [h0], 1, [(kernel.shape[1],)])
    return _run('simple_rnn', SimpleRNN, x, kernel, recurrent_kernel, bias, [h0], mask, activation=activation,
                recurrent_activation='sigmoid', go_backwards=go_backwards, return_sequences=return_sequences,
                zero_output_for_mask=zero_output_for_mask)


def lstm(x, kernel, recurrent_kernel, bias, h0, c0, mask=None, activation='tanh', recurrent_activation='sigmoid',
         go_backwards=False, return_sequences=False, zero_output_for_mask=False):
    """Keras LSTM over a whole sequence: returns (outputs or last output, final h, final c)."""
    _check('lstm', x, kernel, recurrent_kernel, bias, [h0, c0], 4, [(kernel.shape[1],)])
    return _run('lstm', LSTM, x, kernel, recurrent_kernel, bias, [h0, c0], mask, activation=activation,
                recurrent_activation=recurrent_activation, go_backwards=go_backwards,
                return_sequences=return_sequences, zero_output_for_mask=zero_output_for_mask)


def gru(x, kernel, recurrent_kernel, bias, h0, mask=None, activation='tanh', recurrent_activation='sigmoid',
        reset_after=True, go_backwards=False, return_sequences=False, zero_output_for_mask=False):
    """Keras GRU over a whole sequence: returns (outputs or last output, final h)."""
    units3 = kernel.shape[1]
    _check('gru', x, kernel, recurrent_kernel, bias, [h0], 3, [(2, units3)] if reset_after else [(units3,)])
    return _run('gru', GRU, x, kernel, recurrent_kernel, bias, [h0], mask, activation=activation,
                recurrent_activation=recurrent_activation, reset_after=reset_after, go_backwards=go_backwards,
                return_sequences=return_sequences, zero_output_for_mask=zero_output_for_mask)


# --- the same loop on Tensors, for any cell ----------------------------------------------------

def rnn_loop(step_fn, x, initial_states, mask=None, go_backwards=False, return_sequences=False,
             zero_output_for_mask=False):
    """Keras' ``backend.rnn`` on Tensors: ``step_fn(x_t, states) -> (output_t, new_states)``
    runs once per time step and autograd records every step, so any cell (a user's, or a
    built-in one with dropout on its recurrent state) is differentiated step by step.

    ``x`` (N, T, ...); ``initial_states`` a list of Tensors; ``mask`` (N, T) boolean. Returns
    ``(last_output, outputs, final_states)`` where ``outputs`` is (N, T, ...) in processing
    order when ``return_sequences`` (else None). Masked steps carry states and the previous
    output through, exactly as the fused ops do.
    """
    from . import math as fmath, shape as fshape
    steps = x.shape[1]
    if steps == 0:
        raise ValueError(f'rnn_loop: the sequence has no time steps (input shape {tuple(x.shape)}).')
    mask = _mask_array(mask, x)
    states = list(initial_states)
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs, out = [], None
    for t in order:
        out_t, new_states = step_fn(fshape.getitem(x, (slice(None), t)), states)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        if mask is not None:
            keep = mask[:, t]
            prev = out if (out is not None and not zero_output_for_mask) else Tensor(
                get_array_module(out_t.data).zeros(out_t.shape, out_t.dtype))
            out_t = fmath.where(_expand(keep, out_t), out_t, prev)
            new_states = [fmath.where(_expand(keep, s), s, old) for s, old in zip(new_states, states)]
        out, states = out_t, new_states
        if return_sequences:
            outputs.append(out)
    return out, (fshape.stack(outputs, axis=1) if return_sequences else None), states


def _expand(keep, like):
    """The (N,) step mask shaped to broadcast against ``like`` (N, ...)."""
    return keep.reshape((keep.shape[0],) + (1,) * (len(like.shape) - 1))
