"""The one HDF5 weights loader on every Keras layout: Keras 2 weights files (chunked name lists,
'/' in layer names, nested models), the legacy application files (old weight names, weights
listed in another order), Keras 2 full-model files (model_weights), Keras 3 .weights.h5 and
.keras archives; load_weights(by_name=..., skip_mismatch=...) as Keras does."""
import warnings

import numpy as np
import pytest

from minidl import layers as L
from minidl.models import Model, Sequential
from minidl.saving import h5_weights, h5io

h5py = pytest.importorskip('h5py')


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def _scramble(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.random(w.shape) + 0.5).astype(np.float32) for w in model.get_weights()])


def _vgg_block():
    return Sequential([L.Conv2D(3, 3, padding='same', input_shape=(6, 6, 2), name='block1_conv1'),
                       L.BatchNormalization(name='bn_conv1'), L.Flatten(name='flatten'),
                       L.Dense(4, name='predictions')])


def _write_legacy(path, arrays, order=None):
    """The layout of the official application releases: layer groups with old weight names."""
    names = {'block1_conv1': ['block1_conv1_W_1:0', 'block1_conv1_b_1:0'],
             'bn_conv1': ['bn_conv1_gamma:0', 'bn_conv1_beta:0', 'bn_conv1_running_mean:0', 'bn_conv1_running_std:0'],
             'predictions': ['predictions_W_1:0', 'predictions_b_1:0']}
    with h5py.File(path, 'w') as f:
        f.attrs['layer_names'] = [b'input_1', b'block1_conv1', b'bn_conv1', b'flatten', b'predictions']
        f.create_group('input_1').attrs['weight_names'] = np.array([], dtype='S1')
        f.create_group('flatten').attrs['weight_names'] = np.array([], dtype='S1')
        k = 0
        for layer, weight_names in names.items():
            values = arrays[k:k + len(weight_names)]
            k += len(weight_names)
            listed = list(range(len(weight_names)))
            if order and layer in order:
                listed = order[layer]
            g = f.create_group(layer)
            g.attrs['weight_names'] = [weight_names[i].encode() for i in listed]
            for i in listed:
                g.create_dataset(weight_names[i], data=values[i])


