"""The recurrent layers: SimpleRNN, LSTM, GRU, the cells and RNN(cell), StackedRNNCells,
Bidirectional, TimeDistributed. Float64 gradient checks through the layers (fused and step by
step, masks, go_backwards, return_state, stateful, initial_state), Keras 3 as the oracle on the
same weights (forward and gradients), configs with Keras' keys, dropout's per-sequence masks."""
import numpy as np
import pytest

import minidl
from minidl import Tensor, layers
from minidl.testing import gradcheck

N, T, D, U = 2, 4, 3, 3


def a_mask():
    mask = np.ones((N, T), bool)
    mask[0, 3:] = False
    mask[1, :1] = False
    return mask


def make(kind, **kw):
    return {'simple': layers.SimpleRNN, 'lstm': layers.LSTM, 'gru': layers.GRU}[kind](U, **kw)


def keras_make(keras, kind, **kw):
    return {'simple': keras.layers.SimpleRNN, 'lstm': keras.layers.LSTM, 'gru': keras.layers.GRU}[kind](U, **kw)


def random_weights(layer, rng, scale=0.5):
    layer.set_weights([rng.standard_normal(w.shape) * scale for w in layer.get_weights()])


def flat(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# --- gradient checks through the layers -----------------------------------------------------

@pytest.mark.parametrize('kind,extra', [('simple', {}), ('lstm', {}), ('gru', {}), ('gru', {'reset_after': False}),
                                        ('lstm', {'activation': 'softplus'}),          # step by step (no fused form)
                                        ('gru', {'recurrent_activation': 'hard_sigmoid'})])
@pytest.mark.parametrize('options', [dict(return_sequences=True, go_backwards=True),
                                     dict(return_state=True)])
def test_layer_gradcheck(kind, extra, options):
    rng = np.random.default_rng(0)
    layer = make(kind, dtype='float64', **extra, **options)
    layer.build((N, T, D))
    random_weights(layer, rng)
    x = rng.standard_normal((N, T, D))
    mask = a_mask()
    n_out = len(flat(layer(Tensor(x), mask=mask)))
    for i in range(n_out):
        params = [Tensor(w.data.copy(), requires_grad=True) for w in layer.weights]
        gradcheck(lambda x, *w: _with_weights(layer, w, lambda: flat(layer(x, mask=mask))[i]), x, *params)


def _with_weights(layer, values, run):
    """Run with the layer's Variables replaced by the given Tensors (so gradcheck sees them)."""
    cell = getattr(layer, 'cell', layer)
    names = [n for n in ('kernel', 'recurrent_kernel', 'bias') if getattr(cell, n, None) is not None]
    saved = {n: getattr(cell, n) for n in names}
    try:
        for n, v in zip(names, values):
            object.__setattr__(cell, n, v)
        return run()
    finally:
        for n in names:
            object.__setattr__(cell, n, saved[n])


def test_initial_state_gradcheck():
    rng = np.random.default_rng(1)
    layer = layers.LSTM(U, dtype='float64', return_sequences=True)
    layer.build((N, T, D))
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, U)), rng.standard_normal((N, U))
    gradcheck(lambda x, h, c: layer(x, initial_state=[h, c]), x, h0, c0)


def test_stacked_cells_gradcheck_and_shapes():
    rng = np.random.default_rng(2)
    layer = layers.RNN([layers.LSTMCell(3, dtype='float64'), layers.GRUCell(2, dtype='float64')],
                       return_sequences=True, return_state=True, dtype='float64')
    x = rng.standard_normal((N, T, D))
    out = layer(Tensor(x))
    assert [tuple(o.shape) for o in out] == [(N, T, 2), (N, 3), (N, 3), (N, 2)]
    assert [w.shape for w in layer.weights] == [(3, 12), (3, 12), (12,), (3, 6), (2, 6), (2, 6)]
    gradcheck(lambda x: layer(x, mask=a_mask())[0], x)


def test_custom_cell_runs_step_by_step():
    class MinimalRNNCell(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name='kernel')
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name='recurrent_kernel')

        def call(self, inputs, states):
            output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
            return output, [output]

    rng = np.random.default_rng(3)
    layer = layers.RNN(MinimalRNNCell(U, dtype='float64'), dtype='float64', go_backwards=True)
    x = rng.standard_normal((N, T, D))
    layer(Tensor(x))
    k, r = (w.numpy() for w in layer.weights)
    h = np.zeros((N, U))
    for t in reversed(range(T)):
        h = x[:, t] @ k + h @ r
    np.testing.assert_allclose(layer(Tensor(x)).numpy(), h, rtol=1e-12)
    gradcheck(lambda x: layer(x, mask=a_mask()), x)


