"""save_weights / load_weights: bit-exact round trips in both HDF5 layouts, atomic writes,
mismatch errors that name the layer, and files in Keras 3's '.weights.h5' layout (written by
hand here, and by Keras itself when it is installed)."""
import os

import numpy as np
import pytest

from minidl import layers as L
from minidl.models import Model, Sequential

h5py = pytest.importorskip('h5py')


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def _conv_net():
    return Sequential([
        L.Conv2D(4, 3, padding='same', activation='relu', input_shape=(8, 8, 2)),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(5, activation='relu'),
        L.Dense(3),
    ])


def _scramble(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])


@pytest.mark.parametrize('filename', ['w.h5', 'w.weights.h5'])
def test_round_trip_is_bit_exact(tmp_path, filename):
    source, target = _conv_net(), _conv_net()
    _scramble(source, 1)
    path = tmp_path / filename
    source.save_weights(path)
    target.load_weights(path)
    for a, b in zip(source.get_weights(), target.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    x = np.random.default_rng(2).standard_normal((2, 8, 8, 2)).astype(np.float32)
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())
    assert os.listdir(tmp_path) == [filename]  # no temporary file left behind


def test_keras2_layout_has_layer_and_weight_names(tmp_path):
    model = _conv_net()
    path = tmp_path / 'w.h5'
    model.save_weights(path)
    with h5py.File(path, 'r') as f:
        names = [n.decode() for n in f.attrs['layer_names']]
        assert names == [layer.name for layer in model.layers]
        assert [n.decode() for n in f['batch_normalization'].attrs['weight_names']] == [
            'batch_normalization/gamma:0', 'batch_normalization/beta:0',
            'batch_normalization/moving_mean:0', 'batch_normalization/moving_variance:0']


