"""Whole-model saving: Keras 3's .keras archive both ways (files written by Keras 3 load in minidl
with the same predictions, and minidl's load in Keras 3), Keras 2's full-model .h5, JSON
configs, clone_model, get_config round trips and custom objects."""
import json
import zipfile

import numpy as np
import pytest

import minidl
from minidl import layers, losses, models
from minidl.saving import register_keras_serializable


def _randomise(weights, rng):
    """Random weights, and BatchNorm variances kept positive."""
    return [(rng.random(w.shape) + 0.5).astype(np.float32) for w in weights]


def _keras_functional(keras):
    L = keras.layers
    a, b = keras.Input((4,), name='a'), keras.Input((3,), name='b')
    ids = keras.Input((5,), name='ids', dtype='int32')
    x = L.Concatenate()([a, b, L.Flatten()(L.Embedding(10, 2)(ids))])
    x = L.Dense(6, activation='relu')(x)
    x = L.BatchNormalization()(x)
    return keras.Model([a, b, ids], [L.Dense(2, name='o1')(x), L.Dense(1, activation='sigmoid', name='o2')(x)])


def _minidl_functional():
    a, b = layers.Input((4,), name='a'), layers.Input((3,), name='b')
    ids = layers.Input((5,), name='ids', dtype='int32')
    x = layers.Concatenate()([a, b, layers.Flatten()(layers.Embedding(10, 2)(ids))])
    x = layers.Dense(6, activation='relu')(x)
    x = layers.BatchNormalization()(x)
    return models.Model([a, b, ids], [layers.Dense(2, name='o1')(x), layers.Dense(1, activation='sigmoid', name='o2')(x)])


def _inputs(rng, n=6):
    return [rng.random((n, 4), np.float32), rng.random((n, 3), np.float32), rng.integers(0, 10, (n, 5))]


def _keras_sequential(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(3, 3, activation='relu'), L.MaxPooling2D(),
                             L.BatchNormalization(), L.Flatten(), L.Dropout(0.3), L.Dense(4, activation='softmax')])


def _minidl_sequential():
    return models.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(3, 3, activation='relu'), layers.MaxPooling2D(),
                              layers.BatchNormalization(), layers.Flatten(), layers.Dropout(0.3),
                              layers.Dense(4, activation='softmax')])


def test_keras3_files_load_in_minidl_with_equal_predictions(tmp_path, keras):
    rng = np.random.default_rng(0)
    for build, data in ((_keras_functional, _inputs(rng)), (_keras_sequential, rng.random((3, 6, 6, 1), np.float32))):
        kmodel = build(keras)
        kmodel.set_weights(_randomise(kmodel.get_weights(), rng))
        path = tmp_path / f'{kmodel.name}.keras'
        kmodel.save(str(path))
        model = models.load_model(path, compile=False)
        expected = kmodel.predict(data, verbose=0)
        got = model.predict(data, verbose=0)
        for e, g in zip(expected if isinstance(expected, list) else [expected], got if isinstance(got, list) else [got]):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
        assert model.count_params() == kmodel.count_params()


def test_minidl_files_load_in_keras3_with_equal_predictions(tmp_path, keras):
    rng = np.random.default_rng(1)
    for build, data in ((_minidl_functional, _inputs(rng)), (_minidl_sequential, rng.random((3, 6, 6, 1), np.float32))):
        model = build()
        model.set_weights(_randomise(model.get_weights(), rng))
        path = tmp_path / f'{model.name}.keras'
        model.save(path)
        kmodel = keras.models.load_model(str(path), compile=False)
        expected = model.predict(data, verbose=0)
        got = kmodel.predict(data, verbose=0)
        for e, g in zip(expected if isinstance(expected, list) else [expected], got if isinstance(got, list) else [got]):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_keras_archive_layout_and_round_trip_with_the_optimizer(tmp_path):
    rng = np.random.default_rng(2)
    model = _minidl_functional()
    model.compile('sgd', loss=['mse', 'binary_crossentropy'], metrics=[['mae'], ['accuracy']])
    x = _inputs(rng, 8)
    model.fit(x, [rng.random((8, 2), np.float32), np.ones((8, 1), np.float32)], verbose=0)
    path = tmp_path / 'm.keras'
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ['config.json', 'metadata.json', 'model.weights.h5']
        config = json.loads(zf.read('config.json'))
    assert config['class_name'] == 'Functional' and config['module'] == 'keras.src.models.functional'
    assert config['config']['input_layers'] == [['a', 0, 0], ['b', 0, 0], ['ids', 0, 0]]
    assert 'compile_config' in config
    clone = models.load_model(path)
    for a, b in zip(model.predict(x, verbose=0), clone.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    assert clone.compiled and clone.loss == ['mse', 'binary_crossentropy']


def test_keras2_full_model_h5_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    model = _minidl_sequential()
    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])
    path = tmp_path / 'm.h5'
    model.save(path)
    clone = models.load_model(path)
    x = rng.random((2, 6, 6, 1), np.float32)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_to_json_and_clone_model_rebuild_the_architecture():
    model = _minidl_functional()
    again = models.model_from_json(model.to_json())
    assert [l.name for l in again.layers] == [l.name for l in model.layers]
    assert again.count_params() == model.count_params()
    clone = models.clone_model(model)
    assert clone.count_params() == model.count_params()
    assert not any(np.array_equal(a, b) for a, b in zip(clone.get_weights(), model.get_weights())
                   if a.size > 10 and np.std(a) > 0)


