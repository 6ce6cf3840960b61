"""minidl.applications against Keras 3's keras.applications.

Without Keras: parameter counts and layer names of the eight architectures, Keras' input-shape
rules and argument errors, preprocess_input's arithmetic (NumPy, Tensor gradient-checked, and
symbolic in a functional model),
decode_predictions, the 'imagenet' cache and its offline error, and the shipped fixtures (small
networks Keras wrote in the official legacy layout, with Keras' predictions).

With Keras (the ``keras`` fixture, on PyTorch): every architecture built in Keras under a seed
with random biases and BatchNormalization statistics, its weights written in the three HDF5
layouts (see tests/fixtures/applications_oracle.py), loaded into minidl, and the predictions
compared (1e-4 of the largest output) with and without the top, with pooling None, 'avg' and
'max'; summaries, preprocess_input and decode_predictions compared with Keras' own.
"""
import io
import os
import re
import sys
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures'))
import applications_oracle as oracle  # noqa: E402

import minidl  # noqa: E402
import minidl.testing  # noqa: E402
from minidl import Tensor, layers  # noqa: E402
from minidl import applications as apps  # noqa: E402
from minidl.applications import imagenet_utils  # noqa: E402

FIXTURES = os.path.dirname(oracle.__file__)
ARCHS = ['VGG16', 'VGG19', 'ResNet50', 'ResNet101', 'ResNet152', 'DenseNet121', 'DenseNet169', 'DenseNet201']
FAST = {'VGG16', 'ResNet50', 'DenseNet121'}  # the others are the same code with more blocks: slow
# Keras' counts without the top: total, non-trainable (BatchNormalization statistics).
NOTOP_COUNTS = {
    'VGG16': (14_714_688, 0), 'VGG19': (20_024_384, 0),
    'ResNet50': (23_587_712, 53_120), 'ResNet101': (42_658_176, 105_344), 'ResNet152': (58_370_944, 151_424),
    'DenseNet121': (7_037_504, 83_648), 'DenseNet169': (12_642_880, 158_400), 'DenseNet201': (18_321_984, 229_056),
}
TOP_COUNTS = {'VGG16': 138_357_544, 'VGG19': 143_667_240, 'ResNet50': 25_636_712, 'ResNet101': 44_707_176,
              'ResNet152': 60_419_944, 'DenseNet121': 8_062_504, 'DenseNet169': 14_307_880,
              'DenseNet201': 20_242_984}
MODULES = {'vgg16': 'caffe', 'vgg19': 'caffe', 'resnet': 'caffe', 'resnet50': 'caffe', 'densenet': 'torch'}


def _param(arch, *rest):
    marks = () if arch in FAST else (pytest.mark.slow,)
    return pytest.param(arch, *rest, marks=marks, id='-'.join([arch] + [str(r) for r in rest]))


def _counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return model.count_params(), model.count_params() - trainable


def _fresh():
    minidl.layers.clear_session()


# ------------------------------------------------------------------------------ architectures

@pytest.mark.parametrize('arch', [_param(a) for a in ARCHS])
def test_counts_without_top_are_keras(arch):
    model = getattr(apps, arch)(include_top=False, weights=None, input_shape=(32, 32, 3))
    assert _counts(model) == NOTOP_COUNTS[arch]
    assert model.name == arch.lower()


@pytest.mark.slow
@pytest.mark.parametrize('arch', ['VGG16', 'ResNet50', 'DenseNet121'])
def test_counts_with_top_at_224_are_keras(arch):
    model = getattr(apps, arch)(weights=None)
    assert model.count_params() == TOP_COUNTS[arch]
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)


def test_layer_names_and_outputs():
    _fresh()
    resnet = apps.ResNet50(include_top=False, weights=None, pooling='max')
    names = [layer.name for layer in resnet.layers]
    assert names[1:6] == ['conv1_pad', 'conv1_conv', 'conv1_bn', 'conv1_relu', 'pool1_pad']
    assert names[-2:] == ['conv5_block3_out', 'max_pool'] and 'conv4_block6_add' in names
    assert resnet.input_shape == (None, None, None, 3) and resnet.output_shape == (None, 2048)
    dense = apps.DenseNet121(include_top=False, weights=None, input_shape=(64, 64, 3))
    names = [layer.name for layer in dense.layers]
    assert names[1:3] == ['zero_padding2d', 'conv1_conv'] and names[-3:] == ['conv5_block16_concat', 'bn', 'relu']
    assert dense.output_shape == (None, 2, 2, 1024)
    vgg = apps.VGG19(weights=None, input_shape=(48, 48, 3), classes=7, classifier_activation=None)
    assert [layer.name for layer in vgg.layers][-6:] == ['block5_conv4', 'block5_pool', 'flatten', 'fc1', 'fc2',
                                                         'predictions']
    assert vgg.output_shape == (None, 7)
    avg = apps.VGG16(include_top=False, weights=None, pooling='avg')
    assert type(avg.layers[-1]).__name__ == 'GlobalAveragePooling2D' and avg.output_shape == (None, 512)


