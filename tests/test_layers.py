"""Layers: forward shapes and values, gradients through the layer into its weights, the trainable
flag, get/set_weights, Keras names, and build-time errors that name the layer and the shapes."""
import numpy as np
import pytest

import minidl
from minidl import layers as L
from minidl import regularizers
from minidl.autograd import Tensor
from minidl.testing import gradcheck


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def test_dense_matches_numpy_and_names_weights_like_keras():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    layer = L.Dense(5, activation='relu')
    y = layer(x)
    assert layer.name == 'dense' and L.Dense(2).name == 'dense_1'
    assert [w.path for w in layer.weights] == ['dense/kernel', 'dense/bias']
    k, b = layer.get_weights()
    np.testing.assert_allclose(y.numpy(), np.maximum(x @ k + b, 0), rtol=1e-6)
    assert layer.count_params() == 3 * 5 + 5


def test_dense_applies_to_the_last_axis_of_a_4d_input():
    layer = L.Dense(7)
    x = np.ones((2, 3, 4, 5), np.float32)
    assert layer(x).shape == (2, 3, 4, 7)
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 3, 4, 7)


def test_gradcheck_through_dense_to_input_kernel_and_bias():
    layer = L.Dense(3, activation='tanh')
    layer.build((None, 4))
    rng = np.random.default_rng(1)

    def fn(x, kernel, bias):
        layer.kernel, layer.bias = kernel, bias
        return layer(x)
    gradcheck(fn, rng.standard_normal((2, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3))


def test_gradcheck_through_conv2d_layer():
    layer = L.Conv2D(2, 3, strides=2, padding='same', activation='sigmoid')
    layer.build((None, 5, 5, 2))
    rng = np.random.default_rng(2)

    def fn(x, kernel, bias):
        layer.kernel, layer.bias = kernel, bias
        return layer(x)
    gradcheck(fn, rng.standard_normal((2, 5, 5, 2)), rng.standard_normal((3, 3, 2, 2)), rng.standard_normal(2))


def test_backward_fills_weight_gradients_of_a_small_stack():
    conv, dense = L.Conv2D(3, 2, activation='relu'), L.Dense(1)
    x = np.random.default_rng(3).standard_normal((2, 4, 4, 1)).astype(np.float32)
    out = dense(L.Flatten()(conv(x)))
    (out * out).sum().backward()
    for w in conv.weights + dense.weights:
        assert w.grad is not None and w.grad.shape == w.shape


@pytest.mark.parametrize('layer, in_shape, out_shape', [
    (L.Conv2D(4, (3, 5), strides=(2, 1)), (2, 9, 9, 3), (2, 4, 5, 4)),
    (L.Conv2D(4, 3, strides=4, padding='same'), (2, 32, 32, 3), (2, 8, 8, 4)),
    (L.Conv1D(6, 5, padding='same'), (2, 20, 3), (2, 20, 6)),
    (L.Conv1D(6, 2), (2, 20, 3), (2, 19, 6)),
    (L.MaxPooling2D(), (2, 7, 7, 3), (2, 3, 3, 3)),
    (L.MaxPooling2D(2, padding='same'), (2, 7, 7, 3), (2, 4, 4, 3)),
    (L.MaxPooling2D(3, strides=2, padding='same'), (2, 8, 8, 3), (2, 4, 4, 3)),
    (L.AveragePooling2D(2), (2, 6, 4, 3), (2, 3, 2, 3)),
    (L.MaxPooling1D(2), (2, 99, 4), (2, 49, 4)),
    (L.AveragePooling1D(3), (2, 9, 4), (2, 3, 4)),
    (L.GlobalAveragePooling2D(), (2, 5, 5, 7), (2, 7)),
    (L.GlobalMaxPooling2D(), (2, 5, 5, 7), (2, 7)),
    (L.GlobalAveragePooling1D(), (2, 5, 7), (2, 7)),
    (L.GlobalMaxPooling1D(), (2, 5, 7), (2, 7)),
    (L.UpSampling2D(), (2, 4, 3, 2), (2, 8, 6, 2)),
    (L.UpSampling2D((2, 3)), (2, 4, 3, 2), (2, 8, 9, 2)),
    (L.Flatten(), (2, 3, 4, 5), (2, 60)),
    (L.Reshape((4, -1)), (2, 12), (2, 4, 3)),
    (L.Dropout(0.5), (2, 6), (2, 6)),
    (L.BatchNormalization(), (2, 4, 4, 3), (2, 4, 4, 3)),
    (L.Activation('softmax'), (2, 5), (2, 5)),
    (L.ReLU(), (2, 5), (2, 5)),
    (L.LeakyReLU(alpha=0.1), (2, 5), (2, 5)),
    (L.Softmax(), (2, 5), (2, 5)),
])
def test_eager_output_shape_equals_compute_output_shape(layer, in_shape, out_shape):
    y = layer(np.random.default_rng(0).standard_normal(in_shape).astype(np.float32))
    assert y.shape == out_shape
    assert layer.compute_output_shape((None,) + in_shape[1:]) == (None,) + out_shape[1:]


def test_embedding_looks_up_rows_and_casts_float_ids():
    layer = L.Embedding(10, 4)
    ids = np.array([[1, 2, 3], [9, 0, 1]])
    y = layer(ids)
    table = layer.get_weights()[0]
    np.testing.assert_array_equal(y.numpy(), table[ids])
    np.testing.assert_array_equal(layer(ids.astype(np.float32)).numpy(), table[ids])
    assert np.abs(table).max() <= 0.05 and [w.path for w in layer.weights] == ['embedding/embeddings']


def test_activation_layers_match_their_formulas():
    x = np.array([[-2.0, -0.5, 0.0, 1.5, 7.0]], np.float32)
    np.testing.assert_allclose(L.ReLU()(x).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(L.ReLU(max_value=6.0)(x).numpy(), np.clip(x, 0, 6))
    np.testing.assert_allclose(L.LeakyReLU(alpha=0.1)(x).numpy(), np.where(x > 0, x, 0.1 * x), rtol=1e-6)
    np.testing.assert_allclose(L.LeakyReLU(negative_slope=0.2)(x).numpy(), np.where(x > 0, x, 0.2 * x), rtol=1e-6)
    assert L.LeakyReLU().alpha == 0.3
    e = np.exp(x - x.max())
    np.testing.assert_allclose(L.Softmax()(x).numpy(), e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(L.Activation('tanh')(x).numpy(), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(L.Activation(lambda t: t * 2)(x).numpy(), 2 * x)
    with pytest.raises(ValueError, match='Unknown activation'):
        L.Dense(3, activation='relux')


def test_dropout_is_identity_at_inference_and_scales_in_training():
    x = np.ones((200, 50), np.float32)
    layer = L.Dropout(0.4)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.6)}
    assert (y == 0).mean() == pytest.approx(0.4, abs=0.03)


def test_batchnorm_weights_order_training_and_moving_statistics():
    layer = L.BatchNormalization(momentum=0.5)
    x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4)).astype(np.float32)
    y = layer(x, training=True).numpy()
    assert [w.name for w in layer.weights] == ['gamma', 'beta', 'moving_mean', 'moving_variance']
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * x.mean(0), rtol=1e-5)
    inference = layer(x).numpy()
    expected = (x - layer.moving_mean.numpy()) / np.sqrt(layer.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(inference, expected, rtol=1e-5, atol=1e-6)  # x scale + shift rounds near 0


def test_frozen_batchnorm_runs_in_inference_mode_even_when_training():
    layer = L.BatchNormalization()
    x = np.random.default_rng(0).normal(3.0, 2.0, (16, 4)).astype(np.float32)
    layer.build((None, 4))
    layer.trainable = False
    before = layer.get_weights()
    layer(x, training=True)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_trainable_false_freezes_weights_and_lists_them_as_non_trainable():
    layer = L.Dense(3)
    layer.build((None, 2))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert not any(w.requires_grad for w in layer.weights)
    x = Tensor(np.ones((1, 2), np.float32), requires_grad=True)
    layer(x).sum().backward()
    assert layer.kernel.grad is None and x.grad is not None
    layer.trainable = True
    assert all(w.requires_grad for w in layer.weights) and len(layer.trainable_weights) == 2
    frozen = L.Dense(3, trainable=False)
    frozen.build((None, 2))
    assert frozen.trainable_weights == []


def test_get_set_weights_round_trip_in_place_and_shape_errors():
    layer = L.Dense(2)
    layer.build((None, 3))
    kernel_tensor = layer.kernel
    new = [np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1.0, -1.0], np.float32)]
    layer.set_weights(new)
    assert layer.kernel is kernel_tensor
    for a, b in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    got = layer.get_weights()
    got[0][0, 0] = 99
    assert layer.get_weights()[0][0, 0] == 0  # get_weights returns copies
    with pytest.raises(ValueError, match=r"'dense'.*'dense/kernel' has shape \(3, 2\).*\(2, 3\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])
    with pytest.raises(ValueError, match='has 2 weight'):
        layer.set_weights([np.zeros((3, 2))])


def test_regularization_losses_are_differentiable_and_follow_the_weights():
    layer = L.Dense(2, kernel_regularizer=regularizers.l2(0.1), bias_regularizer='l1')
    layer.build((None, 3))
    layer.set_weights([np.ones((3, 2), np.float32), np.array([1.0, -2.0], np.float32)])
    losses = layer.losses
    assert [round(float(t.item()), 5) for t in losses] == [0.6, 0.03]
    losses[0].backward()
    np.testing.assert_allclose(layer.kernel.grad.numpy(), 0.2 * np.ones((3, 2)), rtol=1e-6)
    layer.set_weights([np.zeros((3, 2), np.float32), np.zeros(2, np.float32)])
    assert float(layer.losses[0].item()) == 0.0


def test_initializer_arguments_reach_the_weights():
    layer = L.Dense(4, kernel_initializer='ones', bias_initializer=minidl.initializers.Constant(0.5))
    layer.build((None, 2))
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((2, 4)))
    np.testing.assert_array_equal(layer.get_weights()[1], np.full(4, 0.5))


