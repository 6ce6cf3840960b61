"""Dropout (noise_shape, seed), SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout,
AlphaDropout and ActivityRegularization: identity at inference, the masks' and the noise's
distributions in training, gradients (float64, through a seeded layer so the mask is fixed),
Keras 3's configs, and ActivityRegularization's penalty in training equal to Keras'."""
import math

import numpy as np
import pytest

import minidl
from minidl import layers as L, models, optimizers
from minidl.autograd import Tensor
from minidl.testing import gradcheck


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


NOISE_LAYERS = [
    (L.Dropout, {'rate': 0.3}), (L.Dropout, {'rate': 0.3, 'noise_shape': (None, 1, 4)}),
    (L.Dropout, {'rate': 0.3, 'seed': 5}),
    (L.SpatialDropout1D, {'rate': 0.4}), (L.GaussianNoise, {'stddev': 0.2}), (L.GaussianDropout, {'rate': 0.2}),
    (L.AlphaDropout, {'rate': 0.2}), (L.AlphaDropout, {'rate': 0.2, 'noise_shape': (None, 1, 4)}),
]


@pytest.mark.parametrize('cls, kwargs', NOISE_LAYERS, ids=str)
def test_identity_at_inference_and_gradient_in_training(cls, kwargs):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert cls(**kwargs)(x.astype(np.float32)).numpy().tolist() == x.astype(np.float32).tolist()
    seeded = dict(kwargs, seed=11)
    gradcheck(lambda t: cls(**seeded)(t, training=True), x)  # a fresh layer, same seed: the same mask


def test_dropout_masks_are_seeded_and_fresh_at_every_call():
    x = np.ones((50, 40), np.float32)
    a, b = L.Dropout(0.5, seed=3), L.Dropout(0.5, seed=3)
    first = a(x, training=True).numpy()
    assert np.array_equal(first, b(x, training=True).numpy())
    assert not np.array_equal(first, a(x, training=True).numpy())
    minidl.seed(4)
    unseeded = L.Dropout(0.5, noise_shape=(None, 1))(x, training=True).numpy()
    minidl.seed(4)
    assert np.array_equal(unseeded, L.Dropout(0.5, noise_shape=(None, 1))(x, training=True).numpy())


@pytest.mark.parametrize('noise_shape, shared_axes', [((None, 1, None), (1,)), ((1, None, 1), (0, 2)),
                                                      ((None, None, None), ()), ((10, 1, 6), (1,))])
