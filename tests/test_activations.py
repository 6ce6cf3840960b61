"""keras.activations as minidl.activations: every function gradient-checked in float64 on
hypothesis-drawn shapes, equal to Keras 3 (forward and gradient, through PyTorch's autograd) in
float32, get/serialize/deserialize, and the activation layers (ELU, PReLU, ReLU, LeakyReLU,
Softmax with a mask, Activation) against Keras' on the same weights."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra.numpy import array_shapes

import minidl
from minidl import activations, layers as L
from minidl.autograd import Tensor
from minidl.testing import gradcheck

KINKS = (0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, 0.3, 5.0)


def away_from_kinks(seed, shape, scale=3.0, margin=0.05):
    """Normal samples (times ``scale``) nudged at least ``margin`` away from every kink above."""
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    for k in KINKS:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, 2, -2) * margin, x)
    return x


# (name, minidl call, Keras call on keras.activations): every Keras 3 activation, options included.
CASES = [
    ('relu', lambda a, x: a.relu(x)),
    ('relu_slope', lambda a, x: a.relu(x, negative_slope=0.1)),
    ('relu_max', lambda a, x: a.relu(x, max_value=5.0)),
    ('relu_max6', lambda a, x: a.relu(x, max_value=6.0)),
    ('relu_threshold', lambda a, x: a.relu(x, threshold=0.5)),
    ('relu_all', lambda a, x: a.relu(x, negative_slope=0.3, max_value=5.0, threshold=1.0)),
    ('leaky_relu', lambda a, x: a.leaky_relu(x)),
    ('leaky_relu_01', lambda a, x: a.leaky_relu(x, negative_slope=0.1)),
    ('relu6', lambda a, x: a.relu6(x)),
    ('softmax', lambda a, x: a.softmax(x)),
    ('softmax_axis0', lambda a, x: a.softmax(x, axis=0)),
    ('elu', lambda a, x: a.elu(x)),
    ('elu_alpha', lambda a, x: a.elu(x, alpha=0.5)),
    ('selu', lambda a, x: a.selu(x)),
    ('softplus', lambda a, x: a.softplus(x)),
    ('softsign', lambda a, x: a.softsign(x)),
    ('soft_shrink', lambda a, x: a.soft_shrink(x)),
    ('soft_shrink_1', lambda a, x: a.soft_shrink(x, threshold=1.0)),
    ('sparse_plus', lambda a, x: a.sparse_plus(x)),
    ('silu', lambda a, x: a.silu(x)),
    ('swish', lambda a, x: a.swish(x)),
    ('squareplus', lambda a, x: a.squareplus(x)),
    ('squareplus_b', lambda a, x: a.squareplus(x, b=2)),
    ('gelu', lambda a, x: a.gelu(x)),
    ('gelu_approximate', lambda a, x: a.gelu(x, approximate=True)),
    ('celu', lambda a, x: a.celu(x)),
    ('celu_alpha', lambda a, x: a.celu(x, alpha=2.0)),
    ('glu', lambda a, x: a.glu(x)),
    ('tanh', lambda a, x: a.tanh(x)),
    ('tanh_shrink', lambda a, x: a.tanh_shrink(x)),
    ('hard_tanh', lambda a, x: a.hard_tanh(x)),
    ('hard_shrink', lambda a, x: a.hard_shrink(x)),
    ('hard_shrink_1', lambda a, x: a.hard_shrink(x, threshold=1.0)),
    ('threshold', lambda a, x: a.threshold(x, 0.3, -1.0)),
    ('sigmoid', lambda a, x: a.sigmoid(x)),
    ('sparse_sigmoid', lambda a, x: a.sparse_sigmoid(x)),
    ('exponential', lambda a, x: a.exponential(x)),
    ('hard_sigmoid', lambda a, x: a.hard_sigmoid(x)),
    ('hard_silu', lambda a, x: a.hard_silu(x)),
    ('hard_swish', lambda a, x: a.hard_swish(x)),
    ('linear', lambda a, x: a.linear(x) * 1.0),
    ('mish', lambda a, x: a.mish(x)),
    ('log_softmax', lambda a, x: a.log_softmax(x)),
    ('log_softmax_axis0', lambda a, x: a.log_softmax(x, axis=0)),
    ('log_sigmoid', lambda a, x: a.log_sigmoid(x)),
    ('sparsemax', lambda a, x: a.sparsemax(x)),
    ('sparsemax_axis0', lambda a, x: a.sparsemax(x, axis=0)),
]
IDS = [c[0] for c in CASES]

even_shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5).map(lambda s: s[:-1] + (2 * s[-1],))


@pytest.mark.parametrize('name, call', CASES, ids=IDS)
@given(shape=even_shapes, seed=st.integers(0, 2 ** 16))
def test_gradcheck_every_activation(name, call, shape, seed):
    x = away_from_kinks(seed, shape)
    if name.startswith('exponential'):
        x = x / 3
    if name.startswith('sparsemax'):  # its kinks move: an input at the threshold leaves the support there
        assume(_distance_to_sparsemax_threshold(x, axis=0 if name.endswith('axis0') else -1) > 1e-3)
    gradcheck(lambda t: call(activations, t), x)


def _distance_to_sparsemax_threshold(x, axis):
    """min |x - tau| with tau the sparsemax threshold along ``axis`` (sum(max(x - tau, 0)) = 1)."""
    z = -np.sort(-np.moveaxis(x, axis, -1), axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    cumulative = np.cumsum(z, axis=-1)
    support = (1 + k * z > cumulative).sum(axis=-1, keepdims=True)
    tau = (np.take_along_axis(cumulative, support - 1, axis=-1) - 1) / support
    return np.abs(np.moveaxis(x, axis, -1) - tau).min()


def _keras_value_and_grad(keras, call, x, gy):
    import torch
    t = torch.tensor(x, requires_grad=True)
    y = call(keras.activations, t)
    y.backward(torch.tensor(gy[..., :y.shape[-1]]))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize('name, call', [c for c in CASES if not c[0].startswith('sparsemax')],
                         ids=[i for i in IDS if not i.startswith('sparsemax')])
def test_every_activation_equals_keras_forward_and_gradient(keras, name, call):
    x = away_from_kinks(1, (3, 4, 6)).astype(np.float32)
    gy = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    want_y, want_g = _keras_value_and_grad(keras, call, x, gy)
    t = Tensor(x, requires_grad=True)
    y = call(activations, t)
    y.backward(gy[..., :y.shape[-1]])
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), want_y, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(t.grad.numpy(), want_g, rtol=2e-5, atol=2e-6)


def _sparsemax_reference(z):
    """Sparsemax of one vector by its definition: the closest point of the simplex."""
    s = np.sort(z)[::-1]
    k = max(j for j in range(1, len(z) + 1) if s[j - 1] > (s[:j].sum() - 1) / j)
    return np.maximum(z - (s[:k].sum() - 1) / k, 0)


@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6), seed=st.integers(0, 2 ** 16))
def test_sparsemax_is_the_projection_onto_the_simplex(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    y = activations.sparsemax(x).numpy()
    np.testing.assert_allclose(y.sum(axis=-1), 1, rtol=1e-12)
    want = np.apply_along_axis(_sparsemax_reference, -1, x)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    y0 = activations.sparsemax(x, axis=0).numpy()
    np.testing.assert_allclose(y0, np.apply_along_axis(_sparsemax_reference, 0, x), rtol=1e-12, atol=1e-12)


def test_sparsemax_equals_keras_where_keras_is_right(keras):
    """Keras 3.15's sparsemax is right only when one entry is positive (it sums the cumulative
    sums over the support); minidl equals it there and is the true projection elsewhere."""
    x = np.array([[3.0, 0.5, -1.0], [0.1, 2.5, 0.2]], np.float32)
    want, _ = _keras_value_and_grad(keras, lambda a, t: a.sparsemax(t), x, np.ones_like(x))
    np.testing.assert_allclose(activations.sparsemax(x).numpy(), want, rtol=1e-6)
    two = np.array([[1.0, 0.0, 0.2]], np.float32)
    np.testing.assert_allclose(activations.sparsemax(two).numpy(), [[0.9, 0.0, 0.1]], rtol=1e-6, atol=1e-7)


def test_minidl_has_every_keras_activation(keras):
    from keras.src.activations import ALL_OBJECTS_DICT
    assert set(ALL_OBJECTS_DICT) == set(activations.ALL_OBJECTS_DICT)
    import inspect
    for name, fn in ALL_OBJECTS_DICT.items():
        ours = inspect.signature(activations.ALL_OBJECTS_DICT[name])
        assert [(p.name, p.default) for p in ours.parameters.values()] == \
            [(p.name, p.default) for p in inspect.signature(fn).parameters.values()], name


def test_leaky_relu_by_name_uses_keras_3_slope_02_and_the_layer_keeps_03():
    """Issue 14's fix: 'leaky_relu' as an activation string had slope 0.3; Keras 3's function uses 0.2."""
    x = np.array([[-1.0, 2.0]], np.float32)
    assert L.Activation('leaky_relu')(x).numpy().tolist() == [[pytest.approx(-0.2), 2.0]]
    dense = L.Dense(2, activation='leaky_relu', kernel_initializer='ones',
                    use_bias=False)
    assert dense(np.array([[-1.0, 0.0]], np.float32)).numpy().tolist() == [[pytest.approx(-0.2)] * 2]
    assert L.LeakyReLU()(x).numpy().tolist() == [[pytest.approx(-0.3), 2.0]]


def test_get_accepts_names_aliases_callables_dicts_and_none():
    assert activations.get(None) is activations.linear
    assert activations.get('gelu') is activations.gelu
    assert activations.get('swish') is activations.silu and activations.get('hard_swish') is activations.hard_silu
    assert activations.get('ReLU') is activations.relu          # lenient about case
    fn = lambda t: t  # noqa: E731
    assert activations.get(fn) is fn
    assert activations.get({'module': 'keras.activations', 'class_name': 'function', 'config': 'mish',
                            'registered_name': 'mish'}) is activations.mish
    with pytest.raises(ValueError, match="Unknown activation 'relux'.*gelu"):
        activations.get('relux')
    with pytest.raises(ValueError, match='Could not interpret'):
        activations.get(3)


def test_serialize_gives_names_and_registered_functions_round_trip():
    assert activations.serialize(activations.relu) == 'relu'
    assert activations.serialize(activations.swish) == 'silu'
    assert activations.deserialize('hard_swish') is activations.hard_silu

    @minidl.saving.register_keras_serializable(package='test_activations')
    def doubled(x):
        return x * 2

    config = activations.serialize(doubled)
    assert config['registered_name'] == 'test_activations>doubled' and config['config'] == 'test_activations>doubled'
    assert activations.deserialize(config) is doubled
    assert activations.get(config) is doubled


def test_keras_serializes_minidl_names_the_same_way(keras):
    for name in ('relu', 'gelu', 'silu', 'hard_silu', 'log_softmax', 'sparsemax'):
        assert keras.activations.serialize(keras.activations.get(name)) == \
            activations.serialize(activations.get(name)) == name


def test_every_layer_activation_string_works():
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    for name in activations.ALL_OBJECTS_DICT:
        if name == 'threshold':  # needs its threshold and default value, in Keras too
            continue
        y = L.Dense(4, activation=name)(x)
        assert y.shape == ((2, 2) if name == 'glu' else (2, 4)) and np.isfinite(y.numpy()).all(), name
    assert L.Conv1D(2, 2, activation='mish')(x[:, :, None]).shape == (2, 3, 2)


# --- the activation layers ------------------------------------------------------------------------

LAYER_CASES = [
    ('ReLU', {}), ('ReLU', {'max_value': 6.0}), ('ReLU', {'negative_slope': 0.1, 'threshold': 0.5}),
    ('ReLU', {'max_value': 5.0, 'negative_slope': 0.2, 'threshold': 1.0}),
    ('LeakyReLU', {}), ('LeakyReLU', {'negative_slope': 0.05}),
    ('ELU', {}), ('ELU', {'alpha': 0.7}),
    ('Softmax', {}), ('Softmax', {'axis': 1}), ('Softmax', {'axis': [1, 2]}),
    ('Activation', {'activation': 'gelu'}), ('Activation', {'activation': 'hard_swish'}),
    ('PReLU', {}), ('PReLU', {'shared_axes': [1]}), ('PReLU', {'shared_axes': 2}),
    ('PReLU', {'alpha_initializer': 'ones', 'shared_axes': [1, 2]}),
]


def _torch_forward_backward(layer, x, gy):
    import torch
    t = torch.tensor(x, requires_grad=True)
    y = layer(t)
    y.backward(torch.tensor(gy))
    grads = [v.value.grad.numpy() for v in layer.trainable_weights]
    return y.detach().numpy(), t.grad.numpy(), grads


@pytest.mark.parametrize('cls, kwargs', LAYER_CASES, ids=[f'{c}-{k}' for c, k in LAYER_CASES])
def test_activation_layers_equal_keras(keras, cls, kwargs):
    x = away_from_kinks(3, (2, 3, 4)).astype(np.float32)
    gy = np.random.default_rng(4).standard_normal(x.shape).astype(np.float32)
    theirs = getattr(keras.layers, cls)(**kwargs)
    theirs.build(x.shape)
    if cls == 'PReLU':  # a random slope, so that the comparison means something
        theirs.set_weights([np.random.default_rng(5).uniform(0.1, 0.9, w.shape).astype(np.float32)
                            for w in theirs.get_weights()])
    ours = getattr(L, cls)(**kwargs)
    ours.build((None,) + x.shape[1:])
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params()
    want_y, want_gx, want_gw = _torch_forward_backward(theirs, x, gy)
    t = Tensor(x, requires_grad=True)
    y = ours(t)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), want_y, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(t.grad.numpy(), want_gx, rtol=2e-5, atol=2e-6)
    for w, g in zip(ours.trainable_weights, want_gw):
        np.testing.assert_allclose(w.grad.numpy(), g, rtol=2e-5, atol=2e-6)
    assert ours.get_config().keys() == theirs.get_config().keys()
    assert ours.compute_output_shape((None, 3, 4)) == tuple(theirs.compute_output_shape((None, 3, 4)))


@pytest.mark.parametrize('cls, kwargs', LAYER_CASES, ids=[f'{c}-{k}' for c, k in LAYER_CASES])
@given(shape=array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4), seed=st.integers(0, 2 ** 16))
def test_activation_layers_gradcheck_in_float64(cls, kwargs, shape, seed):
    """Each activation layer with its options, as a layer (float64 weights for PReLU), on drawn shapes."""
    x = away_from_kinks(seed, (2, 3) + shape)
    layer = getattr(L, cls)(**kwargs, dtype='float64')
    layer.build((None,) + x.shape[1:])
    gradcheck(lambda t: layer(t), x)


@pytest.mark.parametrize('cls, kwargs', LAYER_CASES, ids=[f'{c}-{k}' for c, k in LAYER_CASES])
def test_activation_layer_configs_round_trip_and_read_keras_configs(keras, cls, kwargs):
    ours = getattr(L, cls)(**kwargs)
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    theirs = getattr(keras.layers, cls)(**kwargs).get_config()
    from_keras = getattr(L, cls).from_config(theirs)
    x = away_from_kinks(6, (2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(from_keras(x).numpy(), getattr(L, cls)(**kwargs)(x).numpy(), rtol=1e-6)


def test_prelu_gradients_into_alpha_and_input_in_float64():
    layer = L.PReLU(shared_axes=[1])
    layer.build((None, 3, 4))

    def fn(x, alpha):
        layer.alpha = alpha
        return layer(x)
    rng = np.random.default_rng(7)
    gradcheck(fn, away_from_kinks(7, (2, 3, 4)), rng.uniform(0.1, 0.5, (1, 4)))


def test_prelu_errors_name_the_layer():
    with pytest.raises(ValueError, match="'p_re_lu.*' \\(PReLU\\).*shared_axes \\[3\\]"):
        L.PReLU(shared_axes=[3]).build((None, 3, 4))
    with pytest.raises(ValueError, match=r'PReLU.*non-shared axis known.*\(None, None, 4\)'):
        L.PReLU().build((None, None, 4))
    assert L.PReLU(shared_axes=1).build((None, None, 4)) is None


def test_relu_layer_rejects_negative_arguments():
    for kwargs in ({'max_value': -1}, {'negative_slope': -0.1}, {'threshold': -1}, {'threshold': None}):
        with pytest.raises(ValueError, match=r"'re_lu.*' \(ReLU\).*>= 0"):
            L.ReLU(**kwargs)


def test_leaky_relu_accepts_keras2_alpha():
    assert L.LeakyReLU(alpha=0.1).negative_slope == 0.1 and L.LeakyReLU(alpha=0.1).alpha == 0.1
    assert L.LeakyReLU(negative_slope=0.2).get_config()['negative_slope'] == 0.2


@pytest.mark.parametrize('mask_shape', [(2, 3, 4), (2, 1, 4), (4,), (3, 1)])
def test_softmax_mask_equals_keras(keras, mask_shape):
    import torch
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    mask = rng.random(mask_shape) > 0.4
    mask.reshape(-1)[0] = False
    want = keras.ops.convert_to_numpy(keras.layers.Softmax()(torch.tensor(x), mask=torch.tensor(mask)))
    got = L.Softmax().call(Tensor(x), mask=mask).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    float_mask = mask.astype(np.float32)
    np.testing.assert_allclose(L.Softmax().call(Tensor(x), mask=float_mask).numpy(), want, rtol=1e-6, atol=1e-7)


def test_softmax_masked_rows_are_zero_and_gradient_skips_them():
    x = Tensor(np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]), requires_grad=True)
    mask = np.array([[True, False, True], [False, False, False]])
    y = L.Softmax().call(x, mask=mask)
    assert y.numpy()[1].tolist() == [0, 0, 0] and y.numpy()[0, 1] == 0
    np.testing.assert_allclose(y.numpy()[0].sum(), 1)
    gradcheck(lambda t: L.Softmax().call(t, mask=mask), np.random.default_rng(9).standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"Softmax.*mask shape \(2, 2\).*\(2, 3\)"):
        L.Softmax().call(x, mask=np.ones((2, 2), bool))


def test_activation_layers_keep_the_old_import_paths():
    from minidl.layers import Activation, LeakyReLU, ReLU, Softmax  # noqa: F401
    assert minidl.layers.ReLU is minidl.layers.activations.ReLU


def test_softmax_takes_the_mask_from_its_input_and_as_an_argument(keras):
    import torch
    x = np.random.default_rng(10).standard_normal((2, 4)).astype(np.float32)
    mask = np.array([[True, True, False, True], [False, True, True, True]])
    want = keras.ops.convert_to_numpy(keras.layers.Softmax()(torch.tensor(x), mask=torch.tensor(mask)))
    np.testing.assert_allclose(L.Softmax()(x, mask=mask).numpy(), want, rtol=1e-6, atol=1e-7)
    t = Tensor(x)
    t._keras_mask = mask
    np.testing.assert_allclose(L.Softmax()(t).numpy(), want, rtol=1e-6, atol=1e-7)
