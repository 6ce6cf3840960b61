"""Masking, RepeatVector, LayerNormalization, GroupNormalization, UnitNormalization: Keras 3 on
the same weights (forward and gradients), configs, masks propagated into the loss, errors."""
import numpy as np
import pytest

import minidl
from minidl import Tensor, layers
from minidl.testing import gradcheck


def compare_single(keras, mine, theirs, x, rng, **kwargs):
    import torch
    theirs.build(x.shape)
    mine.build(x.shape)
    assert [tuple(w.shape) for w in mine.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    mine.set_weights(weights)
    tx = torch.tensor(x, requires_grad=True)
    k_out = theirs(tx, **kwargs)
    mx = Tensor(x, requires_grad=True)
    m_out = mine(mx, **kwargs)
    gy = rng.standard_normal(tuple(m_out.shape)).astype(np.float32)
    (k_out * torch.tensor(gy)).sum().backward()
    (m_out * Tensor(gy)).sum().backward()
    np.testing.assert_allclose(m_out.numpy(), k_out.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    for a, b in zip(mine.trainable_weights, theirs.trainable_weights):
        np.testing.assert_allclose(a.grad.numpy(), b.value.grad.numpy(), rtol=1e-4, atol=1e-4)
    mine_config, their_config = mine.get_config(), theirs.get_config()
    assert list(mine_config) == list(their_config)
    for key, value in their_config.items():
        if key not in ('name', 'dtype'):
            assert mine_config[key] == value, key
    return m_out


@pytest.mark.parametrize('kw,shape', [(dict(), (2, 3, 4)), (dict(axis=[1, 2]), (2, 3, 4)),
                                      (dict(center=False, epsilon=1e-5), (3, 5)), (dict(scale=False), (2, 3, 4))])
def test_layer_normalization_equals_keras(keras, kw, shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    compare_single(keras, layers.LayerNormalization(**kw), keras.layers.LayerNormalization(**kw), x, rng)


@pytest.mark.parametrize('kw,shape', [(dict(groups=2), (2, 3, 4)), (dict(groups=-1), (2, 3, 4)),
                                      (dict(groups=3, axis=1, center=False), (2, 6, 2, 2))])
def test_group_normalization_equals_keras(keras, kw, shape):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    compare_single(keras, layers.GroupNormalization(**kw), keras.layers.GroupNormalization(**kw), x, rng)


@pytest.mark.parametrize('axis', [-1, [1, 2]])
def test_unit_normalization_equals_keras(keras, axis):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    compare_single(keras, layers.UnitNormalization(axis=axis), keras.layers.UnitNormalization(axis=axis), x, rng)


def test_normalization_layers_gradcheck_float64():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4))
    for layer in (layers.LayerNormalization(axis=[1, 2], dtype='float64'),
                  layers.GroupNormalization(groups=2, dtype='float64')):
        layer.build(x.shape)
        layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
        gamma, beta = (Tensor(w.numpy(), requires_grad=True) for w in layer.weights)

        def fn(x, g, b, layer=layer):
            saved = layer.gamma, layer.beta
            object.__setattr__(layer, 'gamma', g)
            object.__setattr__(layer, 'beta', b)
            try:
                return layer(x)
            finally:
                object.__setattr__(layer, 'gamma', saved[0])
                object.__setattr__(layer, 'beta', saved[1])
        gradcheck(fn, x, gamma, beta)
    gradcheck(lambda x: layers.UnitNormalization(dtype='float64')(x), x)


def test_normalization_keeps_masks_and_rejects_bad_arguments():
    x = Tensor(np.ones((2, 3, 4), np.float32))
    x._keras_mask = np.array([[True, True, False], [True, False, False]])
    for layer in (layers.LayerNormalization(), layers.UnitNormalization(), layers.GroupNormalization(2)):
        np.testing.assert_array_equal(layer(x)._keras_mask, x._keras_mask)
    with pytest.raises(ValueError, match='cannot be split into 3 equal groups'):
        layers.GroupNormalization(groups=3)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match='groups must be a positive integer'):
        layers.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match='out of bounds'):
        layers.LayerNormalization(axis=3)(np.zeros((2, 4), np.float32))


def test_masking_equals_keras_and_sets_the_mask(keras):
    x = np.array([[[1, 2], [0, 0], [3, 0]], [[0, 0], [0, 0], [5, 5]]], np.float32)
    mine = layers.Masking()(Tensor(x))
    theirs = keras.layers.Masking()(x)
    np.testing.assert_array_equal(mine.numpy(), keras.ops.convert_to_numpy(theirs))
    np.testing.assert_array_equal(mine._keras_mask, [[True, False, True], [False, False, True]])
    x2 = x.copy()
    x2[0, 2] = [-1, -1]
    np.testing.assert_array_equal(layers.Masking(mask_value=-1.0)(Tensor(x2))._keras_mask,
                                  [[True, True, False], [True, True, True]])
    assert list(layers.Masking().get_config()) == list(keras.layers.Masking().get_config())


