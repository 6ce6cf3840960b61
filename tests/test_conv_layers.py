"""The convolution, pooling, resampling, padding and cropping layers of issue 17 against Keras 3
(on PyTorch, the ``keras`` fixture): the same constructor signatures; on the same weights
(``set_weights(keras_layer.get_weights())``) the same outputs and gradients for the input and
every weight; the same output shapes, weight names, shapes and order, parameter counts,
``get_config`` keys, and configs that each side rebuilds; ``summary()`` rows; ``.keras`` files
both ways; and the errors a user sees."""
import inspect
import json
import warnings

import numpy as np
import pytest

from minidl import layers as L, models
from minidl.autograd import Tensor
from minidl.saving import serialize_keras_object
from minidl.testing import gradcheck

NEW_LAYERS = ['Conv1D', 'Conv2D', 'Conv3D', 'Conv1DTranspose', 'Conv2DTranspose', 'Conv3DTranspose', 'DepthwiseConv1D',
              'DepthwiseConv2D', 'SeparableConv1D', 'SeparableConv2D', 'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D',
              'AveragePooling1D', 'AveragePooling2D', 'AveragePooling3D', 'GlobalAveragePooling1D',
              'GlobalAveragePooling2D', 'GlobalAveragePooling3D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D',
              'GlobalMaxPooling3D', 'UpSampling1D', 'UpSampling2D', 'UpSampling3D', 'ZeroPadding1D', 'ZeroPadding2D',
              'ZeroPadding3D', 'Cropping1D', 'Cropping2D', 'Cropping3D']
ALIASES = ['Convolution3D', 'Convolution1DTranspose', 'Convolution2DTranspose', 'Convolution3DTranspose',
           'SeparableConvolution1D', 'SeparableConvolution2D', 'MaxPool3D', 'AvgPool3D', 'GlobalAvgPool1D',
           'GlobalAvgPool2D', 'GlobalAvgPool3D', 'GlobalMaxPool1D', 'GlobalMaxPool2D', 'GlobalMaxPool3D']