# --- Keras 3 as the oracle ------------------------------------------------------------------

def _keras_forward_backward(keras, klayer, x, mask, gys, initial_state=None):
    import torch
    tx = torch.tensor(x, requires_grad=True)
    kw = {} if mask is None else {'mask': torch.tensor(mask)}
    if initial_state is not None:
        kw['initial_state'] = [torch.tensor(s) for s in initial_state]
    outs = flat(klayer(tx, **kw))
    sum((o * torch.tensor(g)).sum() for o, g in zip(outs, gys)).backward()
    return [o.detach().numpy() for o in outs], tx.grad.numpy(), [w.value.grad.numpy() for w in klayer.trainable_weights]


def _mine_forward_backward(layer, x, mask, gys, initial_state=None):
    xs = Tensor(x, requires_grad=True)
    for w in layer.weights:
        w.grad = None
    kw = {} if mask is None else {'mask': mask}
    if initial_state is not None:
        kw['initial_state'] = [Tensor(s) for s in initial_state]
    outs = flat(layer(xs, **kw))
    total = None
    for o, g in zip(outs, gys):
        term = (o * Tensor(g)).sum()
        total = term if total is None else total + term
    total.backward()
    return [o.numpy() for o in outs], xs.grad.numpy(), [w.grad.numpy() for w in layer.trainable_weights]


def _compare_with_keras(keras, mine, theirs, x, mask=None, initial_state=None, rng=None):
    theirs.build(x.shape)
    mine.build(x.shape)
    assert [tuple(w.shape) for w in mine.weights] == [tuple(w.shape) for w in theirs.weights]
    mine.set_weights(theirs.get_weights())
    probe = [o.numpy() for o in flat(mine(Tensor(x), mask=mask) if mask is not None else mine(Tensor(x)))]
    gys = [rng.standard_normal(p.shape).astype(np.float32) for p in probe]
    k_out, k_gx, k_gw = _keras_forward_backward(keras, theirs, x, mask, gys, initial_state)
    m_out, m_gx, m_gw = _mine_forward_backward(mine, x, mask, gys, initial_state)
    for a, b in zip(m_out, k_out):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m_gx, k_gx, rtol=1e-4, atol=1e-5)
    for a, b in zip(m_gw, k_gw):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('kind,extra', [('simple', {}), ('lstm', {}), ('gru', {}), ('gru', {'reset_after': False}),
                                        ('lstm', {'recurrent_activation': 'hard_sigmoid', 'unit_forget_bias': False}),
                                        ('simple', {'activation': 'relu', 'use_bias': False})])
@pytest.mark.parametrize('options,masked', [(dict(), False), (dict(return_sequences=True, return_state=True), True),
                                            (dict(go_backwards=True, return_sequences=True), True)])
def test_layers_equal_keras(keras, kind, extra, options, masked):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    _compare_with_keras(keras, make(kind, **extra, **options), keras_make(keras, kind, **extra, **options), x,
                        a_mask() if masked else None, rng=rng)


@pytest.mark.parametrize('kind', ['lstm', 'gru'])
def test_initial_state_equals_keras(keras, kind):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    states = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(2 if kind == 'lstm' else 1)]
    _compare_with_keras(keras, make(kind, return_sequences=True), keras_make(keras, kind, return_sequences=True), x,
                        initial_state=states, rng=rng)


@pytest.mark.parametrize('cell', ['SimpleRNNCell', 'LSTMCell', 'GRUCell'])
def test_rnn_of_a_cell_and_stacked_cells_equal_keras(keras, cell):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    mine = layers.RNN([getattr(layers, cell)(U), getattr(layers, cell)(2)], return_sequences=True)
    theirs = keras.layers.RNN([getattr(keras.layers, cell)(U), getattr(keras.layers, cell)(2)], return_sequences=True)
    _compare_with_keras(keras, mine, theirs, x, a_mask(), rng=rng)


