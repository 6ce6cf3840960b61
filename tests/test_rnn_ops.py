"""functional/rnn.py: float64 gradient checks of the fused SimpleRNN, LSTM and GRU sequence ops
(masks, go_backwards, return_sequences, initial states, zero_output_for_mask), the fused ops
against the step-by-step autograd loop, and Keras 3 / PyTorch as oracles on the same weights."""
import numpy as np
import pytest

import minidl.functional as F
from minidl import Tensor
from minidl.functional import rnn as R
from minidl.testing import gradcheck

N, T, D, U = 2, 4, 3, 3


def weights(kind, rng, reset_after=True, scale=0.6):
    g = {'simple': 1, 'lstm': 4, 'gru': 3}[kind]
    w = [rng.standard_normal((D, g * U)) * scale, rng.standard_normal((U, g * U)) * scale]
    w.append(rng.standard_normal((2, g * U) if kind == 'gru' and reset_after else (g * U,)) * 0.3)
    return w


def run(kind, x, w, states, **kw):
    if kind == 'simple':
        return R.simple_rnn(x, *w, *states, **kw)
    if kind == 'lstm':
        return R.lstm(x, *w, *states, **kw)
    return R.gru(x, *w, *states, **kw)


def n_states(kind):
    return 2 if kind == 'lstm' else 1


def a_mask():
    mask = np.ones((N, T), bool)
    mask[0, 2:] = False      # right padding
    mask[1, :1] = False      # left padding
    return mask


KINDS = [('simple', True), ('lstm', True), ('gru', True), ('gru', False)]


@pytest.mark.parametrize('kind,reset_after', KINDS)
@pytest.mark.parametrize('go_backwards', [False, True])
@pytest.mark.parametrize('return_sequences', [False, True])
@pytest.mark.parametrize('masked', [False, True])
def test_gradcheck(kind, reset_after, go_backwards, return_sequences, masked):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D))
    w = weights(kind, rng, reset_after)
    states = [rng.standard_normal((N, U)) * 0.5 for _ in range(n_states(kind))]
    kw = dict(go_backwards=go_backwards, return_sequences=return_sequences, mask=a_mask() if masked else None)
    if kind == 'gru':
        kw['reset_after'] = reset_after
    for output in range(1 + n_states(kind)):        # the outputs, then every final state
        gradcheck(lambda x, *p: run(kind, x, p[:3], p[3:], **kw)[output], x, *w, *states)


@pytest.mark.parametrize('kind', ['simple', 'lstm', 'gru'])
def test_gradcheck_zero_output_for_mask_and_no_bias(kind):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, T, D))
    w = weights(kind, rng)[:2]
    states = [rng.standard_normal((N, U)) for _ in range(n_states(kind))]
    kw = dict(mask=a_mask(), return_sequences=True, zero_output_for_mask=True)
    gradcheck(lambda x, *p: run(kind, x, list(p[:2]) + [None], p[2:], **kw)[0], x, *w, *states)


@pytest.mark.parametrize('activation,recurrent_activation', [('relu', 'hard_sigmoid'), ('linear', 'tanh')])
def test_gradcheck_other_activations(activation, recurrent_activation):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, T, D))
    w = weights('lstm', rng, scale=0.3)
    states = [np.zeros((N, U))] * 2
    kw = dict(activation=activation, recurrent_activation=recurrent_activation, return_sequences=True)
    gradcheck(lambda x, *p: R.lstm(x, *p, *states, **kw)[0], x, *w)


