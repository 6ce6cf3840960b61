"""minidl.ops: Keras' ops namespace on minidl tensors. Values against NumPy (and Keras 3 where
installed), gradients of the new reference ops in float64, symbolic use in functional models,
minidl.random and the small utilities Keras code reaches for."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import layers, models, ops
from minidl.functional import indexing, special
from minidl.testing import gradcheck

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 4)).astype(np.float32)
B = rng.standard_normal((4, 5)).astype(np.float32)
P = (rng.random((3, 4)) + 0.5).astype(np.float32)

VALUES = [
    ('matmul', lambda: ops.matmul(A, B), A @ B),
    ('dot', lambda: ops.dot(A, B), A.dot(B)),
    ('einsum', lambda: ops.einsum('ij,jk->ik', A, B), A @ B),
    ('einsum batch', lambda: ops.einsum('bij,bkj->bik', A[None], A[None]), A[None] @ A.T[None]),
    ('tensordot', lambda: ops.tensordot(A, B, axes=1), np.tensordot(A, B, 1)),
    ('add', lambda: ops.add(A, 1), A + 1), ('subtract', lambda: ops.subtract(A, A), A - A),
    ('multiply', lambda: ops.multiply(A, 2.0), A * 2), ('divide', lambda: ops.divide(A, P), A / P),
    ('square', lambda: ops.square(A), A * A), ('sqrt', lambda: ops.sqrt(P), np.sqrt(P)),
    ('exp', lambda: ops.exp(A), np.exp(A)), ('log', lambda: ops.log(P), np.log(P)),
    ('log1p', lambda: ops.log1p(P), np.log1p(P)), ('expm1', lambda: ops.expm1(A), np.expm1(A)),
    ('abs', lambda: ops.abs(A), np.abs(A)), ('maximum', lambda: ops.maximum(A, 0.0), np.maximum(A, 0)),
    ('minimum', lambda: ops.minimum(A, P), np.minimum(A, P)), ('clip', lambda: ops.clip(A, -.5, .5), np.clip(A, -.5, .5)),
    ('where', lambda: ops.where(A > 0, A, P), np.where(A > 0, A, P)),
    ('sum', lambda: ops.sum(A, axis=1), A.sum(1)), ('mean', lambda: ops.mean(A, axis=0, keepdims=True), A.mean(0, keepdims=True)),
    ('max', lambda: ops.max(A, axis=-1), A.max(-1)), ('min', lambda: ops.min(A), A.min()),
    ('var', lambda: ops.var(A, axis=1), A.var(1)), ('std', lambda: ops.std(A), A.std()),
    ('prod', lambda: ops.prod(P, axis=1), P.prod(1)),
    ('logsumexp', lambda: ops.logsumexp(A, axis=1), np.log(np.exp(A).sum(1))),
    ('cumsum', lambda: ops.cumsum(A, axis=1), np.cumsum(A, 1)), ('cumprod', lambda: ops.cumprod(P, 0), np.cumprod(P, 0)),
    ('argmax', lambda: ops.argmax(A, axis=1), A.argmax(1)), ('argmin', lambda: ops.argmin(A, axis=0), A.argmin(0)),
    ('sort', lambda: ops.sort(A, axis=1), np.sort(A, 1)), ('argsort', lambda: ops.argsort(A), np.argsort(A, kind='stable')),
    ('top_k', lambda: ops.top_k(A, 2)[0], -np.sort(-A, 1)[:, :2]),
    ('concatenate', lambda: ops.concatenate([A, P], axis=0), np.concatenate([A, P])),
    ('stack', lambda: ops.stack([A, P], axis=1), np.stack([A, P], 1)),
    ('reshape', lambda: ops.reshape(A, (2, -1)), A.reshape(2, -1)), ('transpose', lambda: ops.transpose(A), A.T),
    ('expand_dims', lambda: ops.expand_dims(A, 1), A[:, None]), ('squeeze', lambda: ops.squeeze(A[:, None], 1), A),
    ('tile', lambda: ops.tile(A, (2, 1)), np.tile(A, (2, 1))), ('repeat', lambda: ops.repeat(A, 2, axis=1), np.repeat(A, 2, 1)),
    ('split', lambda: ops.split(A, 2, axis=1)[1], np.split(A, 2, 1)[1]),
    ('take', lambda: ops.take(A, [2, 0, 2], axis=1), np.take(A, [2, 0, 2], 1)),
    ('take_along_axis', lambda: ops.take_along_axis(A, np.argsort(A, 1), 1), np.sort(A, 1)),
    ('slice', lambda: ops.slice(A, (1, 1), (2, 2)), A[1:3, 1:3]), ('flip', lambda: ops.flip(A, 1), A[:, ::-1]),
    ('roll', lambda: ops.roll(A, 1, axis=1), np.roll(A, 1, 1)), ('pad', lambda: ops.pad(A, ((1, 0), (0, 2))), np.pad(A, ((1, 0), (0, 2)))),
    ('one_hot', lambda: ops.one_hot(np.array([0, 2]), 3), np.eye(3)[[0, 2]]),
    ('erf', lambda: ops.erf(A), __import__('scipy.special').special.erf(A)),
    ('norm', lambda: ops.norm(A, axis=1), np.linalg.norm(A, axis=1)),
    ('norm l1', lambda: ops.linalg.norm(A, ord=1, axis=0), np.linalg.norm(A, 1, axis=0)),
    ('sigmoid', lambda: ops.sigmoid(A), 1 / (1 + np.exp(-A))), ('relu', lambda: ops.relu(A), np.maximum(A, 0)),
    ('softmax', lambda: ops.softmax(A), np.exp(A) / np.exp(A).sum(-1, keepdims=True)),
    ('tanh', lambda: ops.tanh(A), np.tanh(A)), ('equal', lambda: ops.equal(A, A), np.ones(A.shape, bool)),
    ('divide_no_nan', lambda: ops.divide_no_nan(A, np.where(A > 0, P, 0)), np.where(A > 0, A / np.where(A > 0, P, 1), 0)),
    ('inv', lambda: ops.linalg.inv(A[:, :3] + 3 * np.eye(3, dtype=np.float32)), np.linalg.inv(A[:, :3] + 3 * np.eye(3))),
    ('arange', lambda: ops.arange(5), np.arange(5)), ('zeros_like', lambda: ops.zeros_like(A), np.zeros_like(A)),
]


@pytest.mark.parametrize('name, run, expected', VALUES, ids=[v[0] for v in VALUES])
def test_values_equal_numpy(name, run, expected):
    out = run()
    np.testing.assert_allclose(ops.convert_to_numpy(out), expected, rtol=1e-5, atol=1e-6)


GRADS = [
    ('take', lambda x: indexing.take(x, np.array([2, 0, 2]), axis=1), (3, 4)),
    ('take flat', lambda x: indexing.take(x, np.array([[1, 5], [5, 0]])), (2, 3)),
    ('take_along_axis', lambda x: indexing.take_along_axis(x, np.array([[0, 0, 2], [1, 2, 2]]), 1), (2, 3)),
    ('tile', lambda x: indexing.tile(x, (2, 3)), (2, 3)),
    ('tile rank up', lambda x: indexing.tile(x, (2, 1, 2)), (2, 3)),
    ('repeat', lambda x: indexing.repeat(x, 3, axis=0), (2, 3)),
    ('repeat list', lambda x: indexing.repeat(x, [1, 0, 2], axis=1), (2, 3)),
    ('repeat flat', lambda x: indexing.repeat(x, 2), (2, 3)),
    ('flip', lambda x: indexing.flip(x, 1), (2, 3)), ('roll', lambda x: indexing.roll(x, (1, -1), (0, 1)), (2, 3)),
    ('sort', lambda x: indexing.sort(x, 0), (3, 2)), ('top_k', lambda x: indexing.top_k(x, 2)[0], (3, 4)),
    ('cumsum', lambda x: indexing.cumsum(x, 1), (2, 4)), ('cumsum flat', lambda x: indexing.cumsum(x), (2, 3)),
    ('cumprod', lambda x: indexing.cumprod(x * x + 0.5, 0), (3, 2)),
    ('log1p', lambda x: special.log1p(x * x), (2, 3)), ('expm1', lambda x: special.expm1(x), (2, 3)),
    ('sin', lambda x: special.sin(x), (2, 3)), ('cos', lambda x: special.cos(x), (2, 3)),
    ('erf', lambda x: special.erf(x), (2, 3)),
    ('inv', lambda x: special.inv(x + 3 * np.eye(3)), (3, 3)), ('det', lambda x: special.det(x + 2 * np.eye(3)), (3, 3)),
    ('logsumexp', lambda x: ops.logsumexp(x, axis=1), (2, 5)), ('std', lambda x: ops.std(x, axis=0), (4, 3)),
    ('norm', lambda x: ops.norm(x, axis=-1), (3, 4)), ('prod', lambda x: ops.prod(x, axis=1), (3, 4)),
    ('dot 3d', lambda x: ops.dot(x, np.ones((2, 3, 2))), (2, 3)),
]


@pytest.mark.parametrize('name, fn, shape', GRADS, ids=[g[0] for g in GRADS])
def test_gradients_in_float64(name, fn, shape):
    x = np.random.default_rng(1).standard_normal(shape) + (0.3 if name in ('prod', 'cumprod') else 0)
    gradcheck(fn, x)


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4))
def test_einsum_gradients_for_both_operands(b, i, k):
    r = np.random.default_rng(b * 100 + i * 10 + k)
    x, y = r.standard_normal((b, i, 3)), r.standard_normal((b, k, 3))
    gradcheck(lambda p, q: special.einsum('bij,bkj->bik', p, q), x, y)


def test_solve_gradients_for_matrix_and_right_hand_side():
    r = np.random.default_rng(2)
    a = r.standard_normal((3, 3)) + 3 * np.eye(3)
    gradcheck(lambda p, q: special.solve(p, q), a, r.standard_normal((3, 2)))


def test_einsum_with_a_subscript_summed_inside_one_operand_says_so():
    x = minidl.Tensor(np.ones((2, 2)), requires_grad=True)
    y = special.einsum('ii->i', x)
    with pytest.raises(NotImplementedError, match='explicit sums'):
        y.backward(np.ones(2))


def test_ops_record_nodes_in_functional_models():
    inputs = layers.Input((4,))
    hidden = layers.Dense(3)(inputs)
    out = ops.sum(ops.square(hidden), axis=-1, keepdims=True) + ops.mean(inputs, axis=-1, keepdims=True)
    model = models.Model(inputs, out)
    x = np.random.default_rng(3).random((5, 4)).astype(np.float32)
    dense = model.layers[1]
    h = x @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), (h * h).sum(-1, keepdims=True) + x.mean(-1, keepdims=True),
                               rtol=1e-5)
    assert out.shape == (None, 1)
    model.compile('sgd', 'mse')
    model.fit(x, np.zeros((5, 1), np.float32), verbose=0)


def test_ops_match_keras(keras):
    x = np.random.default_rng(4).standard_normal((3, 5)).astype(np.float32)
    for name, args in (('logsumexp', {'axis': 1}), ('cumsum', {'axis': 0}), ('std', {}), ('argmax', {'axis': 1}),
                       ('top_k', {'k': 2}), ('norm', {'axis': -1}), ('erf', {})):
        ours, theirs = getattr(ops, name)(x, **args), getattr(keras.ops, name)(x, **args)
        if name == 'top_k':
            ours, theirs = ours[0], theirs[0]
        np.testing.assert_allclose(ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs), rtol=1e-5,
                                   atol=1e-6, err_msg=name)


def test_random_is_reproducible_and_seed_generators_advance():
    a = minidl.random.normal((3,), seed=7).numpy()
    b = minidl.random.normal((3,), seed=7).numpy()
    np.testing.assert_array_equal(a, b)
    gen = minidl.random.SeedGenerator(1)
    assert not np.array_equal(minidl.random.uniform((3,), seed=gen).numpy(), minidl.random.uniform((3,), seed=gen).numpy())
    minidl.utils.set_random_seed(5)
    c = minidl.random.normal((3,)).numpy()
    minidl.utils.set_random_seed(5)
    np.testing.assert_array_equal(c, minidl.random.normal((3,)).numpy())
    x = minidl.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    y = minidl.random.shuffle(x, seed=0)
    assert sorted(y.numpy()[:, 0]) == [0.0, 2.0, 4.0]
    assert minidl.random.randint((10,), 0, 3).numpy().max() < 3


def test_keras_utilities_exist():
    assert minidl.backend.image_data_format() == 'channels_last'
    assert minidl.utils.pad_sequences([[1, 2], [3]]).shape == (2, 2)

    class Batches(minidl.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.full((4, 3), i, np.float32), np.zeros((4, 1), np.float32)

    model = models.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile('sgd', 'mse')
    history = model.fit(Batches(), epochs=2, verbose=0)
    assert len(history.history['loss']) == 2