def test_input_tensor_keeps_the_layers_before_it():
    inputs = layers.Input(shape=(16, 16, 3))
    resized = layers.Resizing(32, 32, name='up')(inputs)
    model = apps.ResNet50(include_top=False, weights=None, input_tensor=resized, pooling='avg')
    assert model.inputs[0] is inputs and model.layers[1].name == 'up'
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype('float32')
    assert model.predict(x, verbose=0).shape == (2, 2048)
    with pytest.raises(ValueError, match='must be a KerasTensor'):
        apps.VGG16(weights=None, include_top=False, input_tensor=np.zeros((1, 32, 32, 3), 'float32'))


# Keras' obtain_input_shape: (input_shape, require_flatten, weights) -> shape or the error's words.
SHAPE_CASES = [
    (None, True, 'imagenet', (224, 224, 3)),
    (None, False, 'imagenet', (None, None, 3)),
    (None, True, None, (224, 224, 3)),
    ((224, 224, 3), True, 'imagenet', (224, 224, 3)),
    ((200, 200, 3), True, 'imagenet', 'should be (224, 224, 3)'),
    ((200, 200, 3), False, 'imagenet', (200, 200, 3)),
    ((32, 32, 3), True, None, (32, 32, 3)),
    ((31, 64, 3), False, None, 'at least 32x32'),
    ((None, None, 3), False, 'imagenet', (None, None, 3)),
    ((None, None, 3), True, None, 'static `input_shape`'),
    ((64, 64, 1), False, 'imagenet', '3 channels'),
    ((64, 64, 1), False, None, (64, 64, 1)),
    ((64, 64), False, None, 'three integers'),
]


@pytest.mark.parametrize('shape, flatten, weights, expected', SHAPE_CASES)
def test_obtain_input_shape_follows_keras(shape, flatten, weights, expected):
    def call(fn):
        return fn(shape, default_size=224, min_size=32, data_format='channels_last', require_flatten=flatten,
                  weights=weights)
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=re.escape(expected)):
            call(imagenet_utils.obtain_input_shape)
    else:
        assert tuple(call(imagenet_utils.obtain_input_shape)) == expected


def test_obtain_input_shape_warns_about_odd_channels():
    with pytest.warns(UserWarning, match='1 or 3 input channels'):
        imagenet_utils.obtain_input_shape((64, 64, 5), 224, 32, 'channels_last', False, None)


@pytest.mark.parametrize('shape, flatten, weights, expected', SHAPE_CASES)
def test_obtain_input_shape_equals_keras(keras, shape, flatten, weights, expected):
    from keras.src.applications import imagenet_utils as keras_utils
    args = dict(default_size=224, min_size=32, data_format='channels_last', require_flatten=flatten, weights=weights)
    try:
        theirs = keras_utils.obtain_input_shape(shape, **args)
    except ValueError as exc:
        with pytest.raises(ValueError) as ours:
            imagenet_utils.obtain_input_shape(shape, **args)
        # Keras' words, and ours say the same (ours also names the received shape).
        assert str(ours.value).split('Received')[0].strip() in str(exc) or 'three integers' in str(exc)
    else:
        assert tuple(imagenet_utils.obtain_input_shape(shape, **args)) == tuple(theirs)


BAD_ARGUMENTS = [
    (dict(weights='no/such/file.h5'), 'The `weights` argument should be either'),
    (dict(weights='imagenet', classes=10), '`classes` should be 1000'),
    (dict(weights='imagenet', classifier_activation='relu'), 'Only `None` and `softmax` activations'),
    (dict(weights=None, include_top=False, input_shape=(16, 16, 3)), 'Input size must be at least 32x32'),
    (dict(weights='imagenet', input_shape=(128, 128, 3)), 'should be (224, 224, 3)'),
    (dict(weights=None, input_shape=(None, None, 3)), 'specify a static `input_shape`'),
]
BAD_IDS = ['weights', 'classes', 'activation', 'small', 'top-shape', 'top-none']