def test_same_seed_gives_same_initial_weights():
    minidl.seed(5)
    a = L.Conv2D(3, 3, kernel_initializer='he_normal')
    a.build((None, 8, 8, 2))
    minidl.seed(5)
    b = L.Conv2D(3, 3, kernel_initializer='he_normal')
    b.build((None, 8, 8, 2))
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])


def test_concatenate_and_add_merge_inputs():
    a, b = np.ones((2, 3), np.float32), np.full((2, 4), 2, np.float32)
    np.testing.assert_array_equal(L.Concatenate()([a, b]).numpy(), np.concatenate([a, b], 1))
    np.testing.assert_array_equal(L.Add()([a, a, a]).numpy(), 3 * a)
    fmaps = [np.ones((1, 4, 4, 2), np.float32), np.ones((1, 4, 4, 5), np.float32)]
    assert L.Concatenate(axis=-1)(fmaps).shape == (1, 4, 4, 7)


def test_count_params_before_build_is_an_error():
    with pytest.raises(ValueError, match="'dense'.*not built"):
        L.Dense(3).count_params()


@pytest.mark.parametrize('make, message', [
    (lambda: L.Conv2D(4, 3)(L.Input((784,))),
     r"'conv2d' \(Conv2D\) expects a 4-D input .*got input shape \(None, 784\)"),
    (lambda: L.Conv1D(4, 3)(L.Input((28, 28, 1))),
     r"'conv1d' \(Conv1D\) expects a 3-D input .*\(None, 28, 28, 1\)"),
    (lambda: L.Concatenate()([L.Input((3, 2)), L.Input((4, 2))]),
     r"'concatenate' \(Concatenate\).*\(None, 3, 2\), \(None, 4, 2\)"),
    (lambda: L.Concatenate()([L.Input((3,)), L.Input((4, 2))]),
     r"'concatenate' \(Concatenate\) needs inputs of the same rank"),
    (lambda: L.Add()([L.Input((3,)), L.Input((4,))]), r"'add' \(Add\).*\(None, 3\), \(None, 4\)"),
    (lambda: L.Reshape((5, 5))(L.Input((24,))),
     r"'reshape' \(Reshape\) cannot reshape input of shape \(None, 24\).*\(5, 5\)"),
    (lambda: L.MaxPooling2D()(L.Input((10,))), r"'max_pooling2d' \(MaxPooling2D\) expects a 4-D input"),
    (lambda: L.Conv2D(4, 5)(L.Input((3, 3, 1))), r"'conv2d' \(Conv2D\): kernel \(5, 5\).*does not fit"),
    (lambda: L.Flatten()(L.Input((None, 3))), r"'flatten' \(Flatten\) needs every non-batch dimension"),
])
def test_build_errors_name_the_layer_and_the_shapes(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_built_layer_rejects_a_later_input_of_another_width():
    layer = L.Dense(3)
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"'dense'.*built for inputs with 4 on axis -1.*\(2, 5\)"):
        layer(np.ones((2, 5), np.float32))
    conv = L.Conv2D(2, 3)
    conv(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"'conv2d' \(Conv2D\) expects a 4-D input"):
        conv(np.ones((1, 5, 5), np.float32))


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match='unitz'):
        L.Dense(3, unitz=4)