# (layer, keyword arguments, input shape). Smooth activations only (no kinks at the sample points).
CASES = [
    ('Conv1D', dict(filters=4, kernel_size=3, dilation_rate=2, padding='causal', activation='tanh'), (2, 9, 3)),
    ('Conv1D', dict(filters=6, kernel_size=2, strides=2, groups=3, padding='same'), (2, 7, 3)),
    ('Conv2D', dict(filters=4, kernel_size=(3, 2), dilation_rate=(2, 1), groups=2, padding='same'), (2, 7, 6, 4)),
    ('Conv2D', dict(filters=3, kernel_size=3, dilation_rate=2, use_bias=False), (2, 7, 8, 2)),
    ('Conv3D', dict(filters=4, kernel_size=(2, 3, 2), strides=(1, 2, 1), padding='same'), (2, 4, 5, 3, 2)),
    ('Conv3D', dict(filters=2, kernel_size=2, groups=2, dilation_rate=(1, 2, 1)), (2, 3, 4, 3, 4)),
    ('Conv1DTranspose', dict(filters=2, kernel_size=3, strides=2, padding='same'), (2, 5, 3)),
    ('Conv1DTranspose', dict(filters=3, kernel_size=2, dilation_rate=2), (2, 4, 2)),
    ('Conv2DTranspose', dict(filters=4, kernel_size=3, strides=2, padding='same', activation='sigmoid'), (2, 4, 5, 3)),
    ('Conv2DTranspose', dict(filters=2, kernel_size=(3, 2), strides=(2, 3), output_padding=(1, 2)), (2, 3, 4, 3)),
    ('Conv2DTranspose', dict(filters=2, kernel_size=3, dilation_rate=2, padding='same'), (2, 4, 4, 2)),
    ('Conv3DTranspose', dict(filters=2, kernel_size=2, strides=2), (2, 2, 3, 2, 3)),
    ('Conv3DTranspose', dict(filters=3, kernel_size=(3, 2, 2), strides=(2, 1, 2), padding='same',
                             output_padding=(1, 0, 0)), (2, 2, 3, 2, 2)),
    ('Conv3DTranspose', dict(filters=2, kernel_size=2, dilation_rate=(2, 1, 1)), (2, 2, 2, 3, 2)),
    ('Conv1DTranspose', dict(filters=2, kernel_size=3, strides=3, output_padding=2), (2, 4, 3)),
    ('DepthwiseConv1D', dict(kernel_size=3, depth_multiplier=2, padding='same'), (2, 7, 3)),
    ('DepthwiseConv2D', dict(kernel_size=3, depth_multiplier=2, strides=2, padding='same'), (2, 7, 6, 3)),
    ('DepthwiseConv2D', dict(kernel_size=(2, 3), dilation_rate=2), (2, 7, 8, 2)),
    ('SeparableConv1D', dict(filters=5, kernel_size=3, strides=2), (2, 9, 3)),
    ('SeparableConv1D', dict(filters=4, kernel_size=2, depth_multiplier=3, dilation_rate=2, padding='same'), (2, 8, 2)),
    ('DepthwiseConv1D', dict(kernel_size=2, strides=2, dilation_rate=1, use_bias=False), (2, 9, 4)),
    ('SeparableConv2D', dict(filters=5, kernel_size=3, depth_multiplier=2, strides=2, padding='same'), (2, 7, 6, 3)),
    ('SeparableConv2D', dict(filters=3, kernel_size=2, dilation_rate=2, use_bias=False), (2, 6, 6, 2)),
    ('MaxPooling1D', dict(pool_size=3, strides=2, padding='same'), (2, 8, 3)),
    ('MaxPooling2D', dict(pool_size=(2, 3), strides=(1, 2)), (2, 5, 7, 2)),
    ('AveragePooling1D', dict(pool_size=2, strides=1), (2, 6, 3)),
    ('AveragePooling2D', dict(pool_size=(2, 2)), (2, 5, 6, 2)),
    ('MaxPooling3D', dict(), (2, 4, 5, 4, 2)),
    ('MaxPooling3D', dict(pool_size=(2, 2, 1), strides=1, padding='same'), (2, 3, 4, 3, 2)),
    ('AveragePooling3D', dict(pool_size=(2, 1, 2), padding='same'), (2, 3, 4, 5, 2)),
    ('GlobalAveragePooling3D', dict(), (2, 3, 2, 4, 3)),
    ('GlobalAveragePooling3D', dict(keepdims=True), (2, 3, 2, 4, 3)),
    ('GlobalMaxPooling3D', dict(keepdims=True), (2, 3, 2, 4, 3)),
    ('GlobalMaxPooling1D', dict(keepdims=True), (2, 5, 3)),
    ('GlobalAveragePooling2D', dict(keepdims=True), (2, 4, 3, 2)),
    ('GlobalAveragePooling1D', dict(keepdims=True), (2, 5, 3)),
    ('GlobalMaxPooling2D', dict(keepdims=True), (2, 4, 3, 2)),
    ('GlobalMaxPooling2D', dict(), (2, 4, 3, 2)),
    ('UpSampling2D', dict(size=2), (2, 3, 4, 2)),
    ('UpSampling1D', dict(size=3), (2, 4, 3)),
    ('UpSampling2D', dict(size=(2, 3), interpolation='bilinear'), (2, 3, 4, 2)),
    ('UpSampling3D', dict(size=(1, 2, 3)), (2, 2, 3, 2, 2)),
    ('ZeroPadding1D', dict(padding=(1, 2)), (2, 4, 3)),
    ('ZeroPadding2D', dict(padding=((0, 1), (2, 1))), (2, 3, 4, 2)),
    ('ZeroPadding3D', dict(padding=((1, 0), (0, 2), (1, 1))), (2, 2, 3, 2, 2)),
    ('ZeroPadding3D', dict(padding=2), (2, 2, 3, 2, 2)),
    ('Cropping1D', dict(cropping=(1, 2)), (2, 6, 3)),
    ('Cropping2D', dict(cropping=((1, 0), (2, 1))), (2, 5, 6, 2)),
    ('Cropping2D', dict(cropping=1), (2, 5, 6, 2)),
    ('Cropping3D', dict(), (2, 4, 5, 3, 2)),
]


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def _distinct(shape, seed=0):
    """Values without ties (max pooling has one arg-max per window)."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) / n - 0.5).astype(np.float32)


def _keras_run(keras, layer, x, gy):
    """Keras on PyTorch: output, input gradient and weight gradients, warnings it raised."""
    import torch
    tx = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        y = layer(tx)
    y.backward(torch.tensor(gy))
    grads = [w.value.grad.numpy() for w in layer.weights]
    inconsistent = [str(w.message) for w in caught if 'inconsisten' in str(w.message) or 'Clamping' in str(w.message)]
    return y.detach().numpy(), tx.grad.numpy(), grads, inconsistent


@pytest.mark.parametrize('name', NEW_LAYERS + ALIASES)
def test_signatures_are_keras(keras, name):
    ours, theirs = getattr(L, name), getattr(keras.layers, name)
    assert inspect.signature(ours.__init__) == inspect.signature(theirs.__init__)


@pytest.mark.parametrize('name, kwargs, shape', CASES, ids=[f'{c[0]}-{i}' for i, c in enumerate(CASES)])
def test_layer_equals_keras_on_the_same_weights(keras, name, kwargs, shape):
    x = _distinct(shape)
    theirs = getattr(keras.layers, name)(**kwargs)
    theirs.build(shape)
    rng = np.random.default_rng(1)
    weights = [(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    out_shape = tuple(theirs.compute_output_shape((None,) + shape[1:]))
    gy = np.random.default_rng(2).standard_normal((shape[0],) + out_shape[1:]).astype(np.float32)
    want_y, want_gx, want_gw, inconsistent = _keras_run(keras, theirs, x, gy)
    assert not inconsistent, f'Keras warns that its torch backend differs here: {inconsistent}'

    ours = getattr(L, name)(**kwargs)
    ours.build(shape)
    ours.set_weights(theirs.get_weights())
    assert [(w.name, tuple(w.shape)) for w in ours.weights] == [(w.name, tuple(w.shape)) for w in theirs.weights]
    assert ours.compute_output_shape((None,) + shape[1:]) == out_shape
    assert ours.count_params() == theirs.count_params()
    xs = Tensor(x, requires_grad=True)
    y = ours(xs)
    y.backward(gy)
    assert y.shape == want_y.shape
    np.testing.assert_allclose(y.numpy(), want_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xs.grad.numpy(), want_gx, rtol=1e-5, atol=1e-5)
    for w, g in zip(ours.weights, want_gw):
        np.testing.assert_allclose(w.grad.numpy(), g, rtol=1e-4, atol=1e-4, err_msg=w.name)


@pytest.mark.parametrize('name, kwargs, shape', CASES, ids=[f'{c[0]}-{i}' for i, c in enumerate(CASES)])
def test_configs_have_keras_keys_and_rebuild_on_both_sides(keras, name, kwargs, shape):
    ours, theirs = getattr(L, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    config = ours.get_config()
    assert set(config) == set(theirs.get_config())
    assert type(ours).from_config(config).get_config() == config
    normal = json.loads(json.dumps(serialize_keras_object(ours)))
    rebuilt = getattr(keras.layers, name).from_config(normal['config']).get_config()
    expected = theirs.get_config()
    for key in set(expected) - {'name'}:
        assert json.loads(json.dumps(rebuilt[key])) == json.loads(json.dumps(expected[key])), key


@pytest.mark.parametrize('name, kwargs, shape', CASES, ids=[f'{c[0]}-{i}' for i, c in enumerate(CASES)])
def test_layers_gradcheck_in_float64(name, kwargs, shape):
    """The input (``gradcheck``) and every weight of the layer (central differences of
    sum(y * gy), perturbing the weight in place) in float64; every case, the weightless
    pooling, resampling, padding and cropping layers included."""
    layer = getattr(L, name)(**kwargs, dtype='float64')
    small = (1,) + shape[1:]
    layer.build(small)
    rng = np.random.default_rng(3)
    weights = [rng.standard_normal(w.shape) * 0.5 for w in layer.weights]

    layer.set_weights(weights)
    live = layer.weights
    x = rng.standard_normal(small)
    y = layer(Tensor(x))
    gy = rng.standard_normal(y.shape)
    xs = Tensor(x, requires_grad=True)
    layer(xs).backward(gy)
    analytic = [xs.grad.numpy()] + [w.grad.numpy() for w in live]
    gradcheck(lambda x: layer(x), x)
    for i, w in enumerate(live):
        eps, numeric = 1e-6, np.zeros(w.shape)
        base = w.data.copy()
        for index in np.ndindex(*w.shape):
            for sign in (1, -1):
                w.data = base.copy()
                w.data[index] += sign * eps
                numeric[index] += sign * float((layer(Tensor(x)).numpy() * gy).sum()) / (2 * eps)
        w.data = base
        np.testing.assert_allclose(analytic[i + 1], numeric, rtol=1e-5, atol=1e-6, err_msg=w.name)


SUMMARY_STACKS = {
    '2d': ((8, 8, 3), lambda K: [K.SeparableConv2D(6, 3, padding='same', depth_multiplier=2), K.DepthwiseConv2D(3, strides=2),
                                 K.Conv2D(4, 3, groups=2, dilation_rate=2, padding='same'),
                                 K.Conv2DTranspose(3, 3, strides=2, padding='same'), K.Cropping2D(((1, 0), (0, 1))),
                                 K.ZeroPadding2D(1), K.UpSampling2D(interpolation='bilinear')]),
    '3d': ((4, 6, 5, 2), lambda K: [K.Conv3D(4, 3, padding='same', groups=2), K.MaxPooling3D(2, padding='same'),
                                    K.Conv3DTranspose(3, 2, strides=2, output_padding=1), K.AveragePooling3D((1, 2, 2)),
                                    K.UpSampling3D((2, 1, 1)), K.ZeroPadding3D(((1, 0), (0, 1), (2, 2))),
                                    K.Cropping3D(1), K.GlobalMaxPooling3D(keepdims=True)]),
    '1d': ((12, 3), lambda K: [K.Conv1D(4, 3, padding='causal', dilation_rate=2), K.SeparableConv1D(6, 3, depth_multiplier=2),
                               K.DepthwiseConv1D(2, strides=2), K.Conv1DTranspose(2, 3, strides=2, padding='same'),
                               K.UpSampling1D(2), K.ZeroPadding1D((0, 2)), K.Cropping1D((1, 0)),
                               K.GlobalAveragePooling1D(keepdims=True)]),
}


@pytest.mark.parametrize('stack', sorted(SUMMARY_STACKS))
def test_summary_rows_show_keras_shapes_and_counts(keras, stack):
    shape, make = SUMMARY_STACKS[stack]
    ours = models.Sequential([L.Input(shape)] + make(L))
    theirs = keras.Sequential([keras.Input(shape)] + make(keras.layers))
    lines = []
    ours.summary(print_fn=lines.append)
    text = '\n'.join(lines)
    assert len(ours.layers) == len(theirs.layers)
    for mine, keras_layer in zip(ours.layers, theirs.layers):
        label = f'{mine.name} ({type(mine).__name__})'[:28]         # tf.keras 2's 29-column name cell
        row = next(line for line in lines if line.startswith(label))
        assert str(tuple(keras_layer.output.shape)) in row, row
        assert row.rstrip().endswith(str(keras_layer.count_params())), row
    assert f'Total params: {theirs.count_params():,}' in text


def test_keras_files_interoperate_both_ways(tmp_path, keras):
    def build(K, Input, Sequential):
        return Sequential([Input((6, 6, 2)), K.Conv2D(4, 3, padding='same', groups=2, dilation_rate=2),
                           K.DepthwiseConv2D(3, depth_multiplier=2, padding='same'), K.SeparableConv2D(3, 2),
                           K.Conv2DTranspose(2, 3, strides=2, padding='same', activation='sigmoid'),
                           K.Cropping2D(1), K.ZeroPadding2D(((0, 1), (1, 0))), K.UpSampling2D(interpolation='bilinear'),
                           K.MaxPooling2D(), K.GlobalAveragePooling2D(keepdims=True)])
    x = _distinct((3, 6, 6, 2))
    theirs = build(keras.layers, keras.Input, keras.Sequential)
    rng = np.random.default_rng(0)
    theirs.set_weights([(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in theirs.get_weights()])
    theirs.save(tmp_path / 'from_keras.keras')
    loaded = models.load_model(tmp_path / 'from_keras.keras')
    want = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)

    ours = build(L, L.Input, models.Sequential)
    ours.set_weights(theirs.get_weights())
    ours.save(tmp_path / 'from_minidl.keras')
    back = keras.models.load_model(tmp_path / 'from_minidl.keras')
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back(x)), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_masked_global_average_pooling1d_equals_keras(keras):
    import torch
    x = _distinct((2, 5, 3))
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    tx = torch.tensor(x)
    want = keras.layers.GlobalAveragePooling1D()(tx, mask=torch.tensor(mask)).numpy()
    xs = Tensor(x, requires_grad=True)
    y = L.GlobalAveragePooling1D()(xs, mask=mask)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-6, atol=1e-7)
    y.backward(np.ones((2, 3), np.float32))
    np.testing.assert_allclose(xs.grad.numpy(), mask[..., None] / mask.sum(1)[:, None, None] * np.ones((1, 1, 3)),
                               rtol=1e-6)
    embedded = models.Sequential([L.Input((4,)), L.Embedding(5, 2, mask_zero=True), L.GlobalAveragePooling1D()])
    ids = np.array([[1, 2, 0, 0]])
    table = embedded.layers[0].embeddings.numpy()
    np.testing.assert_allclose(embedded.predict(ids, verbose=0), table[[1, 2]].mean(0, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize('make, message', [
    (lambda: L.Conv2D(4, 3, strides=2, dilation_rate=2), 'strides > 1 cannot be combined with dilation_rate > 1'),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, dilation_rate=2), 'strides > 1 cannot be combined'),
    (lambda: L.Conv2D(5, 3, groups=2), r'filters \(5\) must be a multiple of groups \(2\)'),
    (lambda: L.Conv2D(4, 3, padding='causal'), "padding must be 'valid' or 'same'"),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=2), 'output_padding must be smaller than the stride'),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), 'depth_multiplier must be a positive integer'),
    (lambda: L.UpSampling2D(interpolation='bicubic'), "interpolation must be 'nearest' or 'bilinear'"),
    (lambda: L.UpSampling1D(0), 'size must be a positive int'),
    (lambda: L.ZeroPadding3D(((1, 1), (1, 1))), r'padding must be an int, 3 ints \(one per axis\) or 3 pairs'),
    (lambda: L.Cropping1D(-1), 'cropping must be an int or a pair'),
])
def test_bad_arguments_name_the_layer_and_the_fix(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize('layer, shape, message', [
    (lambda: L.Conv2D(4, 3, groups=2, name='g'), (None, 5, 5, 3), "Layer 'g'.*3 channels.*groups=2 does not divide"),
    (lambda: L.Conv3D(2, 3, name='c3'), (None, 5, 5, 3), r"Layer 'c3' \(Conv3D\) expects a 5-D input"),
    (lambda: L.Conv2D(2, 3, dilation_rate=3, name='d'), (None, 6, 6, 1), r"kernel \(3, 3\) \(dilation \(3, 3\)\)"),
    (lambda: L.Cropping2D(((2, 2), (0, 0)), name='crop'), (None, 4, 5, 1), "Layer 'crop'.*removes every position"),
    (lambda: L.MaxPooling3D(name='p'), (None, 4, 4, 1), r"Layer 'p' \(MaxPooling3D\) expects a 5-D input"),
])
def test_bad_inputs_name_the_layer_and_the_shape(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer().build(shape)


def test_aliases_are_the_same_classes():
    assert L.Convolution2DTranspose is L.Conv2DTranspose and L.SeparableConvolution2D is L.SeparableConv2D
    assert L.GlobalAvgPool3D is L.GlobalAveragePooling3D and L.MaxPool3D is L.MaxPooling3D