@pytest.mark.parametrize('arch', ['VGG16', 'ResNet50', 'DenseNet121'])
@pytest.mark.parametrize('kwargs, message', BAD_ARGUMENTS, ids=BAD_IDS)
def test_bad_arguments_raise_as_in_keras(arch, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(apps, arch)(**kwargs)


@pytest.mark.parametrize('kwargs, message', BAD_ARGUMENTS, ids=BAD_IDS)
def test_bad_arguments_raise_in_keras_too(keras, kwargs, message):
    with pytest.raises(ValueError):
        keras.applications.ResNet50(**kwargs)


def test_classifier_activation_is_free_without_pretrained_weights():
    model = apps.VGG16(weights=None, input_shape=(32, 32, 3), classes=3, classifier_activation='sigmoid')
    out = model.predict(np.ones((1, 32, 32, 3), 'float32'), verbose=0)
    assert out.shape == (1, 3) and np.all((out > 0) & (out < 1))


# --------------------------------------------------------------------------- preprocess_input

def _images(rng, shape=(2, 5, 4, 3), dtype='float32'):
    return rng.uniform(0, 255, shape).astype(dtype)


def test_preprocess_caffe_and_torch_arithmetic(rng):
    x = _images(rng)
    out = apps.resnet.preprocess_input(x.copy())
    np.testing.assert_allclose(out, x[..., ::-1] - np.array([103.939, 116.779, 123.68], 'float32'), rtol=1e-6)
    out = apps.densenet.preprocess_input(x.copy())
    want = (x / 255.0 - np.array([0.485, 0.456, 0.406], 'float32')) / np.array([0.229, 0.224, 0.225], 'float32')
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    out = imagenet_utils.preprocess_input(x.copy(), mode='tf')
    np.testing.assert_allclose(out, x / 127.5 - 1, rtol=1e-6, atol=1e-6)
    first = apps.vgg16.preprocess_input(np.moveaxis(x, -1, 1).copy(), data_format='channels_first')
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), apps.vgg16.preprocess_input(x.copy()), rtol=1e-6)


def test_preprocess_overwrites_float_arrays_and_converts_integers(rng):
    x = _images(rng)
    out = apps.vgg16.preprocess_input(x)
    assert np.shares_memory(out, x)  # Keras' NumPy path writes over a float input
    ints = rng.integers(0, 256, (1, 3, 3, 3)).astype('uint8')
    kept = ints.copy()
    out = apps.densenet.preprocess_input(ints)
    assert out.dtype == np.float32 and np.array_equal(ints, kept)
    assert apps.resnet.preprocess_input(np.ones((2, 2, 3), 'float64')).dtype == np.float64


def test_preprocess_errors():
    with pytest.raises(ValueError, match='Expected mode to be one of'):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode='keras')
    with pytest.raises(ValueError, match='Expected data_format to be one of'):
        apps.vgg16.preprocess_input(np.zeros((1, 2, 2, 3)), data_format='NHWC')
    with pytest.raises(ValueError, match='3 color channels'):
        apps.resnet.preprocess_input(np.zeros((1, 2, 2, 4), 'float32'))


@pytest.mark.parametrize('module', sorted(MODULES))
def test_preprocess_tensor_equals_array_and_has_gradients(module, rng):
    fn = getattr(apps, module).preprocess_input
    x = _images(rng, (2, 3, 4, 3), 'float64')
    out = fn(Tensor(x))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.numpy(), fn(x.copy()), rtol=1e-12)
    minidl.testing.gradcheck(fn, Tensor(x, requires_grad=True))


@pytest.mark.parametrize('module', sorted(MODULES) + ['imagenet_utils-tf'])
def test_preprocess_input_starts_a_functional_model(module, rng):
    """``x = preprocess_input(inputs)`` on a symbolic tensor records graph nodes, as in Keras."""
    name, _, mode = module.partition('-')
    fn = getattr(apps, name).preprocess_input
    kwargs = {'mode': mode} if mode else {}
    inputs = layers.Input(shape=(5, 4, 3))
    model = minidl.Model(inputs, layers.Flatten()(fn(inputs, **kwargs)))
    x = _images(rng)
    np.testing.assert_allclose(model.predict(x, verbose=0), fn(x.copy(), **kwargs).reshape(2, -1), rtol=1e-6)