def test_model_checkpoint_default_saves_the_whole_model(tmp_path):
    model = _minidl_sequential()
    model.compile('sgd', 'sparse_categorical_crossentropy')
    rng = np.random.default_rng(4)
    x, y = rng.random((8, 6, 6, 1), np.float32), rng.integers(0, 4, 8)
    path = tmp_path / 'ckpt.keras'
    model.fit(x, y, epochs=2, verbose=0, callbacks=[minidl.callbacks.ModelCheckpoint(path)])
    np.testing.assert_allclose(models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_model_checkpoint_refuses_an_unusable_path_before_training(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        minidl.callbacks.ModelCheckpoint(tmp_path / 'model.bin')
    with pytest.raises(ValueError, match='weights.h5'):
        minidl.callbacks.ModelCheckpoint(tmp_path / 'model.keras', save_weights_only=True)


@register_keras_serializable(package='Tests')
class Doubler(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), 'factor': self.factor}


class Unregistered(Doubler):
    pass


def test_custom_layers_load_when_registered_or_named(tmp_path):
    inputs = layers.Input((2,))
    model = models.Model(inputs, Doubler(3.0)(inputs))
    model.save(tmp_path / 'custom.keras')
    loaded = models.load_model(tmp_path / 'custom.keras')
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2), np.float32), verbose=0), 3.0)

    model = models.Model(inputs, Unregistered(4.0)(inputs))
    model.save(tmp_path / 'plain.keras')
    with pytest.raises(TypeError, match='register_keras_serializable'):
        models.load_model(tmp_path / 'plain.keras')
    loaded = models.load_model(tmp_path / 'plain.keras', custom_objects={'Unregistered': Unregistered})
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2), np.float32), verbose=0), 4.0)


LAYERS = [
    lambda: layers.Dense(3, activation='relu', kernel_regularizer='l2', use_bias=False),
    lambda: layers.Conv2D(4, (3, 2), strides=(2, 1), padding='same', activation='tanh'),
    lambda: layers.Conv1D(4, 3),
    lambda: layers.MaxPooling2D((2, 3), padding='same'),
    lambda: layers.AveragePooling1D(2),
    lambda: layers.GlobalAveragePooling2D(keepdims=True),
    lambda: layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=False),
    lambda: layers.Embedding(10, 3, mask_zero=True),
    lambda: layers.Flatten(),
    lambda: layers.Reshape((2, 3)),
    lambda: layers.Concatenate(axis=1),
    lambda: layers.Add(),
    lambda: layers.UpSampling2D((2, 3)),
    lambda: layers.ZeroPadding2D(((1, 2), (0, 1))),
]


@pytest.mark.parametrize('make', LAYERS)
def test_layer_configs_round_trip_and_match_keras_keys(make, keras):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    kclass = getattr(keras.layers, type(layer).__name__)
    kconfig = kclass.from_config(json.loads(json.dumps(minidl.saving.serialize_keras_object(layer)))['config'])
    expected = kconfig.get_config()
    missing = sorted(set(expected) - set(config) - {'activity_regularizer', 'build_config'})
    assert not missing, f'{type(layer).__name__} lacks Keras config keys {missing}'


