"""MultiHeadAttention, Attention and AdditiveAttention: Keras 3 on the same weights (forward,
attention scores and gradients, with query/value masks, attention masks, causal masks and
several attention axes), float64 gradient checks, configs, shapes and errors."""
import numpy as np
import pytest

import minidl
from minidl import Tensor, layers
from minidl.testing import gradcheck


def _torch_masked(torch, array, mask):
    t = torch.tensor(array, requires_grad=True)
    if mask is not None:
        t._keras_mask = torch.tensor(mask)
    return t


def compare(keras, mine, theirs, arrays, masks=None, list_input=False, rng=None, **kwargs):
    """Forward and gradients (inputs and weights) of ``mine`` and ``theirs`` on the same weights."""
    import torch
    masks = masks or [None] * len(arrays)
    tk = [_torch_masked(torch, a, m) for a, m in zip(arrays, masks)]
    tkw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    k_out = theirs(tk, **tkw) if list_input else theirs(*tk, **tkw)
    mine_in = [Tensor(a, requires_grad=True) for a in arrays]
    for t, m in zip(mine_in, masks):
        if m is not None:
            t._keras_mask = m
    probe = mine(mine_in, **kwargs) if list_input else mine(*mine_in, **kwargs)
    assert [tuple(w.shape) for w in mine.weights] == [tuple(w.shape) for w in theirs.weights]
    mine.set_weights(theirs.get_weights())
    tk = [_torch_masked(torch, a, m) for a, m in zip(arrays, masks)]   # Keras' MHA clears its inputs' masks
    k_out = theirs(tk, **tkw) if list_input else theirs(*tk, **tkw)
    m_out = mine(mine_in, **kwargs) if list_input else mine(*mine_in, **kwargs)
    k_out = list(k_out) if isinstance(k_out, tuple) else [k_out]
    m_out = list(m_out) if isinstance(m_out, tuple) else [m_out]
    gys = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in m_out]
    sum((o * torch.tensor(g)).sum() for o, g in zip(k_out, gys)).backward()
    total = None
    for o, g in zip(m_out, gys):
        term = (o * Tensor(g)).sum()
        total = term if total is None else total + term
    total.backward()
    for a, b in zip(m_out, k_out):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=2e-6)
    for a, b in zip(mine_in, tk):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    for a, b in zip(mine.trainable_weights, theirs.trainable_weights):
        np.testing.assert_allclose(a.grad.numpy(), b.value.grad.numpy(), rtol=1e-4, atol=1e-5)
    del probe
    return m_out


def seq_mask(n, t, cut):
    mask = np.ones((n, t), bool)
    mask[0, cut:] = False
    return mask


@pytest.mark.parametrize('case', ['self', 'cross_key', 'value_dim_output_shape', 'no_bias'])
def test_multi_head_attention_equals_keras(keras, case):
    rng = np.random.default_rng(0)
    kw = dict(num_heads=2, key_dim=3)
    q = rng.standard_normal((2, 5, 6)).astype(np.float32)
    args = [q, q]
    if case == 'cross_key':
        args = [q, rng.standard_normal((2, 4, 7)).astype(np.float32), rng.standard_normal((2, 4, 5)).astype(np.float32)]
    if case == 'value_dim_output_shape':
        kw.update(value_dim=4, output_shape=8)
        args = [q, rng.standard_normal((2, 3, 5)).astype(np.float32)]
    if case == 'no_bias':
        kw.update(use_bias=False)
    compare(keras, layers.MultiHeadAttention(**kw), keras.layers.MultiHeadAttention(**kw), args, rng=rng,
            return_attention_scores=True)


def test_multi_head_attention_masks_equal_keras(keras):
    rng = np.random.default_rng(1)
    q = rng.standard_normal((2, 5, 6)).astype(np.float32)
    v = rng.standard_normal((2, 4, 6)).astype(np.float32)
    attention_mask = rng.random((2, 5, 4)) > 0.3
    attention_mask[..., 0] = True
    compare(keras, layers.MultiHeadAttention(2, 3), keras.layers.MultiHeadAttention(2, 3), [q, v],
            masks=[None, seq_mask(2, 4, 2)], rng=rng, attention_mask=attention_mask, return_attention_scores=True)
    compare(keras, layers.MultiHeadAttention(2, 3), keras.layers.MultiHeadAttention(2, 3), [q, q], rng=rng,
            use_causal_mask=True, return_attention_scores=True)


def test_multi_head_attention_query_mask_on_padded_rows(keras):
    """A padded query row attends to nothing: its probabilities are 0, as in Keras."""
    rng = np.random.default_rng(2)
    q = rng.standard_normal((2, 5, 6)).astype(np.float32)
    mask = seq_mask(2, 5, 3)
    out, scores = compare(keras, layers.MultiHeadAttention(2, 3), keras.layers.MultiHeadAttention(2, 3), [q, q],
                          masks=[mask, mask], rng=rng, return_attention_scores=True)
    np.testing.assert_array_equal(scores.numpy()[0, :, 3:], 0)
    np.testing.assert_array_equal(out._keras_mask, mask)


@pytest.mark.parametrize('axes,shape,out', [((1, 2), (2, 3, 4, 6), (4, 5)), ((2,), (2, 3, 4, 6), None)])
def test_multi_head_attention_over_several_axes_equals_keras(keras, axes, shape, out):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    kw = dict(num_heads=2, key_dim=3, attention_axes=axes, output_shape=out)
    compare(keras, layers.MultiHeadAttention(**kw), keras.layers.MultiHeadAttention(**kw), [x, x], rng=rng,
            return_attention_scores=True)