def test_preprocess_input_in_a_functional_model_equals_keras(keras, rng):
    x = _images(rng, (2, 32, 32, 3))
    ours_in, theirs_in = layers.Input(shape=(32, 32, 3)), keras.layers.Input(shape=(32, 32, 3))
    ours = minidl.Model(ours_in, apps.densenet.preprocess_input(apps.resnet.preprocess_input(ours_in)))
    theirs = keras.Model(theirs_in, keras.applications.densenet.preprocess_input(
        keras.applications.resnet.preprocess_input(theirs_in)))
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('module', sorted(MODULES) + ['imagenet_utils-tf'])
@pytest.mark.parametrize('case', ['float32', 'float64', 'uint8', '3d', 'channels_first'])
def test_preprocess_input_equals_keras(keras, module, case, rng):
    name, _, mode = module.partition('-')
    ours = getattr(apps, name).preprocess_input
    theirs = getattr(keras.applications, name).preprocess_input
    kwargs = {'mode': mode} if mode else {}
    shape = {'3d': (5, 4, 3), 'channels_first': (2, 3, 5, 4)}.get(case, (2, 5, 4, 3))
    dtype = case if case in ('float64', 'uint8') else 'float32'
    if case == 'channels_first':
        kwargs['data_format'] = 'channels_first'
    x = rng.uniform(0, 255, shape).astype(dtype)
    mine, keras_in = x.copy(), x.copy()
    a = ours(mine, **kwargs)
    b = theirs(keras_in, **kwargs)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mine, keras_in)  # the caller's array ends the same way too


# ------------------------------------------------------------------------- decode_predictions

@pytest.fixture
def class_index(monkeypatch, tmp_path):
    """A made-up imagenet_class_index.json in the models cache of a fresh home directory."""
    import json
    index = {str(i): [f'n{i:08d}', f'class_{i}'] for i in range(1000)}
    home = tmp_path / 'home'
    for folder in (home / '.minidl' / 'models', home / '.keras' / 'models'):
        folder.mkdir(parents=True)
        (folder / 'imagenet_class_index.json').write_text(json.dumps(index))
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.setenv('MINIDL_DATA', str(tmp_path / 'data'))
    monkeypatch.setenv('MINIDL_OFFLINE', '1')
    monkeypatch.setattr(imagenet_utils, 'CLASS_INDEX', None)
    return index


def test_decode_predictions(class_index, rng):
    preds = rng.random((2, 1000)).astype('float32')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the made-up index is not the official file
        decoded = apps.resnet50.decode_predictions(preds, top=3)
    assert len(decoded) == 2 and len(decoded[0]) == 3
    best = np.argsort(preds[1])[::-1][:3]
    assert [d[1] for d in decoded[1]] == [f'class_{i}' for i in best]
    assert [d[2] for d in decoded[1]] == list(preds[1][best])
    with pytest.raises(ValueError, match=r'shape \(samples, 1000\)'):
        apps.vgg16.decode_predictions(np.zeros((2, 10)))


def test_decode_predictions_equals_keras(keras, class_index, rng):
    from keras.src.applications import imagenet_utils as keras_utils
    preds = rng.random((3, 1000)).astype('float32')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ours = apps.densenet.decode_predictions(preds, top=5)
    saved = keras_utils.CLASS_INDEX
    keras_utils.CLASS_INDEX = class_index  # Keras would download the real one
    try:
        theirs = keras.applications.densenet.decode_predictions(preds, top=5)
    finally:
        keras_utils.CLASS_INDEX = saved
    assert [[tuple(r[:2]) for r in row] for row in ours] == [[tuple(r[:2]) for r in row] for row in theirs]
    np.testing.assert_array_equal([[r[2] for r in row] for row in ours], [[r[2] for r in row] for row in theirs])


# ------------------------------------------------------------------------ weights='imagenet'

def test_imagenet_weights_offline_say_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('MINIDL_DATA', str(tmp_path / 'data'))
    monkeypatch.setenv('MINIDL_OFFLINE', '1')
    with pytest.raises(FileNotFoundError) as info:
        apps.ResNet50(include_top=False, weights='imagenet', input_shape=(32, 32, 3))
    text = str(info.value)
    assert 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5' in text
    assert 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/' in text