def test_dropout_noise_shape_shares_the_mask_and_keeps_the_rate(noise_shape, shared_axes):
    x = np.ones((10, 8, 6), np.float32)
    y = L.Dropout(0.25, noise_shape=noise_shape, seed=1)(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    for axis in shared_axes:
        assert np.all(y == y.take([0], axis=axis))
    big = np.ones((400, 3, 50), np.float32)
    frac = (L.Dropout(0.25, noise_shape=(None, 1, None), seed=2)(big, training=True).numpy() == 0).mean()
    assert frac == pytest.approx(0.25, abs=0.02)


def test_dropout_rate_one_and_zero_and_errors():
    x = np.ones((2, 3), np.float32)
    assert L.Dropout(1.0)(x, training=True).numpy().tolist() == [[0.0] * 3] * 2
    assert L.Dropout(0.0)(x, training=True).numpy().tolist() == x.tolist()
    with pytest.raises(ValueError, match=r"'dropout.*' \(Dropout\): rate must be a number in \[0, 1\], got 1.5"):
        L.Dropout(1.5)
    with pytest.raises(ValueError, match=r"Dropout.*noise_shape entries.*entry 1 is 0"):
        L.Dropout(0.5, noise_shape=(None, 0))
    with pytest.raises(ValueError, match=r"Dropout.*noise_shape must be a tuple"):
        L.Dropout(0.5, noise_shape='batch')
    with pytest.raises(ValueError, match=r"Dropout.*noise_shape \(None, 2\) does not broadcast.*\(2, 3\)"):
        L.Dropout(0.5, noise_shape=(None, 2))(x, training=True)
    with pytest.raises(ValueError, match=r"Dropout.*one entry per input axis.*\(2, 3\)"):
        L.Dropout(0.5, noise_shape=(None, 1, 1))(x, training=True)


@pytest.mark.parametrize('cls, shape, data_format, channel_axis', [
    (L.SpatialDropout1D, (30, 7, 20), None, -1), (L.SpatialDropout2D, (30, 5, 4, 20), None, -1),
    (L.SpatialDropout2D, (30, 20, 5, 4), 'channels_first', 1), (L.SpatialDropout3D, (30, 3, 2, 4, 20), None, -1),
    (L.SpatialDropout3D, (30, 20, 3, 2, 4), 'channels_first', 1)])
def test_spatial_dropout_drops_whole_feature_maps(cls, shape, data_format, channel_axis):
    kwargs = {} if data_format is None else {'data_format': data_format}
    y = cls(0.4, seed=6, **kwargs)(np.ones(shape, np.float32), training=True).numpy()
    maps = np.moveaxis(y, channel_axis, 1).reshape(shape[0], shape[channel_axis], -1)
    assert np.all(maps == maps[..., :1])                     # constant over each map
    assert set(np.unique(maps)) <= {0.0, np.float32(1 / 0.6)}
    assert (maps[..., 0] == 0).mean() == pytest.approx(0.4, abs=0.07)


def test_spatial_dropout_rank_and_format_errors():
    with pytest.raises(ValueError, match=r"SpatialDropout2D.*4-D"):
        L.SpatialDropout2D(0.5)(np.ones((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"SpatialDropout2D.*data_format"):
        L.SpatialDropout2D(0.5, data_format='nhwc')


def test_gaussian_noise_and_dropout_distributions():
    x = np.full((200, 100), 2.0, np.float32)
    noise = L.GaussianNoise(0.3, seed=1)(x, training=True).numpy() - x
    assert noise.mean() == pytest.approx(0, abs=0.01) and noise.std() == pytest.approx(0.3, rel=0.02)
    factor = L.GaussianDropout(0.2, seed=2)(x, training=True).numpy() / x
    assert factor.mean() == pytest.approx(1, abs=0.01) and factor.std() == pytest.approx(math.sqrt(0.25), rel=0.02)
    with pytest.raises(ValueError, match=r"GaussianNoise.*stddev must be a number in \[0, 1\]"):
        L.GaussianNoise(-1)
    with pytest.raises(ValueError, match=r"GaussianDropout.*\[0, 1\)"):
        L.GaussianDropout(1.0)


def _alpha_affine(rate):
    alpha_p = -L.AlphaDropout.ALPHA * L.AlphaDropout.SCALE
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    return a, -a * alpha_p * rate, alpha_p


def test_alpha_dropout_values_and_self_normalization(keras):
    import torch
    rate = 0.2
    a, b, alpha_p = _alpha_affine(rate)
    x = np.random.default_rng(3).standard_normal((400, 250)).astype(np.float32)
    ours = L.AlphaDropout(rate, seed=4)(x, training=True).numpy()
    theirs = keras.ops.convert_to_numpy(keras.layers.AlphaDropout(rate, seed=4)(torch.tensor(x), training=True))
    for y in (ours, theirs):
        kept = np.isclose(y, a * x + b, atol=1e-5)
        dropped = np.isclose(y, a * alpha_p + b, atol=1e-5)
        assert np.all(kept | dropped)
        assert dropped.mean() == pytest.approx(rate, abs=0.01)
        assert y.mean() == pytest.approx(0, abs=0.02) and y.std() == pytest.approx(1, abs=0.02)


NEW_LAYER_CONFIGS = [
    ('Dropout', {'rate': 0.3, 'noise_shape': (None, 1), 'seed': 2}), ('SpatialDropout1D', {'rate': 0.1}),
    ('SpatialDropout2D', {'rate': 0.1}), ('SpatialDropout3D', {'rate': 0.1, 'data_format': 'channels_first'}),
    ('GaussianNoise', {'stddev': 0.1, 'seed': 3}), ('GaussianDropout', {'rate': 0.1}),
    ('AlphaDropout', {'rate': 0.1, 'noise_shape': (None, 1)}), ('ActivityRegularization', {'l1': 0.01, 'l2': 0.1}),
]


@pytest.mark.parametrize('cls, kwargs', NEW_LAYER_CONFIGS, ids=str)
def test_configs_equal_keras_and_round_trip(keras, cls, kwargs):
    ours, theirs = getattr(L, cls)(**kwargs), getattr(keras.layers, cls)(**kwargs)
    assert ours.get_config().keys() == theirs.get_config().keys()
    for key, value in theirs.get_config().items():
        if key not in ('name', 'dtype'):
            assert ours.get_config()[key] == value, key
    again = getattr(L, cls).from_config(theirs.get_config())
    assert {k: v for k, v in again.get_config().items() if k != 'name'} == \
        {k: v for k, v in ours.get_config().items() if k != 'name'}


def _regularized_model(lib, l1, l2):
    return lib.models.Sequential([lib.layers.Input((3,)), lib.layers.Dense(4, activation='tanh'),
                                  lib.layers.ActivityRegularization(l1=l1, l2=l2), lib.layers.Dense(1)])


def test_activity_regularization_penalty_trains_as_in_keras(keras):
    """The penalty (l1 sum|h| + l2 sum h^2) / batch joins the loss in training and evaluation, and
    its gradient reaches the weights below: one SGD step equals Keras' step."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    theirs = _regularized_model(keras, 0.05, 0.2)
    ours = _regularized_model(minidl, 0.05, 0.2)
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss='mse')
    ours.compile(optimizer=optimizers.SGD(0.1), loss='mse')
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)
    plain = _regularized_model(minidl, 0.0, 0.0)
    plain.set_weights(theirs.get_weights())
    plain.compile(optimizer=optimizers.SGD(0.1), loss='mse')
    assert plain.evaluate(x, y, verbose=0) < ours.evaluate(x, y, verbose=0)
    ours.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    theirs.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_activity_regularization_penalty_value_and_gradient():
    layer = L.ActivityRegularization(l1=0.1, l2=0.3)
    x = np.random.default_rng(6).standard_normal((4, 3))
    assert layer(x.astype(np.float32)).numpy().tolist() == x.astype(np.float32).tolist()
    (penalty,) = layer.losses
    assert penalty.item() == pytest.approx((0.1 * np.abs(x).sum() + 0.3 * (x ** 2).sum()) / 4, rel=1e-6)

    def fn(t):
        out = layer(t)
        return out * 0.0 + layer.losses[0]
    gradcheck(fn, x)


def test_activity_regularizer_argument_trains_as_in_keras(keras):
    """``activity_regularizer=`` on a layer (the base Layer's) and ActivityRegularization agree with
    Keras 3 over one SGD step."""
    def build(lib):
        return lib.models.Sequential([lib.layers.Input((3,)),
                                      lib.layers.Dense(4, activation='tanh',
                                                       activity_regularizer=lib.regularizers.L1L2(0.02, 0.3)),
                                      lib.layers.Dense(1, activity_regularizer='l2')])
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((6, 1)).astype(np.float32)
    theirs, ours = build(keras), build(minidl)
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss='mse')
    ours.compile(optimizer=optimizers.SGD(0.1), loss='mse')
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)
    ours.fit(x, y, batch_size=6, epochs=1, verbose=0, shuffle=False)
    theirs.fit(x, y, batch_size=6, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