def test_legacy_application_file_with_old_weight_names(tmp_path):
    source, target = _vgg_block(), _vgg_block()
    _scramble(source, 1)
    arrays = source.get_weights()
    _write_legacy(tmp_path / 'legacy.h5', arrays)
    target.load_weights(tmp_path / 'legacy.h5')
    for a, b in zip(arrays, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_legacy_file_listing_weights_in_another_order_is_matched_by_name(tmp_path):
    """BN statistics listed before gamma/beta and the bias before the kernel: by position the
    shapes of gamma and running_mean agree, so only matching by name loads the right values."""
    source, target = _vgg_block(), _vgg_block()
    _scramble(source, 2)
    arrays = source.get_weights()
    _write_legacy(tmp_path / 'shuffled.h5', arrays, order={'bn_conv1': [2, 3, 0, 1], 'block1_conv1': [1, 0]})
    target.load_weights(tmp_path / 'shuffled.h5')
    for a, b in zip(arrays, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_chunked_layer_names_and_slashes_in_layer_names(tmp_path):
    """Keras splits 'layer_names' into layer_names0, layer_names1, ... past 64 KB; DenseNet's
    Keras 2 layer names ('conv1/conv') make nested groups. Keras 3 (and minidl) forbid '/' in
    names, so the file is rewritten with h5py the way Keras 2 wrote it."""
    def build():
        return Sequential([L.Dense(3, input_shape=(2,), name='conv1_conv'),
                           L.BatchNormalization(name='conv1_bn'), L.Dense(2, name='fc')])
    model = build()
    _scramble(model, 3)
    path = tmp_path / 'chunked.h5'
    model.save_weights(path)
    renamed = {'conv1_conv': 'conv1/conv', 'conv1_bn': 'conv1/bn', 'fc': 'fc'}
    with h5py.File(path, 'a') as f:
        for old, new in renamed.items():
            if old == new:
                continue
            group = f[old]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs['weight_names']]
            target = f.require_group(new)
            new_names = [n.replace(old, new, 1) for n in names]
            for name, new_name in zip(names, new_names):
                target.create_dataset(new_name, data=group[name][()])
            target.attrs['weight_names'] = np.array([n.encode() for n in new_names])
            del f[old]
        del f.attrs['layer_names']
        names = np.array([renamed[n].encode() for n in ('conv1_conv', 'conv1_bn', 'fc')])
        f.attrs['layer_names0'] = names[:2]
        f.attrs['layer_names1'] = names[2:]
        assert 'conv' in f['conv1'] and 'bn' in f['conv1']
    L.clear_session()
    other = build()
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_long_name_lists_are_written_in_chunks_and_read_back(tmp_path):
    names = [f'layer_with_a_long_name_{i:05d}' for i in range(3000)]
    data = h5io.build_image(lambda f: h5io.write_string_list(f, 'layer_names', names))
    with h5io.open_file(bytes(data), 'mem') as f:
        assert 'layer_names' not in f.attrs and 'layer_names0' in f.attrs
        assert h5io.string_list(f, 'layer_names', 'mem') == names


def _base():
    """Dense, BN, Dense: Keras 2 order (trainable first) puts BN's statistics after the last kernel."""
    x = L.Input((3,))
    return Model(x, L.Dense(4)(L.BatchNormalization()(L.Dense(4)(x))), name='base')


def test_nested_model_round_trips_in_both_layouts_and_frozen_order_is_stable(tmp_path):
    for filename in ('n.h5', 'n.weights.h5'):
        L.clear_session()
        source = Sequential([L.InputLayer((3,)), _base(), L.Dense(2)])
        _scramble(source, 4)
        source.save_weights(tmp_path / filename)
        L.clear_session()
        base = _base()
        base.trainable = False  # a frozen backbone (as in transfer learning) loads the same file
        target = Sequential([L.InputLayer((3,)), base, L.Dense(2)])
        target.load_weights(tmp_path / filename)
        for a, b in zip(source.get_weights(), target.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_keras2_full_model_file_reads_model_weights(tmp_path):
    source, target = _vgg_block(), _vgg_block()
    _scramble(source, 5)
    inner = h5io.build_image(lambda f: h5_weights.write_keras2(f.create_group('model_weights'), source))
    path = tmp_path / 'full.h5'
    path.write_bytes(bytes(inner))
    with h5py.File(path, 'a') as f:
        f.attrs['model_config'] = b'{"class_name": "Sequential"}'
    target.load_weights(path)
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


def _pair(name_last='predictions', units=4):
    L.clear_session()
    return Sequential([L.Dense(3, input_shape=(2,), name='hidden'), L.Dense(units, name=name_last)])


def test_by_name_loads_matching_layers_only(tmp_path):
    source = Sequential([L.Dense(3, input_shape=(2,), name='hidden'), L.Dense(5, name='extra'),
                         L.Dense(4, name='predictions')])
    _scramble(source, 6)
    source.save_weights(tmp_path / 's.h5')
    target = Sequential([L.Dense(3, input_shape=(2,), name='hidden'), L.Dense(4, name='new_head')])
    head_before = target.layers[1].get_weights()
    with pytest.raises(ValueError, match=r'3 layer\(s\).*2 layer\(s\)'):
        target.load_weights(tmp_path / 's.h5')
    target.load_weights(tmp_path / 's.h5', by_name=True)
    for a, b in zip(source.layers[0].get_weights(), target.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(head_before, target.layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_skip_mismatch_warns_and_skips_the_layer(tmp_path):
    source = _pair(units=4)
    _scramble(source, 7)
    source.save_weights(tmp_path / 's.h5')
    source.save_weights(tmp_path / 's.weights.h5')
    for filename in ('s.h5', 's.weights.h5'):
        target = _pair(units=6)
        head_before = target.layers[1].get_weights()
        with pytest.raises(ValueError, match=r"'predictions/kernel' has shape \(3, 6\).*shape \(3, 4\)"):
            target.load_weights(tmp_path / filename)
        with pytest.warns(UserWarning, match=r"Skipping.*'predictions'.*\(3, 6\).*\(3, 4\)"):
            target.load_weights(tmp_path / filename, skip_mismatch=True)
        for a, b in zip(source.layers[0].get_weights(), target.layers[0].get_weights()):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(head_before, target.layers[1].get_weights()):
            np.testing.assert_array_equal(a, b)


def test_by_name_with_skip_mismatch_skips_layers_whose_weight_count_differs(tmp_path):
    source = Sequential([L.Dense(3, input_shape=(2,), name='hidden'), L.Dense(4, name='head')])
    source.save_weights(tmp_path / 's.h5')
    L.clear_session()
    target = Sequential([L.Dense(3, input_shape=(2,), name='hidden'), L.Dense(4, use_bias=False, name='head')])
    with pytest.raises(ValueError, match=r"Layer 'head'.*1 weight.*holds 2"):
        target.load_weights(tmp_path / 's.h5', by_name=True)
    with pytest.warns(UserWarning, match=r"Skipping.*'head'.*1 weight"):
        target.load_weights(tmp_path / 's.h5', by_name=True, skip_mismatch=True)
    np.testing.assert_array_equal(source.layers[0].get_weights()[0], target.layers[0].get_weights()[0])


def test_by_name_is_refused_for_keras3_files_and_unknown_arguments(tmp_path):
    model = _pair()
    model.save_weights(tmp_path / 'w.weights.h5')
    with pytest.raises(ValueError, match='by_name=True only applies to Keras 2'):
        model.load_weights(tmp_path / 'w.weights.h5', by_name=True)
    with pytest.raises(TypeError, match='objects_to_skip'):
        model.load_weights(tmp_path / 'w.weights.h5', objects_to_skip=[])


def test_a_failed_read_changes_no_weight(tmp_path, monkeypatch):
    source, target = _pair(), _pair()
    _scramble(source, 8)
    source.save_weights(tmp_path / 's.h5')
    before = target.get_weights()
    calls = []

    def failing_read(ds, label):
        calls.append(ds.name)
        if len(calls) == 3:
            raise h5io.H5FileError(f'{label}: cannot read {ds.name}')
        return h5io.read.__wrapped__(ds, label)
    failing_read.__wrapped__ = h5io.read
    monkeypatch.setattr(h5io, 'read', failing_read)
    with pytest.raises(h5io.H5FileError, match='s.h5'):
        target.load_weights(tmp_path / 's.h5')
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- with Keras 3 as the oracle -------------------------------------------------------------------

def _keras_nested(keras):
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization()],
                             name='inner')
    return keras.Sequential([keras.Input((3,)), inner, keras.layers.Dense(2)])


def _minidl_nested():
    inner = Sequential([L.InputLayer((3,)), L.Dense(4), L.BatchNormalization()], name='inner')
    return Sequential([L.InputLayer((3,)), inner, L.Dense(2)])


def _randomize_keras(kmodel, seed):
    rng = np.random.default_rng(seed)
    kmodel.set_weights([(rng.random(w.shape) + 0.5).astype(np.float32) for w in kmodel.get_weights()])


@pytest.mark.parametrize('filename', ['k.h5', 'k.keras', 'k.weights.h5'])
def test_nested_keras_model_files_load(tmp_path, keras, filename):
    """Keras 2 full-model .h5 (model_weights), a .keras archive and .weights.h5, all written by
    Keras 3 from a Sequential with a nested Sequential; predictions equal."""
    kmodel = _keras_nested(keras)
    _randomize_keras(kmodel, 9)
    path = str(tmp_path / filename)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        kmodel.save_weights(path) if filename.endswith('.weights.h5') else kmodel.save(path)
    model = _minidl_nested()
    model.load_weights(path)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).standard_normal((3, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x).numpy(), keras.ops.convert_to_numpy(kmodel(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('filename', ['m.h5', 'm.weights.h5'])
def test_keras_loads_minidl_nested_model_files(tmp_path, keras, filename):
    model = _minidl_nested()
    _scramble(model, 10)
    model.save_weights(tmp_path / filename)
    kmodel = _keras_nested(keras)
    kmodel.load_weights(str(tmp_path / filename))
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_by_name_and_skip_mismatch_agree_with_minidl(tmp_path, keras):
    """The same Keras 2 file loaded by_name with skip_mismatch into the same architecture in
    Keras and in minidl gives the same weights (the mismatched head is skipped in both)."""
    ksource = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name='hidden'),
                                keras.layers.Dense(4, name='head')])
    _randomize_keras(ksource, 11)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ksource.save(str(tmp_path / 'k.h5'))
    ktarget = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name='hidden'),
                                keras.layers.Dense(5, name='head')])
    target = Sequential([L.Dense(3, input_shape=(2,), name='hidden'), L.Dense(5, name='head')])
    target.layers[1].set_weights(ktarget.layers[1].get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ktarget.load_weights(str(tmp_path / 'k.h5'), by_name=True, skip_mismatch=True)
    with pytest.warns(UserWarning, match='Skipping'):
        target.load_weights(tmp_path / 'k.h5', by_name=True, skip_mismatch=True)
    for a, b in zip(target.get_weights(), ktarget.get_weights()):
        np.testing.assert_array_equal(a, b)