@pytest.mark.parametrize('where', ['.minidl', '.keras'])
def test_imagenet_weights_come_from_the_models_cache(monkeypatch, tmp_path, where):
    """A Keras-layout file under the official name is used without a download: from
    ~/.minidl/models/ as it is (with a warning when its md5 is not the official one), from a Keras
    user's ~/.keras/models/ when its md5 is the expected one (here: the md5 is made the file's)."""
    from minidl.datasets._files import hash_file
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('MINIDL_DATA', str(tmp_path / 'data'))
    monkeypatch.setenv('MINIDL_OFFLINE', '1')
    source = apps.DenseNet121(include_top=False, weights=None, input_shape=(32, 32, 3))
    for w in source.weights:
        w.data[...] = np.random.default_rng(1).normal(size=w.shape).astype(w.dtype)
    folder = tmp_path / where / 'models'
    folder.mkdir(parents=True)
    path = folder / 'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5'
    source.save_weights(str(path))
    if where == '.minidl':
        with pytest.warns(UserWarning, match='not the official file'):
            loaded = apps.DenseNet121(include_top=False, weights='imagenet', input_shape=(32, 32, 3))
    else:
        with pytest.raises(FileNotFoundError):  # Keras' cache: only a file with the official md5
            apps.DenseNet121(include_top=False, weights='imagenet', input_shape=(32, 32, 3))
        key = (6, 12, 24, 16)
        name, top_md5, _ = apps.densenet.WEIGHTS_HASHES[key]
        monkeypatch.setitem(apps.densenet.WEIGHTS_HASHES, key, (name, top_md5, hash_file(str(path), 'md5')))
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            loaded = apps.DenseNet121(include_top=False, weights='imagenet', input_shape=(32, 32, 3))
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_weights_of_another_network_are_refused(tmp_path):
    path = str(tmp_path / 'vgg.h5')
    apps.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)
    with pytest.raises(ValueError, match='layer'):
        apps.ResNet50(include_top=False, weights=path, input_shape=(32, 32, 3))


# ---------------------------------------------------------------------- fixtures, no Keras

@pytest.mark.parametrize('name', ['resnet', 'densenet', 'vgg'])
def test_official_layout_fixtures_give_keras_predictions(name):
    """Small networks Keras wrote in the layout of the official files (Keras 1 names such as
    'block1_conv1_W_1:0' for VGG, 'conv1/conv' groups for DenseNet), with Keras' predictions."""
    _fresh()
    model = oracle.build_tiny(name, keras_side=False)
    model.load_weights(os.path.join(FIXTURES, f'applications_{name}.h5'))
    data = np.load(os.path.join(FIXTURES, f'applications_{name}.npz'))
    got = model.predict(data['x'].astype('float32'), verbose=0)
    _assert_close(got, data['y'])


def _assert_close(got, want):
    scale = float(np.abs(want).max())
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * scale)


# --------------------------------------------------------------------- Keras as the oracle

VARIANTS = {  # variant -> (builder kwargs, input size of the comparison)
    'top': (dict(include_top=True, input_shape=(32, 32, 3), classes=1000), 32),
    'notop': (dict(include_top=False), 32),
    'avg': (dict(include_top=False, pooling='avg'), 64),  # 2x2 before pooling: avg and max differ
    'max': (dict(include_top=False, pooling='max'), 64),
}
# The layouts each variant is written in (every layout with and without the top; a Keras 2
# full-model file of the top model too would only add a slow Keras model.save).
LAYOUTS = {'top': ('legacy', 'keras3'), 'notop': oracle.LAYOUTS, 'avg': ('keras3',), 'max': ('legacy',)}
_written = {}


@pytest.fixture(scope='module')
def keras_files(keras, tmp_path_factory):
    """arch -> {variant: (weights file per layout, input, Keras' prediction)}, made once."""
    def make(arch):
        if arch not in _written:
            _written[arch] = _write_arch(keras, arch, tmp_path_factory.mktemp(arch))
        return _written[arch]
    yield make
    _written.clear()