def test_masking_gradcheck():
    """Masking zeroes masked steps (as Keras' where(mask, x, 0)): the gradient is the identity on
    kept steps (gradient-checked in float64 where the layer is smooth, away from mask_value) and
    zero on masked ones."""
    rng = np.random.default_rng(6)
    gradcheck(lambda x: layers.Masking(mask_value=-1.0, dtype='float64')(x), rng.standard_normal((2, 3, 2)))
    x = Tensor(np.array([[[1.0, 2.0], [-1.0, -1.0], [-1.0, 3.0]]]), requires_grad=True)
    g = rng.standard_normal((1, 3, 2))
    (layers.Masking(mask_value=-1.0, dtype='float64')(x) * Tensor(g)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), g * np.array([1.0, 0.0, 1.0])[None, :, None])


def test_masking_skips_steps_in_an_lstm_like_keras(keras):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    x[0, 3:] = 0
    x[1, :2] = 0
    mine_lstm, their_lstm = layers.LSTM(4, return_sequences=True), keras.layers.LSTM(4, return_sequences=True)
    their_lstm.build((2, 5, 3))
    mine_lstm.build((2, 5, 3))
    mine_lstm.set_weights(their_lstm.get_weights())
    mine = mine_lstm(layers.Masking()(Tensor(x)))
    theirs = their_lstm(keras.layers.Masking()(x))
    np.testing.assert_allclose(mine.numpy(), keras.ops.convert_to_numpy(theirs), rtol=1e-5, atol=1e-6)


def test_repeat_vector_equals_keras_and_gradcheck(keras):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = layers.RepeatVector(4)(Tensor(x))
    np.testing.assert_array_equal(out.numpy(), keras.ops.convert_to_numpy(keras.layers.RepeatVector(4)(x)))
    assert layers.RepeatVector(4)(layers.Input((3,))).shape == (None, 4, 3)
    gradcheck(lambda x: layers.RepeatVector(3)(x), np.random.default_rng(5).standard_normal((2, 3)))
    assert list(layers.RepeatVector(2).get_config()) == list(keras.layers.RepeatVector(2).get_config())
    with pytest.raises(ValueError, match='positive integer'):
        layers.RepeatVector(0)
    with pytest.raises(ValueError, match=r'expects \(batch, features\) inputs'):
        layers.RepeatVector(2)(np.zeros((2, 3, 4), np.float32))


def test_sequence_to_sequence_model_masks_reach_the_loss(keras):
    """Masking -> LSTM(return_sequences) -> TimeDistributed(Dense): the padded steps are left out
    of the loss and of the metric, so evaluate() equals Keras' on the same weights."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    x[0, 4:] = 0
    x[2, 2:] = 0
    y = rng.standard_normal((4, 6, 2)).astype(np.float32)

    def build(L, I, M):
        i = I((6, 3))
        h = L.LSTM(5, return_sequences=True)(L.Masking()(i))
        return M(i, L.TimeDistributed(L.Dense(2))(h))
    mine, theirs = build(layers, layers.Input, minidl.Model), build(keras.layers, keras.Input, keras.Model)
    mine.set_weights(theirs.get_weights())
    mine.compile(loss='mse', metrics=['mae'])
    theirs.compile(loss='mse', metrics=['mae'])
    # the loss and the metric both leave the padded steps out (MeanMetricWrapper reads the mask too)
    np.testing.assert_allclose(mine.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    unmasked = np.abs(mine.predict(x, verbose=0) - y).mean()
    assert abs(mine.evaluate(x, y, verbose=0)[1] - unmasked) > 1e-4
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_keras_files_interoperate_both_ways(keras, tmp_path):
    """A model of recurrent, attention and normalization layers saved by Keras 3 loads in minidl
    with the same predictions, and the other way round."""
    rng = np.random.default_rng(7)

    def build(L, I, M):
        x = I((7,), dtype='int32')
        h = L.Embedding(50, 8)(x)
        h = L.Bidirectional(L.LSTM(6, return_sequences=True))(h)
        h = L.GRU(5, return_sequences=True, reset_after=False)(h)
        h = L.TimeDistributed(L.Dense(5))(h)
        a = L.MultiHeadAttention(2, 4)(h, h)
        h = L.LayerNormalization()(L.Add()([h, a]))
        s = L.SimpleRNN(4)(h)
        return M(x, L.Dense(1)(s))
    x = rng.integers(0, 50, (3, 7))
    theirs = build(keras.layers, keras.Input, keras.Model)
    theirs.save(str(tmp_path / 'k.keras'))
    mine = minidl.saving.load_model(str(tmp_path / 'k.keras'))
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours = build(layers, layers.Input, minidl.Model)
    ours.save(str(tmp_path / 'm.keras'))
    back = keras.models.load_model(str(tmp_path / 'm.keras'))
    np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