@pytest.mark.parametrize('merge_mode', ['concat', 'sum', 'mul', 'ave', None])
@pytest.mark.parametrize('return_sequences', [False, True])
def test_bidirectional_equals_keras(keras, merge_mode, return_sequences):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    mine = layers.Bidirectional(layers.LSTM(U, return_sequences=return_sequences), merge_mode=merge_mode)
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(U, return_sequences=return_sequences),
                                        merge_mode=merge_mode)
    _compare_with_keras(keras, mine, theirs, x, a_mask(), rng=rng)


def test_bidirectional_with_states_and_backward_layer_equals_keras(keras):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    mine = layers.Bidirectional(layers.GRU(U, return_state=True),
                                backward_layer=layers.GRU(U, return_state=True, go_backwards=True, reset_after=False))
    theirs = keras.layers.Bidirectional(keras.layers.GRU(U, return_state=True),
                                        backward_layer=keras.layers.GRU(U, return_state=True, go_backwards=True,
                                                                        reset_after=False))
    _compare_with_keras(keras, mine, theirs, x, rng=rng)
    assert len(mine(Tensor(x))) == 3


def test_time_distributed_equals_keras(keras):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    _compare_with_keras(keras, layers.TimeDistributed(layers.Dense(5, activation='tanh')),
                        keras.layers.TimeDistributed(keras.layers.Dense(5, activation='tanh')), x, rng=rng)


@pytest.mark.parametrize('merge_mode', ['concat', 'mul', None])
def test_bidirectional_gradcheck_with_a_mask(merge_mode):
    """Both directions' BPTT in float64 through the wrapper (the backward copy reads the masked
    sequence reversed), input gradients and every weight of both layers."""
    rng = np.random.default_rng(11)
    layer = layers.Bidirectional(layers.LSTM(U, return_sequences=True, dtype='float64'), merge_mode=merge_mode,
                                 dtype='float64')
    x = rng.standard_normal((N, T, D))
    layer(Tensor(x))
    mask = a_mask()
    forward, backward = layer.forward_layer, layer.backward_layer
    for w in layer.weights:
        w.assign(rng.standard_normal(w.shape) * 0.5)
    n_out = len(flat(layer(Tensor(x), mask=mask)))

    def run(x, *w):
        return _with_weights(forward, w[:3], lambda: _with_weights(
            backward, w[3:], lambda: flat(layer(x, mask=mask))[i]))

    for i in range(n_out):
        params = [Tensor(w.numpy().copy(), requires_grad=True) for w in forward.weights + backward.weights]
        gradcheck(run, x, *params)


def test_time_distributed_gradcheck():
    rng = np.random.default_rng(12)
    inner = layers.Dense(5, activation='tanh', dtype='float64')
    layer = layers.TimeDistributed(inner, dtype='float64')
    x = rng.standard_normal((N, T, D))
    layer(Tensor(x))
    kernel, bias = inner.kernel, inner.bias
    saved = (kernel, bias)

    def run(x, k, b):
        object.__setattr__(inner, 'kernel', k)
        object.__setattr__(inner, 'bias', b)
        try:
            return layer(x)
        finally:
            object.__setattr__(inner, 'kernel', saved[0])
            object.__setattr__(inner, 'bias', saved[1])

    gradcheck(run, x, Tensor(kernel.numpy().copy(), requires_grad=True), Tensor(bias.numpy().copy() + 0.1,
                                                                                  requires_grad=True))