def _write_arch(keras, arch, folder):
    """Two Keras models (with the top at 32x32, and without it for any size), random biases and
    BN statistics, written in their layouts; the pooled variants are Keras' pooling layers on
    the no-top model's output."""
    build = getattr(keras.applications, arch)
    out = {}
    for i, variant in enumerate(('top', 'notop')):
        keras.backend.clear_session()  # automatic names (zero_padding2d, ...) as in a fresh session
        keras.utils.set_random_seed(10 * ARCHS.index(arch) + i)
        model = oracle.randomize(build(weights=None, **VARIANTS[variant][0]), seed=i)
        files = oracle.write_layouts(model, arch, str(folder), variant, layouts=LAYOUTS[variant])
        x = np.random.default_rng(i).uniform(0, 255, (2, 32, 32, 3)).astype('float32')
        out[variant] = (files, x, model.predict(x, verbose=0))
        out[f'{variant}_model'] = model
        if variant == 'notop':
            out['summary'] = _keras_summary(model)
            x = np.random.default_rng(2).uniform(0, 255, (2, 64, 64, 3)).astype('float32')
            for pooled, layer in (('avg', keras.layers.GlobalAveragePooling2D()),
                                  ('max', keras.layers.GlobalMaxPooling2D())):
                head = keras.Model(model.input, layer(model.output))
                out[pooled] = (files, x, head.predict(x, verbose=0))
    return out


CASES = [_param(arch, variant, layout) for arch in ARCHS for variant in VARIANTS for layout in LAYOUTS[variant]]


@pytest.mark.parametrize('arch, variant, layout', CASES)
def test_predictions_equal_keras(keras_files, arch, variant, layout):
    files, x, want = keras_files(arch)[variant]
    _fresh()
    model = getattr(apps, arch)(weights=files[layout], **VARIANTS[variant][0])
    _assert_close(model.predict(x, verbose=0), want)


@pytest.mark.parametrize('arch', [_param(a) for a in ARCHS])
def test_summary_equals_keras(keras_files, arch):
    _fresh()
    model = getattr(apps, arch)(include_top=False, weights=None)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        model.summary()
    rows, totals = _parse_minidl_summary(buffer.getvalue())
    keras_rows, keras_totals = keras_files(arch)['summary']
    assert totals == keras_totals == (NOTOP_COUNTS[arch][0], NOTOP_COUNTS[arch][0] - NOTOP_COUNTS[arch][1],
                                      NOTOP_COUNTS[arch][1])
    assert len(rows) == len(keras_rows)
    for i, ((cell, shape, params), (name, cls, kshape, kparams)) in enumerate(zip(rows, keras_rows)):
        title = f'{name} ({cls})'
        # Cells are cut at their column's edge, as tf.keras' summary does.
        assert kshape.startswith(shape) and params == kparams, (title, shape, kshape, params, kparams)
        if i:  # the input layer's automatic name is minidl's ('input_1'); Keras 3 says 'input_layer'
            assert title.startswith(cell), (cell, title)
        else:
            assert cell.endswith('(InputLayer)')


def _keras_summary(model):
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        rows.append((layer.name, type(layer).__name__, '(' + ', '.join(str(d) for d in shape) + ')',
                     layer.count_params()))
    lines = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line))
    text = '\n'.join(lines)
    totals = tuple(int(re.search(rf'{what} params: ([\d,]+)', text).group(1).replace(',', ''))
                   for what in ('Total', 'Trainable', 'Non-trainable'))
    return rows, totals


def _parse_minidl_summary(text):
    """(layer cell, output shape cell, parameters) per layer, cut at the header's columns."""
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith('Layer (type)'))
    shape_at, params_at = header.index('Output Shape'), header.index('Param #')
    end = header.index('Connected to') if 'Connected to' in header else len(lines[1])
    rows = []
    for line in lines[lines.index(header) + 2:]:
        if line.startswith('Total params'):
            break
        if line[:1].strip() and not set(line) <= {'_', '='}:
            rows.append((line[:shape_at].strip(), line[shape_at:params_at].strip().strip('[]'),
                         int(line[params_at:end])))
    totals = tuple(int(re.search(rf'{what} params: ([\d,]+)', text).group(1).replace(',', ''))
                   for what in ('Total', 'Trainable', 'Non-trainable'))
    return rows, totals


@pytest.mark.parametrize('arch', sorted(FAST))
def test_legacy_writer_is_what_keras_reads(keras, keras_files, arch):
    """The h5py-written official layout loads into Keras itself (its legacy_h5_format reader),
    so the files the other tests load into minidl are files Keras accepts."""
    files, x, want = keras_files(arch)['top']
    model = keras_files(arch)['top_model']
    model.set_weights([np.zeros(w.shape, 'float32') for w in model.weights])
    model.load_weights(files['legacy'])
    _assert_close(model.predict(x, verbose=0), want)