def test_masked_step_carries_state_and_output():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, T, D))
    w = [Tensor(a) for a in weights('lstm', rng)]
    zeros = Tensor(np.zeros((N, U)))
    mask = a_mask()
    out, h, c = R.lstm(Tensor(x), *w, zeros, zeros, mask=mask, return_sequences=True)
    out = out.numpy()
    # sample 0 stops after step 1: later outputs repeat it and the final state is step 1's
    np.testing.assert_array_equal(out[0, 2], out[0, 1])
    np.testing.assert_array_equal(out[0, 3], out[0, 1])
    np.testing.assert_array_equal(h.numpy()[0], out[0, 1])
    short = R.lstm(Tensor(x[:, :2]), *w, zeros, zeros)
    np.testing.assert_allclose(c.numpy()[0], short[2].numpy()[0])
    # sample 1 starts at step 1: its first output is zero and step 1 sees the initial state
    np.testing.assert_array_equal(out[1, 0], 0)
    late = R.lstm(Tensor(x[:, 1:]), *w, zeros, zeros, return_sequences=True)[0].numpy()
    np.testing.assert_allclose(out[1, 1:], late[1], rtol=1e-12)
    # a fully masked sequence returns its initial states untouched
    h0 = Tensor(rng.standard_normal((N, U)))
    _, h_end, _ = R.lstm(Tensor(x), *w, h0, zeros, mask=np.zeros((N, T), bool))
    np.testing.assert_array_equal(h_end.numpy(), h0.numpy())


def test_go_backwards_reads_the_reversed_sequence():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, T, D))
    w = [Tensor(a) for a in weights('gru', rng)]
    h0 = Tensor(np.zeros((N, U)))
    back = R.gru(Tensor(x), *w, h0, go_backwards=True, return_sequences=True)[0].numpy()
    fwd = R.gru(Tensor(x[:, ::-1].copy()), *w, h0, return_sequences=True)[0].numpy()
    np.testing.assert_allclose(back, fwd, rtol=1e-12)


def _cell_step(kind, w, reset_after=True):
    """The cell written with autograd Functions (the textbook formulas), for rnn_loop."""
    kernel, rk, b = (Tensor(a) for a in w)

    def step(x_t, states):
        h = states[0]
        if kind == 'simple':
            h = F.tanh(x_t @ kernel + h @ rk + b)
            return h, [h]
        if kind == 'lstm':
            z = x_t @ kernel + h @ rk + b
            i, f, g, o = (z[:, k * U:(k + 1) * U] for k in range(4))
            c = F.sigmoid(f) * states[1] + F.sigmoid(i) * F.tanh(g)
            h = F.sigmoid(o) * F.tanh(c)
            return h, [h, c]
        xb = b[0] if reset_after else b
        xw = x_t @ kernel + xb
        if reset_after:
            hw = h @ rk + b[1]
            z, r = F.sigmoid(xw[:, :U] + hw[:, :U]), F.sigmoid(xw[:, U:2 * U] + hw[:, U:2 * U])
            n = F.tanh(xw[:, 2 * U:] + r * hw[:, 2 * U:])
        else:
            hw = h @ rk[:, :2 * U]
            z, r = F.sigmoid(xw[:, :U] + hw[:, :U]), F.sigmoid(xw[:, U:2 * U] + hw[:, U:])
            n = F.tanh(xw[:, 2 * U:] + (r * h) @ rk[:, 2 * U:])
        h = z * h + (1 - z) * n
        return h, [h]
    return step


