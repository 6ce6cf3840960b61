"""Merge layers (Multiply, Subtract, Average, Maximum, Minimum, Dot and the functional forms) with
Keras' broadcasting and shape rules, Permute, Lambda and Identity: float64 gradient checks, Keras 3
as the oracle for values, gradients, output shapes and get_config keys, masks, serialization."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minidl
from minidl import layers as L, models
from minidl.autograd import Tensor
from minidl.saving import deserialize_keras_object, serialize_keras_object
from minidl.testing import gradcheck


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def _normal(seed, shape, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


MERGES = ['Multiply', 'Subtract', 'Average', 'Maximum', 'Minimum', 'Add']
SHAPE_SETS = [
    [(2, 3, 4), (2, 3, 4)],
    [(2, 3, 4), (2, 1, 4)],
    [(2, 3, 4), (2, 4)],          # lower rank: a size-1 axis is added after the batch axis
    [(2, 3, 1), (2, 1, 5)],
    [(2, 5), (2, 5), (2, 1)],
]


def _keras_merge(keras, cls, arrays, gy, masks=None):
    import torch
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    inputs = ts
    if masks is not None:
        inputs = [t * 1.0 for t in ts]
        for t, m in zip(inputs, masks):
            if m is not None:
                t._keras_mask = torch.tensor(m)
    y = getattr(keras.layers, cls)()(inputs)
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


# Subtract takes exactly two inputs (its error is tested below); Add keeps its own same-shape rule
# (the layers of issue 14), so it is compared on equal shapes only.
MERGE_CASES = [(cls, shapes) for cls in MERGES for shapes in SHAPE_SETS
               if not (cls == 'Subtract' and len(shapes) != 2) and not (cls == 'Add' and len(set(shapes)) > 1)]


@pytest.mark.parametrize('cls, shapes', MERGE_CASES, ids=str)
def test_merge_layers_equal_keras_with_broadcasting(keras, cls, shapes):
    arrays = [_normal(i, s, np.float32) for i, s in enumerate(shapes)]
    layer = getattr(L, cls)()
    out_shape = layer.compute_output_shape([(None,) + s[1:] for s in shapes])
    gy = _normal(9, (2,) + out_shape[1:], np.float32)
    want_y, want_g = _keras_merge(keras, cls, arrays, gy)
    ts = [Tensor(a, requires_grad=True) for a in arrays]
    y = layer(ts)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), want_y, rtol=1e-6, atol=1e-7)
    for t, g in zip(ts, want_g):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-6, atol=1e-7)
    theirs = getattr(keras.layers, cls)()
    assert out_shape == tuple(theirs.compute_output_shape([(None,) + s[1:] for s in shapes]))
    if cls != 'Add':
        assert layer.get_config().keys() == theirs.get_config().keys()


@pytest.mark.parametrize('cls', ['Multiply', 'Subtract', 'Average', 'Maximum', 'Minimum'])
@given(data=mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, min_side=1, max_side=4),
       seed=st.integers(0, 2 ** 16))
def test_merge_gradcheck_on_broadcasting_shapes(cls, data, seed):
    a_shape, b_shape = ((3,) + s for s in data.input_shapes)
    a = np.random.default_rng(seed).permutation(int(np.prod(a_shape))).reshape(a_shape) * 0.1
    b = np.random.default_rng(seed + 1).permutation(int(np.prod(b_shape))).reshape(b_shape) * 0.1 + 0.05  # no ties
    gradcheck(lambda x, y: getattr(L, cls)()([x, y]), a, b)


@pytest.mark.parametrize('cls', ['Multiply', 'Maximum', 'Minimum', 'Average', 'Subtract'])
def test_masked_merges_equal_keras(keras, cls):
    """Keras' mask rules: Multiply counts masked positions as 1, Maximum/Minimum never let a masked
    position win, the others ignore masks in the values."""

    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 5, 3)).astype(np.float32) for _ in range(2)]
    masks = [rng.random((2, 5)) > 0.5, rng.random((2, 5)) > 0.5]
    gy = rng.standard_normal((2, 5, 3)).astype(np.float32)
    want_y, want_g = _keras_merge(keras, cls, arrays, gy, masks)
    ts = []
    for a, m in zip(arrays, masks):
        t = Tensor(a, requires_grad=True)
        t._keras_mask = m
        ts.append(t)
    y = getattr(L, cls)()(ts)
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), want_y, rtol=1e-6, atol=1e-7)
    for t, g in zip(ts, want_g):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-6, atol=1e-7)
    assert np.array_equal(getattr(L, cls)().compute_mask(ts, masks), masks[0] | masks[1])
    assert getattr(L, cls)().compute_mask(ts, [masks[0], None]) is None


def test_merge_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"'multiply' \(Multiply\).*\(3, 4\) and \(3, 5\).*do not broadcast"):
        L.Multiply()([np.ones((2, 3, 4)), np.ones((2, 3, 5))])
    with pytest.raises(ValueError, match=r"'subtract' \(Subtract\).*exactly 2 inputs, got 3"):
        L.Subtract()([np.ones((2, 3))] * 3)
    with pytest.raises(ValueError, match=r"Average.*different batch sizes"):
        L.Average()([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match=r"Maximum.*list of inputs"):
        L.Maximum()(np.ones((2, 3)))


DOT_CASES = [
    ((4, 5), (4, 5), 1),
    ((4, 5), (4, 5), -1),
    ((4, 3, 5), (4, 10, 3), (1, 2)),
    ((4, 3, 5), (4, 3, 6), 1),
    ((4, 2, 3, 5), (4, 5, 7), (3, 1)),
    ((4, 5), (4, 6, 5), (1, 2)),
    ((4, 3, 5), (4, 5), (2, 1)),
    ((4, 2, 3, 5), (4, 6, 2, 7), (1, 2)),
]


@pytest.mark.parametrize('normalize', [False, True])
@pytest.mark.parametrize('s1, s2, axes', DOT_CASES, ids=str)
def test_dot_equals_keras(keras, s1, s2, axes, normalize):
    import torch
    a, b = _normal(1, s1, np.float32), _normal(2, s2, np.float32)
    theirs = keras.layers.Dot(axes=axes, normalize=normalize)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    want = theirs([ta, tb])
    gy = _normal(3, tuple(want.shape), np.float32)
    want.backward(torch.tensor(gy))
    ours = L.Dot(axes=axes, normalize=normalize)
    xa, xb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    y = ours([xa, xb])
    y.backward(gy)
    np.testing.assert_allclose(y.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xa.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xb.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-5)
    shapes = [(None,) + s1[1:], (None,) + s2[1:]]
    assert ours.compute_output_shape(shapes) == tuple(theirs.compute_output_shape(shapes))
    assert ours.compute_output_shape(shapes)[1:] == y.shape[1:]
    assert ours.get_config() .keys() == theirs.get_config().keys()


@pytest.mark.parametrize('s1, s2, axes', DOT_CASES, ids=str)
def test_dot_gradcheck(s1, s2, axes):
    a, b = _normal(4, (2,) + s1[1:]), _normal(5, (2,) + s2[1:])
    gradcheck(lambda x, y: L.Dot(axes)([x, y]), a, b)
    gradcheck(lambda x, y: L.Dot(axes, normalize=True)([x, y]), a, b)


def test_dot_of_a_zero_vector_is_finite_when_normalized():
    x = Tensor(np.zeros((1, 3)), requires_grad=True)
    y = L.Dot(1, normalize=True)([x, Tensor(np.ones((1, 3)))])
    y.sum().backward()
    assert y.numpy().tolist() == [[0.0]] and np.isfinite(x.grad.numpy()).all()


def test_dot_errors():
    with pytest.raises(ValueError, match=r"'dot' \(Dot\).*3 \(axis 1 of the first input\) and 4"):
        L.Dot(1)([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match=r"Dot.*list of 2 inputs"):
        L.Dot(1).compute_output_shape([(None, 3)])
    with pytest.raises(ValueError, match=r"Dot.*non-batch axes"):
        L.Dot(0)([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(TypeError, match=r"Dot.*axes must be an int"):
        L.Dot('1')
    with pytest.raises(ValueError, match=r"Dot.*pair of ints"):
        L.Dot((1, 2, 3))


def test_functional_forms_build_a_model_with_keras_shapes_and_counts(keras):
    def build(lib):
        a, b = lib.layers.Input((4,)), lib.layers.Input((4,))
        c = lib.layers.Input((3, 4))
        ha, hb = lib.layers.Dense(4)(a), lib.layers.Dense(4)(b)
        merged = [lib.layers.add([ha, hb]), lib.layers.multiply([ha, hb]), lib.layers.subtract([ha, hb]),
                  lib.layers.average([ha, hb]), lib.layers.maximum([ha, hb]), lib.layers.minimum([ha, hb]),
                  lib.layers.dot([ha, hb], axes=1), lib.layers.dot([ha, hb], axes=1, normalize=True)]
        joined = lib.layers.concatenate(merged)
        seq = lib.layers.multiply([c, ha])            # (3, 4) with (4,): broadcast over the steps
        out = lib.layers.Dense(1)(lib.layers.concatenate([joined, lib.layers.Flatten()(seq)]))
        return lib.models.Model([a, b, c], out)
    ours, theirs = build(minidl), build(keras)
    assert ours.output_shape == tuple(theirs.output_shape)
    assert ours.count_params() == theirs.count_params()
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(6)
    data = [rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3, 4))]
    data = [d.astype(np.float32) for d in data]
    np.testing.assert_allclose(ours.predict(data, verbose=0), theirs.predict(data, verbose=0), rtol=1e-5, atol=1e-5)


# --- Permute ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('dims, shape', [((2, 1), (2, 3, 4)), ((3, 1, 2), (2, 3, 4, 5)), ((1,), (2, 3)),
                                         ((2, 3, 1), (2, 3, 4, 5))])
def test_permute_equals_keras_and_gradchecks(keras, dims, shape):
    x = _normal(7, shape)
    want = keras.ops.convert_to_numpy(keras.layers.Permute(dims)(x.astype(np.float32)))
    layer = L.Permute(dims)
    np.testing.assert_allclose(layer(x.astype(np.float32)).numpy(), want)
    assert layer.compute_output_shape((None,) + shape[1:]) == \
        tuple(keras.layers.Permute(dims).compute_output_shape((None,) + shape[1:]))
    assert layer.get_config().keys() == keras.layers.Permute(dims).get_config().keys()
    gradcheck(lambda t: L.Permute(dims)(t), x)


def test_permute_errors():
    with pytest.raises(ValueError, match=r"'permute' \(Permute\).*permutation of 1 .. 2.*\(0, 1\)"):
        L.Permute((0, 1))
    with pytest.raises(ValueError, match=r"Permute.*3-D"):
        L.Permute((2, 1))(np.ones((2, 3)))


def test_permute_in_a_model_summary_and_config_round_trip():
    model = models.Sequential([L.Input((3, 4)), L.Permute((2, 1)), L.Dense(2)])
    assert model.output_shape == (None, 4, 2)
    layer = L.Permute((2, 1))
    assert type(layer).from_config(layer.get_config()).dims == (2, 1)


# --- Lambda and Identity -------------------------------------------------------------------------------

def test_lambda_eager_symbolic_and_gradients():
    layer = L.Lambda(lambda x: x ** 2 + 1)
    x = _normal(8, (2, 3))
    np.testing.assert_allclose(layer(x.astype(np.float32)).numpy(), x.astype(np.float32) ** 2 + 1, rtol=1e-6)
    gradcheck(lambda t: layer(t), x)
    inp = L.Input((3,))
    out = L.Lambda(lambda t: minidl.functional.concatenate([t, t * 2], axis=-1))(inp)
    assert out.shape == (None, 6)                             # inferred by running the function once
    model = models.Model(inp, out)
    np.testing.assert_allclose(model.predict(x.astype(np.float32), verbose=0),
                               np.concatenate([x, 2 * x], -1), rtol=1e-6)


def test_lambda_output_shape_arguments_training_and_several_inputs():
    a, b = L.Input((3,)), L.Input((3,))
    diff = L.Lambda(lambda xs: xs[0] - xs[1], output_shape=(3,))([a, b])
    assert diff.shape == (None, 3)
    scaled = L.Lambda(lambda x, k: x * k, arguments={'k': 3.0}, output_shape=lambda s: s)(diff)
    model = models.Model([a, b], scaled)
    x1, x2 = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    assert model.predict([x1, x2], verbose=0).tolist() == [[3.0] * 3] * 2
    seen = []

    def noisy(x, training=None):
        seen.append(training)
        return x

    L.Lambda(noisy)(np.ones((1, 2)), training=True)
    assert seen == [True]
    two = L.Lambda(lambda x: [x, x * 2], output_shape=[(3,), (3,)])
    assert two.compute_output_shape((None, 3)) == [(None, 3), (None, 3)]


def square_plus_one(x):
    return x * x + 1


def test_lambda_config_keys_equal_keras_and_named_functions_round_trip(keras):
    ours = L.Lambda(minidl.activations.gelu, output_shape=(4,), arguments={'approximate': True})
    theirs = keras.layers.Lambda(keras.activations.gelu, output_shape=(4,), arguments={'approximate': True})
    assert ours.get_config().keys() == theirs.get_config().keys()
    assert L.Lambda.from_config(theirs.get_config()).function is minidl.activations.gelu
    again = deserialize_keras_object(serialize_keras_object(ours))
    assert again.function is minidl.activations.gelu and again.arguments == {'approximate': True}
    assert again.compute_output_shape((None, 4)) == (None, 4)
    registered = minidl.saving.register_keras_serializable(package='test_merge')(square_plus_one)
    config = serialize_keras_object(L.Lambda(registered))
    assert deserialize_keras_object(config).function is registered


def test_lambda_with_a_python_lambda_needs_safe_mode_false():
    layer = L.Lambda(lambda x: x * 3 + 1, output_shape=lambda s: s)
    config = serialize_keras_object(layer)
    assert config['config']['function']['class_name'] == '__lambda__'
    with pytest.raises(ValueError, match='safe_mode=False'):
        deserialize_keras_object(config)
    with pytest.raises(ValueError, match='safe_mode=False'):
        L.Lambda.from_config(layer.get_config())
    loaded = deserialize_keras_object(config, safe_mode=False)
    assert loaded(np.ones((1, 2), np.float32)).numpy().tolist() == [[4.0, 4.0]]
    assert loaded.compute_output_shape((None, 2)) == (None, 2)
    offset = 5.0
    closure = L.Lambda(lambda x: x + offset)
    assert L.Lambda.from_config(closure.get_config(), safe_mode=False)(np.zeros((1, 1))).numpy().tolist() == [[5.0]]


def test_lambda_reads_a_keras_lambda_config(keras):
    theirs = keras.layers.Lambda(lambda x: x * 2.0 - 1.0)
    ours = L.Lambda.from_config(theirs.get_config(), safe_mode=False)
    assert ours(np.ones((1, 3), np.float32)).numpy().tolist() == [[1.0, 1.0, 1.0]]


def test_lambda_mask_argument():
    fixed = L.Lambda(lambda x: x, mask=np.array([True, False]))
    assert fixed.compute_mask(None).tolist() == [True, False]
    computed = L.Lambda(lambda x: x, mask=lambda inputs, mask: None if mask is None else ~mask)
    assert computed.compute_mask(None, np.array([True])).tolist() == [False]
    with pytest.raises(TypeError, match='Lambda.*callable'):
        L.Lambda(3)


def test_identity_passes_everything_through(keras):
    layer = L.Identity()
    x = np.ones((2, 3), np.float32)
    assert layer(x).numpy().tolist() == x.tolist()
    assert layer.compute_output_shape((None, 3)) == (None, 3)
    assert layer.get_config().keys() == keras.layers.Identity().get_config().keys()
    assert layer.compute_mask(x, 'm') == 'm' and layer.built
    model = models.Sequential([L.Input((3,)), L.Identity(), L.Dense(1)])
    assert model.output_shape == (None, 1)