def test_damaged_model_files_name_the_users_path(tmp_path):
    model = _minidl_sequential()
    path = tmp_path / 'm.keras'
    model.save(path)
    data = path.read_bytes()
    (tmp_path / 'cut.keras').write_bytes(data[:len(data) // 2])
    with pytest.raises((ValueError, OSError), match='cut.keras'):
        models.load_model(tmp_path / 'cut.keras')
    (tmp_path / 'text.keras').write_text('not a model')
    with pytest.raises(ValueError, match='text.keras'):
        models.load_model(tmp_path / 'text.keras')
    with pytest.raises(ValueError, match=r"'\.keras'"):
        model.save(tmp_path / 'model.pkl')
    with pytest.raises(OSError, match='missing'):
        model.save(tmp_path / 'missing' / 'm.keras')


def test_a_keras_h5_full_model_file_loads(tmp_path, keras):
    kmodel = _keras_sequential(keras)
    rng = np.random.default_rng(5)
    kmodel.set_weights(_randomise(kmodel.get_weights(), rng))
    path = str(tmp_path / 'k.h5')
    kmodel.save(path)  # Keras 3 still writes Keras 2's full-model HDF5 format
    model = models.load_model(path, compile=False)
    x = rng.random((2, 6, 6, 1), np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_model_compiled_with_losses_per_output_name_reloads_compiled(tmp_path):
    """compile(loss={'label': ..., 'score': ...}) is saved as a dict of serialized losses; loading
    recursed forever reading that dict as one serialized loss (found running the README)."""
    image = layers.Input((6,), name='features')
    x = layers.Dense(4, activation='relu')(image)
    model = models.Model(image, {'label': layers.Dense(3, name='label')(x), 'score': layers.Dense(1, name='score')(x)})
    model.compile('adam', loss={'label': 'sparse_categorical_crossentropy', 'score': losses.Huber(delta=0.5)},
                  loss_weights={'label': 1.0, 'score': 0.2}, metrics={'label': ['accuracy']})
    rng = np.random.default_rng(0)
    x_data, y, s = rng.random((8, 6)).astype('float32'), rng.integers(0, 3, 8), rng.random((8, 1)).astype('float32')
    model.fit(x_data, {'label': y, 'score': s}, epochs=1, verbose=0)
    path = str(tmp_path / 'dict_losses.keras')
    model.save(path)
    loaded = models.load_model(path)
    score_loss = loaded.get_compile_config()['loss']['score']
    assert score_loss['class_name'] == 'Huber' and score_loss['config']['delta'] == 0.5
    np.testing.assert_allclose(loaded.evaluate(x_data, {'label': y, 'score': s}, verbose=0),
                               model.evaluate(x_data, {'label': y, 'score': s}, verbose=0), rtol=1e-6)


def _asset_layer_class(base_layer, register):
    @register(package='assets_test')
    class LookupTable(base_layer):
        """A layer whose table lives in an asset file, as in keras-io's saving guide."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.table = None

        def call(self, x):
            return x

        def save_assets(self, inner_path):
            import os
            with open(os.path.join(inner_path, 'table.txt'), 'w') as f:
                f.write('\n'.join(self.table))

        def load_assets(self, inner_path):
            import os
            with open(os.path.join(inner_path, 'table.txt')) as f:
                self.table = f.read().split('\n')
    return LookupTable


def test_save_assets_and_load_assets_round_trip_through_the_archive(tmp_path):
    from minidl.saving import register_keras_serializable as register
    LookupTable = _asset_layer_class(layers.Layer, register)
    layer = LookupTable(name='lookup')
    layer.table = ['cat', 'dog', 'bird']
    model = models.Sequential([layers.Input((2,)), layer])
    path = str(tmp_path / 'assets.keras')
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert 'assets/layers/lookup_table/table.txt' in zf.namelist()
    loaded = models.load_model(path)
    assert loaded.layers[-1].table == ['cat', 'dog', 'bird']


def test_assets_interoperate_with_keras_3(keras, tmp_path):
    LookupTable = _asset_layer_class(keras.layers.Layer, keras.saving.register_keras_serializable)
    theirs = LookupTable(name='lookup')
    theirs.table = ['a', 'b']
    model = keras.Sequential([keras.Input((2,)), theirs])
    path = str(tmp_path / 'keras_assets.keras')
    model.save(path)
    from minidl.saving import register_keras_serializable as register
    _asset_layer_class(layers.Layer, register)
    assert models.load_model(path).layers[-1].table == ['a', 'b']