def test_zero_padding2d_values_shapes_and_gradient():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 2))
    layer = L.ZeroPadding2D(((1, 0), (2, 1)))
    y = layer(Tensor(x)).numpy()
    assert y.shape == (2, 4, 7, 2) == layer.compute_output_shape((2, 3, 4, 2))
    np.testing.assert_array_equal(y[:, 1:, 2:6], x)
    assert not y[:, 0].any() and not y[:, :, :2].any() and not y[:, :, 6:].any()
    assert L.ZeroPadding2D(2)(Tensor(x)).shape == (2, 7, 8, 2)
    assert L.ZeroPadding2D((1, 3))(Tensor(x)).shape == (2, 5, 10, 2)
    gradcheck(lambda t: L.ZeroPadding2D(((1, 0), (2, 1)))(t), x)


def test_zero_padding2d_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"ZeroPadding2D.*non-negative"):
        L.ZeroPadding2D(((1, -1), (0, 0)))
    with pytest.raises(ValueError, match=r"expects a 4-D input"):
        minidl.models.Sequential([L.Input((5, 3)), L.ZeroPadding2D(1)])


@pytest.mark.parametrize('size', [(6, 8), (2, 3), (5, 5), (3, 4)])
def test_resizing_is_half_pixel_bilinear_and_differentiable(size):
    scipy_ndimage = pytest.importorskip('scipy.ndimage')
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 2))
    y = L.Resizing(*size)(Tensor(x)).numpy()
    zoom = (1, size[0] / 3, size[1] / 4, 1)
    ref = scipy_ndimage.zoom(x, zoom, order=1, mode='nearest', grid_mode=True)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    gradcheck(lambda t: L.Resizing(*size)(t), x)


def test_resizing_rejects_interpolations_it_does_not_have():
    with pytest.raises(ValueError, match="Resizing.*interpolation must be one of.*'bicubic'"):
        L.Resizing(4, 4, interpolation='bicubic')
