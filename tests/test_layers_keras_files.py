"""The layers of issue 17 in whole-model files: a Keras 3 ``.keras`` file using them loads in minidl
and predicts the same, and minidl's file of the same model loads in Keras 3."""
import numpy as np
import pytest

import minidl
from minidl import layers as L


def _build(lib, augment=True):
    """A functional model over most of the new layers, deterministic at inference."""
    layers = lib.layers
    image = layers.Input((8, 8, 3), name='image')
    vector = layers.Input((6,), name='vector')
    x = layers.Rescaling(1 / 255, offset=-0.5)(image)
    if augment:
        x = layers.RandomFlip('horizontal')(x)
        x = layers.RandomRotation(0.1)(x)
        x = layers.RandomZoom(0.1)(x)
        x = layers.RandomTranslation(0.1, 0.1)(x)
        x = layers.RandomContrast(0.2, value_range=(-0.5, 0.5))(x)
        x = layers.RandomBrightness(0.1, value_range=(-0.5, 0.5))(x)
    x = layers.Resizing(6, 6)(x)
    x = layers.CenterCrop(5, 5)(x)
    x = layers.Conv2D(4, 3, padding='same')(x)
    x = layers.PReLU(shared_axes=[1, 2])(x)
    x = layers.SpatialDropout2D(0.2)(x)
    x = layers.GaussianNoise(0.1)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(6, activation='gelu')(x)
    x = layers.AlphaDropout(0.1)(x)
    v = layers.Normalization(mean=[1.0] * 6, variance=[4.0] * 6)(vector)
    v = layers.Dense(6, activation='hard_swish')(v)
    v = layers.GaussianDropout(0.2)(v)
    merged = [layers.multiply([x, v]), layers.subtract([x, v]), layers.average([x, v]), layers.maximum([x, v]),
              layers.minimum([x, v]), layers.dot([x, v], axes=1, normalize=True)]
    h = layers.concatenate(merged)
    h = layers.Reshape((31, 1))(h)
    h = layers.Permute((2, 1))(h)
    h = layers.Flatten()(h)
    h = layers.ELU(alpha=0.5)(h)
    h = layers.LeakyReLU(0.1)(h)
    h = layers.ReLU(max_value=6.0, threshold=0.1, negative_slope=0.05)(h)
    h = layers.ActivityRegularization(l2=1e-3)(h)
    h = layers.Dropout(0.3, noise_shape=(None, 1))(h)
    h = layers.Identity()(h)
    h = layers.Dense(5, activation='selu')(h)
    out = layers.Softmax()(h)
    return lib.models.Model([image, vector], out)


def _data():
    rng = np.random.default_rng(0)
    return [(rng.random((4, 8, 8, 3)) * 255).astype(np.float32), rng.standard_normal((4, 6)).astype(np.float32)]


@pytest.mark.parametrize('augment', [
    False,
    True,
])
def test_a_keras_file_of_the_new_layers_loads_in_minidl(keras, tmp_path, augment):
    theirs = _build(keras, augment)
    path = str(tmp_path / 'theirs.keras')
    theirs.save(path)
    ours = minidl.models.load_model(path)
    assert ours.count_params() == theirs.count_params()
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    for a, b in zip(ours.layers, theirs.layers):      # the summary's rows: names, output shapes, parameters
        assert a.name == b.name and a.count_params() == b.count_params()
        assert tuple(a.output.shape) == tuple(b.output.shape), a.name
    data = _data()
    np.testing.assert_allclose(ours.predict(data, verbose=0), theirs.predict(data, verbose=0), rtol=1e-5, atol=1e-6)


def test_minidl_file_of_the_new_layers_loads_in_keras(keras, tmp_path):
    ours = _build(minidl)
    path = str(tmp_path / 'ours.keras')
    ours.save(path)
    theirs = keras.models.load_model(path)
    data = _data()
    np.testing.assert_allclose(theirs.predict(data, verbose=0), ours.predict(data, verbose=0), rtol=1e-5, atol=1e-6)
    again = minidl.models.load_model(path)
    np.testing.assert_allclose(again.predict(data, verbose=0), ours.predict(data, verbose=0), rtol=1e-6)


def _normalized_lambda_model(function):
    norm = L.Normalization()
    rng = np.random.default_rng(1)
    norm.adapt(rng.normal(3.0, 2.0, (50, 4)))
    inp = L.Input((4,))
    out = L.Lambda(function)(norm(inp))
    return minidl.models.Model(inp, L.Lambda(minidl.activations.softsign)(out)), \
        rng.standard_normal((3, 4)).astype(np.float32)


def test_adapted_normalization_and_named_lambda_round_trip_through_a_file(tmp_path):
    model, x = _normalized_lambda_model(minidl.activations.gelu)
    path = str(tmp_path / 'named.keras')
    model.save(path)
    loaded = minidl.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_a_python_lambda_loads_from_a_file_with_safe_mode_false(tmp_path):
    model, x = _normalized_lambda_model(lambda t: t * 2.0 + 1.0)
    path = str(tmp_path / 'lambda.keras')
    model.save(path)
    with pytest.raises(ValueError, match='safe_mode=False'):
        minidl.models.load_model(path)
    loaded = minidl.models.load_model(path, safe_mode=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