def test_time_distributed_runs_per_step_for_batch_statistics():
    """BatchNormalization in training sees every time step as its own batch, as in Keras."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((4, 3, 2)) * np.array([1.0, 5.0, 20.0])[None, :, None]
    layer = layers.TimeDistributed(layers.BatchNormalization(dtype='float64'), dtype='float64')
    out = layer(Tensor(x), training=True).numpy()
    for t in range(3):
        xt = x[:, t]
        np.testing.assert_allclose(out[:, t], (xt - xt.mean(0)) / np.sqrt(xt.var(0) + 1e-3), rtol=1e-10)


# --- configs and shapes ---------------------------------------------------------------------

@pytest.mark.parametrize('name,args', [('SimpleRNN', {}), ('LSTM', {'dropout': 0.25, 'return_state': True}),
                                       ('GRU', {'reset_after': False, 'go_backwards': True})])
def test_config_keys_equal_keras_and_round_trip(keras, name, args):
    mine, theirs = getattr(layers, name)(U, **args), getattr(keras.layers, name)(U, **args)
    assert list(mine.get_config()) == list(theirs.get_config())
    for key, value in theirs.get_config().items():
        if key not in ('name', 'dtype'):
            assert mine.get_config()[key] == value, key
    clone = type(mine).from_config(mine.get_config())
    assert clone.get_config() == mine.get_config()


@pytest.mark.parametrize('name', ['SimpleRNNCell', 'LSTMCell', 'GRUCell'])
def test_cell_configs_equal_keras(keras, name):
    mine, theirs = getattr(layers, name)(U), getattr(keras.layers, name)(U)
    assert list(mine.get_config()) == list(theirs.get_config())


def test_wrapper_configs_equal_keras_and_round_trip(keras):
    for make_mine, make_theirs in ((lambda L: L.Bidirectional(L.LSTM(U), merge_mode='sum'),) * 2,
                                   (lambda L: L.TimeDistributed(L.Dense(4)),) * 2,
                                   (lambda L: L.RNN(L.GRUCell(U), return_sequences=True),) * 2):
        mine, theirs = make_mine(layers), make_theirs(keras.layers)
        assert list(mine.get_config()) == list(theirs.get_config())
        clone = type(mine).from_config(mine.get_config())
        assert list(clone.get_config()) == list(mine.get_config())


def test_symbolic_shapes_and_param_counts_equal_keras(keras):
    def build(L, I, M):
        x = I((7,), dtype='int32')
        h = L.Embedding(50, 8, mask_zero=True)(x)
        h = L.Bidirectional(L.LSTM(6, return_sequences=True))(h)
        h = L.GRU(5, return_sequences=True)(h)
        h = L.TimeDistributed(L.Dense(2))(h)
        s = L.SimpleRNN(4)(h)
        return M(x, s)
    mine, theirs = build(layers, layers.Input, minidl.Model), build(keras.layers, keras.Input, keras.Model)
    assert mine.count_params() == theirs.count_params()
    assert [tuple(l.output.shape) for l in mine.layers] == [tuple(l.output.shape) for l in theirs.layers]


def test_return_state_shapes_and_types():
    out = layers.LSTM(U, return_state=True, return_sequences=True)(np.zeros((N, T, D), np.float32))
    assert isinstance(out, tuple) and [tuple(o.shape) for o in out] == [(N, T, U), (N, U), (N, U)]
    x = layers.Input((T, D))
    seq, h = layers.GRU(U, return_sequences=True, return_state=True)(x)
    assert seq.shape == (None, T, U) and h.shape == (None, U)


# --- masks -----------------------------------------------------------------------------------

def test_masks_flow_from_embedding_through_recurrent_layers():
    ids = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    h = layers.Embedding(10, D, mask_zero=True)(ids)
    np.testing.assert_array_equal(h._keras_mask, ids != 0)
    seq = layers.LSTM(U, return_sequences=True)(h)
    np.testing.assert_array_equal(seq._keras_mask, ids != 0)
    last = layers.LSTM(U)(h)
    assert getattr(last, '_keras_mask', None) is None
    # the last output is the output at the last real step
    np.testing.assert_allclose(seq.numpy()[0, 3], seq.numpy()[0, 1])
    bi = layers.Bidirectional(layers.GRU(U, return_sequences=True))(h)
    np.testing.assert_array_equal(bi._keras_mask, ids != 0)


def test_masked_padding_changes_nothing():
    rng = np.random.default_rng(11)
    emb = layers.Embedding(10, D, mask_zero=True)
    lstm = layers.Bidirectional(layers.LSTM(U))
    short = lstm(emb(np.array([[3, 4, 5]]))).numpy()
    padded = lstm(emb(np.array([[3, 4, 5, 0, 0]]))).numpy()
    np.testing.assert_allclose(padded, short, rtol=1e-6)
    del rng


# --- stateful ------------------------------------------------------------------------------

def test_stateful_carries_states_between_calls_and_resets():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((N, 2 * T, D)).astype(np.float32)
    whole = layers.LSTM(U, return_sequences=True)
    pieces = layers.LSTM(U, return_sequences=True, stateful=True)
    whole.build((N, 2 * T, D))
    pieces.build((N, T, D))
    pieces.set_weights(whole.get_weights())
    assert len(pieces.weights) == 3                      # the states are not weights
    first, second = pieces(x[:, :T]).numpy(), pieces(x[:, T:]).numpy()
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole(x).numpy(), rtol=1e-5, atol=1e-6)
    pieces.reset_states()
    np.testing.assert_allclose(pieces(x[:, :T]).numpy(), first, rtol=1e-6)
    np.testing.assert_allclose(pieces.states[0].numpy(), first[:, -1], rtol=1e-6)
    with pytest.raises(ValueError, match='batch size'):
        pieces(x[:1, :T])


def test_stateful_gradcheck():
    rng = np.random.default_rng(13)
    layer = layers.GRU(U, stateful=True, dtype='float64')
    x = rng.standard_normal((N, T, D))
    layer(Tensor(x))                                      # now the states are not zero
    saved = [s.numpy().copy() for s in layer.states]

    def fn(x):
        layer.reset_states(saved)
        return layer(x)
    gradcheck(fn, x)


def test_stateful_needs_a_batch_size():
    with pytest.raises(ValueError, match='fixed batch size'):
        layers.LSTM(U, stateful=True)(layers.Input((T, D)))


# --- dropout ---------------------------------------------------------------------------------

@pytest.mark.parametrize('kind', ['simple', 'lstm', 'gru'])
@pytest.mark.parametrize('rates', [(0.5, 0.0), (0.0, 0.5), (0.4, 0.3)])
def test_dropout_only_in_training_and_gradcheck(kind, rates):
    rng = np.random.default_rng(14)
    layer = make(kind, dropout=rates[0], recurrent_dropout=rates[1], dtype='float64', seed=3)
    x = rng.standard_normal((N, T, D))
    plain = layer(Tensor(x)).numpy()
    np.testing.assert_array_equal(layer(Tensor(x), training=False).numpy(), plain)
    assert not np.allclose(layer(Tensor(x), training=True).numpy(), plain)
    cell = layer.cell
    masks = {}

    def fixed(x):
        # the same masks at every evaluation, so central differences see one function
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
        if 'd' in masks:
            cell._dropout_mask, cell._recurrent_dropout_mask = masks['d'], masks['r']
            keep = cell.reset_dropout_mask, cell.reset_recurrent_dropout_mask
            cell.reset_dropout_mask = cell.reset_recurrent_dropout_mask = lambda: None
            try:
                return layer(x, training=True)
            finally:
                cell.reset_dropout_mask, cell.reset_recurrent_dropout_mask = keep
        out = layer(x, training=True)
        return out
    cell.get_dropout_mask(Tensor(x[:, 0]))
    cell.get_recurrent_dropout_mask(Tensor(np.zeros((N, U))))
    masks['d'], masks['r'] = cell._dropout_mask, cell._recurrent_dropout_mask
    gradcheck(fixed, x)


def test_dropout_mask_is_the_same_at_every_step():
    """SimpleRNN with an identity kernel, no recurrence and linear activation: output_t = x_t * mask."""
    layer = layers.SimpleRNN(D, dropout=0.5, activation='linear', use_bias=False, return_sequences=True, seed=1)
    layer.build((5, 6, D))
    layer.set_weights([np.eye(D), np.zeros((D, D))])
    x = np.ones((5, 6, D), np.float32)
    out = layer(x, training=True).numpy()
    for t in range(6):
        np.testing.assert_array_equal(out[:, t], out[:, 0])
    assert set(np.unique(out)) <= {0.0, 2.0} and 0 < (out == 0).mean() < 1


def test_errors_name_layer_and_shapes():
    with pytest.raises(ValueError, match='units must be a positive integer'):
        layers.LSTM(0)
    with pytest.raises(ValueError, match=r'\(batch, timesteps, features\)'):
        layers.GRU(U)(np.zeros((N, D), np.float32))
    with pytest.raises(ValueError, match=r'initial_state\[1\] must have shape'):
        layers.LSTM(U)(np.zeros((N, T, D), np.float32), initial_state=[np.zeros((N, U)), np.zeros((N, U + 1))])
    with pytest.raises(ValueError, match='merge_mode'):
        layers.Bidirectional(layers.LSTM(U), merge_mode='max')
    with pytest.raises(ValueError, match='different go_backwards'):
        layers.Bidirectional(layers.LSTM(U), backward_layer=layers.LSTM(U))
    with pytest.raises(ValueError, match='at least 3 dimensions'):
        layers.TimeDistributed(layers.Dense(2))(np.zeros((N, D), np.float32))