def test_multi_head_attention_gradcheck_float64():
    rng = np.random.default_rng(4)
    layer = layers.MultiHeadAttention(2, 2, value_dim=3, dtype='float64')
    q, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    layer(Tensor(q), Tensor(v))
    mask = rng.random((2, 3, 4)) > 0.3
    mask[..., 0] = True
    gradcheck(lambda q, v: layer(q, v, attention_mask=mask), q, v)
    causal = layers.MultiHeadAttention(2, 2, dtype='float64')
    gradcheck(lambda q: causal(q, q, use_causal_mask=True), rng.standard_normal((2, 3, 4)))


def test_multi_head_attention_dropout_only_in_training():
    rng = np.random.default_rng(5)
    layer = layers.MultiHeadAttention(2, 3, dropout=0.5, seed=0)
    q = rng.standard_normal((2, 5, 6)).astype(np.float32)
    plain = layer(q, q).numpy()
    np.testing.assert_array_equal(layer(q, q, training=False).numpy(), plain)
    assert not np.allclose(layer(q, q, training=True).numpy(), plain)


def test_multi_head_attention_config_shapes_and_errors(keras):
    mine, theirs = layers.MultiHeadAttention(4, 8, dropout=0.1), keras.layers.MultiHeadAttention(4, 8, dropout=0.1)
    assert list(mine.get_config()) == list(theirs.get_config())
    for key, value in theirs.get_config().items():
        if key not in ('name', 'dtype'):
            assert mine.get_config()[key] == value, key
    clone = layers.MultiHeadAttention.from_config(mine.get_config())
    assert clone.get_config()['num_heads'] == 4
    q = layers.Input((5, 6))
    v = layers.Input((3, 7))
    assert layers.MultiHeadAttention(2, 3)(q, v).shape == (None, 5, 6)
    with pytest.raises(ValueError, match='num_heads must be a positive integer'):
        layers.MultiHeadAttention(0, 3)
    with pytest.raises(ValueError, match='agree on every axis but the last'):
        layers.MultiHeadAttention(2, 3)(np.zeros((2, 5, 6), np.float32), np.zeros((2, 3, 6), np.float32),
                                        np.zeros((2, 4, 6), np.float32))


def test_multi_head_attention_symbolic_scores():
    q = layers.Input((5, 6))
    v = layers.Input((3, 7))
    out, scores = layers.MultiHeadAttention(2, 3, output_shape=4)(q, v, return_attention_scores=True)
    assert out.shape == (None, 5, 4) and scores.shape == (None, 2, 5, 3)


@pytest.mark.parametrize('kw', [dict(), dict(use_scale=True), dict(score_mode='concat'),
                                dict(score_mode='concat', use_scale=True)])
def test_attention_equals_keras(keras, kw):
    rng = np.random.default_rng(6)
    q, v, k = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 4)))
    compare(keras, layers.Attention(**kw), keras.layers.Attention(**kw), [q, v, k], masks=[seq_mask(2, 3, 2),
            seq_mask(2, 5, 3), None], list_input=True, rng=rng, return_attention_scores=True)
    compare(keras, layers.Attention(**kw), keras.layers.Attention(**kw), [q, q], list_input=True, rng=rng,
            use_causal_mask=True)


@pytest.mark.parametrize('use_scale', [True, False])
def test_additive_attention_equals_keras(keras, use_scale):
    rng = np.random.default_rng(7)
    q, v = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 5, 4)).astype(np.float32)
    compare(keras, layers.AdditiveAttention(use_scale=use_scale), keras.layers.AdditiveAttention(use_scale=use_scale),
            [q, v], masks=[None, seq_mask(2, 5, 2)], list_input=True, rng=rng, return_attention_scores=True)


def test_dense_attention_gradcheck_float64():
    rng = np.random.default_rng(8)
    q, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    for layer in (layers.Attention(use_scale=True, dtype='float64'), layers.AdditiveAttention(dtype='float64'),
                  layers.Attention(score_mode='concat', dtype='float64')):
        layer([Tensor(q), Tensor(v)])
        params = [Tensor(w.numpy(), requires_grad=True) for w in layer.weights]
        names = [w.name for w in layer.weights]

        def fn(q, v, *p, layer=layer, names=names):
            saved = {n: getattr(layer, n) for n in names}
            try:
                for n, t in zip(names, p):
                    object.__setattr__(layer, n, t)
                return layer([q, v], mask=[None, seq_mask(2, 5, 3)])
            finally:
                for n, t in saved.items():
                    object.__setattr__(layer, n, t)
        gradcheck(fn, q, v, *params)


def test_dense_attention_configs_and_errors(keras):
    for name in ('Attention', 'AdditiveAttention'):
        assert list(getattr(layers, name)().get_config()) == list(getattr(keras.layers, name)().get_config())
    with pytest.raises(ValueError, match=r'list \[query, value\]'):
        layers.Attention()(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        layers.Attention(score_mode='general')


def test_transformer_block_trains():
    """A one-block Transformer classifier (the IMDB example's model) learns a toy task."""
    minidl.seed(0)
    rng = np.random.default_rng(9)
    x = rng.integers(1, 20, (64, 8))
    y = (x == 3).any(axis=1).astype(np.float32)
    inputs = layers.Input((8,), dtype='int32')
    h = layers.Embedding(20, 16)(inputs)
    a = layers.MultiHeadAttention(2, 8)(h, h)
    h = layers.LayerNormalization()(h + a)
    f = layers.Dense(16)(layers.Dense(32, activation='relu')(h))
    h = layers.LayerNormalization()(h + f)
    out = layers.Dense(1, activation='sigmoid')(layers.GlobalAveragePooling1D()(h))
    model = minidl.Model(inputs, out)
    model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history['loss'][-1] < history.history['loss'][0] * 0.7