@pytest.mark.parametrize('kind,reset_after', KINDS)
@pytest.mark.parametrize('go_backwards', [False, True])
def test_fused_equals_the_autograd_loop(kind, reset_after, go_backwards):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, T, D))
    w = weights(kind, rng, reset_after)
    states0 = [rng.standard_normal((N, U)) for _ in range(n_states(kind))]
    gy = rng.standard_normal((N, T, U))
    kw = dict(go_backwards=go_backwards, return_sequences=True, mask=a_mask())
    xs, ws, ss = Tensor(x, requires_grad=True), [Tensor(a, requires_grad=True) for a in w], \
        [Tensor(s, requires_grad=True) for s in states0]
    out = run(kind, xs, ws, ss, **(dict(kw, reset_after=reset_after) if kind == 'gru' else kw))
    (out[0] * Tensor(gy)).sum().backward()
    xl, sl = Tensor(x, requires_grad=True), [Tensor(s, requires_grad=True) for s in states0]
    _, seq, final = R.rnn_loop(_cell_step(kind, w, reset_after), xl, sl, **kw)
    np.testing.assert_allclose(out[0].numpy(), seq.numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(out[1:], final):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    (seq * Tensor(gy)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xl.grad.numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(ss, sl):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_rnn_loop_gradcheck_with_mask_and_zero_output():
    rng = np.random.default_rng(6)
    w = weights('lstm', rng)
    step = _cell_step('lstm', w)
    x = rng.standard_normal((N, T, D))
    h0, c0 = rng.standard_normal((N, U)), rng.standard_normal((N, U))
    gradcheck(lambda x, h, c: R.rnn_loop(step, x, [h, c], mask=a_mask(), return_sequences=True,
                                         zero_output_for_mask=True, go_backwards=True)[1], x, h0, c0)


def test_errors_name_the_shapes():
    rng = np.random.default_rng(7)
    w = [Tensor(a) for a in weights('lstm', rng)]
    h0 = Tensor(np.zeros((N, U)))
    with pytest.raises(ValueError, match=r'kernel must be \(5, 12\)'):
        R.lstm(Tensor(np.zeros((N, T, 5))), *w, h0, h0)
    with pytest.raises(ValueError, match='initial state 1 must have shape'):
        R.lstm(Tensor(np.zeros((N, T, D))), *w, h0, Tensor(np.zeros((N, U + 1))))
    with pytest.raises(ValueError, match='mask must have shape'):
        R.lstm(Tensor(np.zeros((N, T, D))), *w, h0, h0, mask=np.ones((N, T + 1), bool))
    with pytest.raises(ValueError, match='no fused form'):
        R.lstm(Tensor(np.zeros((N, T, D))), *w, h0, h0, activation='softsign')


# --- oracles --------------------------------------------------------------------------------

def _keras_layer(keras, kind, reset_after, **kw):
    if kind == 'simple':
        return keras.layers.SimpleRNN(U, return_state=True, **kw)
    if kind == 'lstm':
        return keras.layers.LSTM(U, return_state=True, **kw)
    return keras.layers.GRU(U, return_state=True, reset_after=reset_after, **kw)


@pytest.mark.parametrize('kind,reset_after', KINDS)
@pytest.mark.parametrize('go_backwards,return_sequences,masked',
                         [(False, False, False), (True, True, True), (False, True, True), (True, False, False)])
def test_forward_and_gradients_equal_keras(keras, kind, reset_after, go_backwards, return_sequences, masked):
    import torch
    rng = np.random.default_rng(8)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    mask = a_mask() if masked else None
    layer = _keras_layer(keras, kind, reset_after, go_backwards=go_backwards, return_sequences=return_sequences)
    layer.build((N, T, D))
    w = [a.astype(np.float32) for a in weights(kind, rng, reset_after)]
    layer.set_weights(w)
    tx = torch.tensor(x, requires_grad=True)
    outs = layer(tx, mask=None if mask is None else torch.tensor(mask))
    gys = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in outs]
    sum((o * torch.tensor(g)).sum() for o, g in zip(outs, gys)).backward()

    xs, ws = Tensor(x, requires_grad=True), [Tensor(a, requires_grad=True) for a in w]
    states = [Tensor(np.zeros((N, U), np.float32)) for _ in range(n_states(kind))]
    kw = dict(go_backwards=go_backwards, return_sequences=return_sequences, mask=mask)
    mine = run(kind, xs, ws, states, **(dict(kw, reset_after=reset_after) if kind == 'gru' else kw))
    sum((o * Tensor(g)).sum() for o, g in zip(mine, gys)).backward()
    for a, b in zip(mine, outs):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for mine_w, theirs in zip(ws, layer.trainable_weights):
        np.testing.assert_allclose(mine_w.grad.numpy(), theirs.value.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('kind', ['lstm', 'gru'])
def test_forward_and_gradients_equal_torch(kind):
    """PyTorch's nn.LSTM/nn.GRU, with its (4U, D) weights reordered: torch's gates are i, f, g, o
    (Keras' order) and r, z, n for the GRU (Keras: z, r, h), which is reset_after=True."""
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(9)
    x = rng.standard_normal((N, T, D))
    w = weights(kind, rng)
    h0 = rng.standard_normal((N, U))
    c0 = rng.standard_normal((N, U))
    net = (torch.nn.LSTM if kind == 'lstm' else torch.nn.GRU)(D, U, batch_first=True).double()
    if kind == 'lstm':
        ih, hh, b_ih, b_hh = w[0].T, w[1].T, w[2], np.zeros_like(w[2])
    else:
        order = np.r_[U:2 * U, 0:U, 2 * U:3 * U]             # torch (r, z, n) <- Keras (z, r, h)
        ih, hh, b_ih, b_hh = w[0].T[order], w[1].T[order], w[2][0][order], w[2][1][order]
    with torch.no_grad():
        for p, a in zip((net.weight_ih_l0, net.weight_hh_l0, net.bias_ih_l0, net.bias_hh_l0), (ih, hh, b_ih, b_hh)):
            p.copy_(torch.tensor(a))
    tx = torch.tensor(x, requires_grad=True)
    init = (torch.tensor(h0[None]), torch.tensor(c0[None])) if kind == 'lstm' else torch.tensor(h0[None])
    seq, _ = net(tx, init)
    gy = rng.standard_normal((N, T, U))
    (seq * torch.tensor(gy)).sum().backward()

    xs, ws = Tensor(x, requires_grad=True), [Tensor(a, requires_grad=True) for a in w]
    states = [Tensor(h0), Tensor(c0)] if kind == 'lstm' else [Tensor(h0)]
    out = run(kind, xs, ws, states, return_sequences=True)[0]
    (out * Tensor(gy)).sum().backward()
    np.testing.assert_allclose(out.numpy(), seq.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    g_ih = net.weight_ih_l0.grad.numpy().T
    g_hh = net.weight_hh_l0.grad.numpy().T
    if kind == 'gru':
        inverse = np.argsort(order)
        g_ih, g_hh = g_ih[:, inverse], g_hh[:, inverse]
    np.testing.assert_allclose(ws[0].grad.numpy(), g_ih, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ws[1].grad.numpy(), g_hh, rtol=1e-9, atol=1e-12)


# --- the fast form (minidl/kernels/rnn.py) equals the reference ------------------------------

@pytest.mark.parametrize('go_backwards', [False, True])
@pytest.mark.parametrize('return_sequences', [False, True])
@pytest.mark.parametrize('masked,zero_output', [(False, False), (True, False), (True, True)])
def test_fast_lstm_equals_reference(go_backwards, return_sequences, masked, zero_output):
    import minidl
    from minidl import kernels
    rng = np.random.default_rng(10)
    n, t, d, u = 3, 5, 4, 6
    x = rng.standard_normal((n, t, d))
    w = [rng.standard_normal((d, 4 * u)) * 0.5, rng.standard_normal((u, 4 * u)) * 0.5, rng.standard_normal(4 * u)]
    states = [rng.standard_normal((n, u)) for _ in range(2)]
    mask = None
    if masked:
        mask = np.ones((n, t), bool)
        mask[0, 3:] = False
        mask[1, :2] = False
        mask[2] = False
    gys = [rng.standard_normal((n, t, u) if return_sequences else (n, u)), rng.standard_normal((n, u)),
           rng.standard_normal((n, u))]
    kw = dict(mask=mask, go_backwards=go_backwards, return_sequences=return_sequences,
              zero_output_for_mask=zero_output)
    results = []
    for mode in ('reference', 'fast'):
        with minidl.use_kernels(mode):
            kernels.reset_launches()
            inputs = [Tensor(a, requires_grad=True) for a in [x] + w + states]
            outs = R.lstm(*inputs, **kw)
            assert ('LSTMNumPy' in kernels.launches()) == (mode == 'fast')
            total = sum(((o * Tensor(g)).sum() for o, g in zip(outs, gys)), Tensor(np.zeros(())))
            total.backward()
            results.append([o.numpy() for o in outs] + [a.grad.numpy() for a in inputs])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_fast_lstm_gradcheck_and_float32():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 3))
    w = weights('lstm', rng)
    states = [rng.standard_normal((2, U)) for _ in range(2)]
    gradcheck(lambda x, *p: R.lstm(x, *p[:3], *p[3:], return_sequences=True, mask=a_mask()[:, :3])[0],
              x, *w, *states)
    out = R.lstm(Tensor(x.astype(np.float32)), *[Tensor(a.astype(np.float32)) for a in w + states])
    assert out[0].dtype == np.float32