def test_keras3_layout_paths(tmp_path):
    model = _conv_net()
    path = tmp_path / 'w.weights.h5'
    model.save_weights(path)
    with h5py.File(path, 'r') as f:
        assert f['layers/conv2d/vars/0'].shape == (3, 3, 2, 4)
        assert f['layers/batch_normalization/vars/3'].shape == (4,)
        assert f['layers/dense_1/vars/1'].shape == (3,)
        assert len(f['layers/flatten/vars']) == 0


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model = _conv_net()
    path = tmp_path / 'w.h5'
    model.save_weights(path)
    before = path.read_bytes()
    from minidl.saving import h5_weights as saving

    def broken(f, model):
        raise RuntimeError('disk full')
    monkeypatch.setattr(saving, 'write_keras2', broken)
    with pytest.raises(RuntimeError, match='disk full'):
        model.save_weights(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ['w.h5']


def test_overwrite_false_refuses_to_replace(tmp_path):
    model = _conv_net()
    model.save_weights(tmp_path / 'w.h5')
    with pytest.raises(FileExistsError):
        model.save_weights(tmp_path / 'w.h5', overwrite=False)


def test_mismatched_architecture_names_the_layer_and_shapes_and_changes_nothing(tmp_path):
    _conv_net().save_weights(tmp_path / 'w.h5')
    other = Sequential([
        L.Conv2D(4, 3, padding='same', input_shape=(8, 8, 2)),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(6),
        L.Dense(3),
    ])
    before = other.get_weights()
    message = r"Layer 'dense_2' \(Dense\): weight 'dense_2/kernel' has shape \(64, 6\).*layer 'dense'.*\(64, 5\)"
    with pytest.raises(ValueError, match=message):
        other.load_weights(tmp_path / 'w.h5')
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    small = Sequential([L.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match=r'4 layer\(s\).*1 layer\(s\) with weights'):
        small.load_weights(tmp_path / 'w.h5')


def test_missing_file_and_non_keras_file(tmp_path):
    model = _conv_net()
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / 'none.h5')
    with h5py.File(tmp_path / 'other.h5', 'w') as f:
        f['x'] = np.zeros(3)
    with pytest.raises(ValueError, match='holds no Keras weights'):
        model.load_weights(tmp_path / 'other.h5')


def test_loads_a_hand_written_keras3_file_with_a_nested_functional_model(tmp_path):
    """The layout Keras 3 writes for Sequential([Input, Functional(base), Dense]): root 'vars',
    'layers/functional/layers/dense/vars/0..1', BN variables in the order gamma, beta, mean, var."""
    rng = np.random.default_rng(0)
    values = {
        'layers/functional/layers/dense/vars': [rng.standard_normal((3, 4)), rng.standard_normal(4)],
        'layers/functional/layers/batch_normalization/vars': [
            rng.random(4) + 0.5, rng.standard_normal(4), rng.standard_normal(4), rng.random(4) + 0.5],
        'layers/dense/vars': [rng.standard_normal((4, 2)), rng.standard_normal(2)],
    }
    path = tmp_path / 'keras.weights.h5'
    with h5py.File(path, 'w') as f:
        f.create_group('vars')
        f.create_group('layers/functional/vars')
        f.create_group('layers/functional/layers/input_layer/vars')
        f.create_group('optimizer/vars').create_dataset('0', data=np.array(3))
        for key, arrays in values.items():
            group = f.require_group(key)
            for i, a in enumerate(arrays):
                group.create_dataset(str(i), data=a.astype(np.float32))
    x = L.Input((3,))
    base = Model(x, L.BatchNormalization()(L.Dense(4)(x)))
    model = Sequential([L.InputLayer((3,)), base, L.Dense(2)])
    model.load_weights(path)
    expected = values['layers/functional/layers/dense/vars'] + values[
        'layers/functional/layers/batch_normalization/vars'] + values['layers/dense/vars']
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(got, want.astype(np.float32))


def test_keras3_file_with_missing_layer_group_is_reported(tmp_path):
    path = tmp_path / 'keras.weights.h5'
    with h5py.File(path, 'w') as f:
        f.create_group('vars')
        f.create_group('layers/dense/vars').create_dataset('0', data=np.zeros((3, 2), np.float32))
    model = Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match=r"Layer 'dense' \(Dense\) has 2 weight.*holds 1"):
        model.load_weights(path)
    model2 = Sequential([L.Conv2D(2, 3, input_shape=(5, 5, 1))])
    with pytest.raises(ValueError, match="no group 'layers/conv2d/vars' for layer 'conv2d'"):
        model2.load_weights(path)


def _keras_and_minidl_pair(keras):
    kin = keras.Input((6, 6, 1))
    kh = keras.layers.Conv2D(3, 3, activation='relu')(kin)
    kh = keras.layers.BatchNormalization()(kh)
    kh = keras.layers.Flatten()(kh)
    kmodel = keras.Model(kin, keras.layers.Dense(2)(keras.layers.Dense(4)(kh)))
    x_in = L.Input((6, 6, 1))
    h = L.Flatten()(L.BatchNormalization()(L.Conv2D(3, 3, activation='relu')(x_in)))
    return kmodel, Model(x_in, L.Dense(2)(L.Dense(4)(h)))


def test_loads_weights_saved_by_keras(tmp_path):
    keras = pytest.importorskip('keras')
    kmodel, model = _keras_and_minidl_pair(keras)
    rng = np.random.default_rng(0)
    kmodel.set_weights([(rng.random(w.shape) + 0.5).astype(np.float32) for w in kmodel.get_weights()])
    kmodel.save_weights(str(tmp_path / 'k.weights.h5'))
    model.load_weights(tmp_path / 'k.weights.h5')
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = rng.standard_normal((2, 6, 6, 1)).astype(np.float32)
    np.testing.assert_allclose(model(x).numpy(), keras.ops.convert_to_numpy(kmodel(x)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('filename', ['m.weights.h5', 'm.h5'])
def test_keras_loads_weights_saved_by_minidl(tmp_path, filename):
    keras = pytest.importorskip('keras')
    kmodel, model = _keras_and_minidl_pair(keras)
    _scramble(model, 3)
    model.save_weights(tmp_path / filename)
    kmodel.load_weights(str(tmp_path / filename))
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(a, b)
