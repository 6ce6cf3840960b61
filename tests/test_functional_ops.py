"""Every elementwise, shape and reduction op: float64 gradient checks on hypothesis-drawn
shapes (broadcasting pairs, size-1 and odd sizes, negative axes) and forward values vs NumPy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import minidl.functional as F
from minidl import Tensor
from minidl.testing import gradcheck

shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)
pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**16)


def normal(seed, shape):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape), dtype=np.float64)


def away_from_zero(seed, shape, margin=0.3):
    x = normal(seed, shape)
    return np.where(x >= 0, x + margin, x - margin)


def distinct(seed, shape):
    """Values with no ties (max/min gradients are defined)."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - n * 0.05


def check_forward(fn, ref, *arrays, rtol=1e-10):
    out = fn(*[Tensor(a) for a in arrays]).numpy()
    np.testing.assert_allclose(out, ref(*arrays), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize('op, ref', [(F.add, np.add), (F.sub, np.subtract), (F.mul, np.multiply),
                                     (F.maximum, np.maximum), (F.minimum, np.minimum)])
@given(pair=pairs, seed=seeds)
def test_binary_broadcasting(op, ref, pair, seed):
    a, b = normal(seed, pair.input_shapes[0]), normal(seed + 1, pair.input_shapes[1])
    check_forward(op, ref, a, b)
    gradcheck(op, a, b)


@given(pair=pairs, seed=seeds)
def test_div(pair, seed):
    a, b = normal(seed, pair.input_shapes[0]), away_from_zero(seed + 1, pair.input_shapes[1], 0.5)
    check_forward(F.div, np.divide, a, b)
    gradcheck(F.div, a, b)


@given(pair=pairs, seed=seeds)
def test_pow_with_tensor_exponent(pair, seed):
    a = np.abs(normal(seed, pair.input_shapes[0])) + 0.5
    b = normal(seed + 1, pair.input_shapes[1])
    check_forward(F.pow, np.power, a, b)
    gradcheck(F.pow, a, b)


@given(shape=shapes, seed=seeds, c=st.sampled_from([2, 3, -1, 0.5]))
def test_pow_with_constant_exponent(shape, seed, c):
    a = np.abs(normal(seed, shape)) + 0.5
    gradcheck(lambda x: x ** c, a)


@pytest.mark.parametrize('op, ref, make', [
    (F.neg, np.negative, normal),
    (F.exp, np.exp, normal),
    (F.log, np.log, lambda s, sh: np.abs(normal(s, sh)) + 0.3),
    (F.sqrt, np.sqrt, lambda s, sh: np.abs(normal(s, sh)) + 0.3),
    (F.abs, np.abs, away_from_zero),
])
@given(shape=shapes, seed=seeds)
def test_unary(op, ref, make, shape, seed):
    x = make(seed, shape)
    check_forward(op, ref, x)
    gradcheck(op, x)


@given(shape=shapes, seed=seeds)
def test_clip(shape, seed):
    x = normal(seed, shape)
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x + 0.2, x)  # keep away from the edges
    fn = lambda t: F.clip(t, -0.5, 0.5)  # noqa: E731
    check_forward(fn, lambda a: np.clip(a, -0.5, 0.5), x)
    gradcheck(fn, x)


@given(pair=pairs, seed=seeds)
def test_where(pair, seed):
    a, b = normal(seed, pair.input_shapes[0]), normal(seed + 1, pair.input_shapes[1])
    cond = np.random.default_rng(seed).random(pair.result_shape) > 0.5
    check_forward(lambda x, y: F.where(cond, x, y), lambda x, y: np.where(cond, x, y), a, b)
    gradcheck(lambda x, y: F.where(cond, x, y), a, b)


@given(batch=st.sampled_from([(), (2,), (3, 1), (1, 2)]), m=st.integers(1, 4), k=st.integers(1, 4),
       n=st.integers(1, 4), b_batched=st.booleans(), seed=seeds)
def test_matmul_batched(batch, m, k, n, b_batched, seed):
    a = normal(seed, batch + (m, k))
    b = normal(seed + 1, (batch if b_batched else ()) + (k, n))
    check_forward(F.matmul, np.matmul, a, b)
    gradcheck(F.matmul, a, b)


@pytest.mark.parametrize('sa, sb', [((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)), ((2, 4, 3), (3,))])
def test_matmul_vectors(sa, sb):
    a, b = normal(0, sa), normal(1, sb)
    check_forward(F.matmul, np.matmul, a, b)
    gradcheck(F.matmul, a, b)


@given(shape=shapes, seed=seeds)
def test_reshape_and_transpose(shape, seed):
    x = normal(seed, shape)
    perm = tuple(np.random.default_rng(seed).permutation(len(shape)))
    check_forward(lambda t: F.transpose(t, perm), lambda a: a.transpose(perm), x)
    gradcheck(lambda t: F.transpose(t, perm), x)
    gradcheck(lambda t: F.transpose(t), x)
    gradcheck(lambda t: F.reshape(t, (-1,)), x)
    gradcheck(lambda t: F.reshape(t, shape[::-1]), x)


@given(pair=pairs, seed=seeds)
def test_broadcast_to_and_sum_to(pair, seed):
    small, big = pair.input_shapes[0], pair.result_shape
    x = normal(seed, small)
    check_forward(lambda t: F.broadcast_to(t, big), lambda a: np.broadcast_to(a, big), x)
    gradcheck(lambda t: F.broadcast_to(t, big), x)
    y = normal(seed, big)
    gradcheck(lambda t: F.sum_to(t, small), y)
    assert F.sum_to(Tensor(y), small).shape == tuple(small)


@given(shape=shapes, seed=seeds, n=st.integers(1, 3), data=st.data())
def test_concatenate_stack_split(shape, seed, n, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    xs = [normal(seed + i, shape) for i in range(n)]
    check_forward(lambda *ts: F.concatenate(ts, axis), lambda *a: np.concatenate(a, axis), *xs)
    gradcheck(lambda *ts: F.concatenate(ts, axis), *xs)
    gradcheck(lambda *ts: F.stack(ts, axis), *xs)
    big = np.concatenate(xs, axis)
    parts = F.split(Tensor(big), n, axis=axis)
    for part, ref in zip(parts, np.split(big, n, axis=axis)):
        np.testing.assert_array_equal(part.numpy(), ref)
    weights = [normal(seed + 9 + i, p.shape) for i, p in enumerate(parts)]
    gradcheck(lambda t: sum((p * w).sum() for p, w in zip(F.split(t, n, axis=axis), weights)), big)


@given(shape=shapes, seed=seeds, data=st.data())
def test_pad(shape, seed, data):
    widths = [tuple(data.draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))) for _ in shape]
    x = normal(seed, shape)
    check_forward(lambda t: F.pad(t, widths, 1.5), lambda a: np.pad(a, widths, constant_values=1.5), x)
    gradcheck(lambda t: F.pad(t, widths), x)


@given(shape=shapes, seed=seeds)
def test_getitem(shape, seed):
    x = normal(seed, shape)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, shape[0], size=5)  # repeats accumulate
    mask = rng.random(shape) > 0.4
    for key in [slice(None, None, 2), (Ellipsis, -1), idx, mask, (idx, Ellipsis)]:
        check_forward(lambda t: F.getitem(t, key), lambda a: a[key], x)
        gradcheck(lambda t: F.getitem(t, key), x)


def test_getitem_repeated_indices_accumulate():
    x = Tensor(np.zeros(3), requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 0, 1])


@pytest.mark.parametrize('op, ref', [(F.sum, np.sum), (F.mean, np.mean), (F.max, np.max),
                                     (F.min, np.min), (F.var, np.var)])
@given(shape=shapes, seed=seeds, keepdims=st.booleans(), data=st.data())
def test_reductions(op, ref, shape, seed, keepdims, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                               st.just(tuple(range(len(shape)))[-2:])))
    x = distinct(seed, shape)
    check_forward(lambda t: op(t, axis, keepdims), lambda a: ref(a, axis=axis, keepdims=keepdims), x)
    gradcheck(lambda t: op(t, axis, keepdims), x)


@given(shape=shapes, seed=seeds)
def test_sum_squares(shape, seed):
    x = normal(seed, shape)
    check_forward(F.sum_squares, lambda a: np.sum(a * a), x)
    gradcheck(F.sum_squares, x)
    gradcheck(F.sum_squares, x.T)


def test_max_gradient_is_shared_among_ties():
    x = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    F.max(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0.5, 0.5])


ACTIVATIONS = [
    (F.relu, lambda a: np.maximum(a, 0), away_from_zero),
    (lambda t: F.leaky_relu(t, 0.2), lambda a: np.where(a > 0, a, 0.2 * a), away_from_zero),
    (F.elu, lambda a: np.where(a > 0, a, np.expm1(a)), away_from_zero),
    (F.sigmoid, lambda a: 1 / (1 + np.exp(-a)), normal),
    (F.tanh, np.tanh, normal),
    (F.softplus, lambda a: np.log1p(np.exp(a)), normal),
]


@pytest.mark.parametrize('op, ref, make', ACTIVATIONS)
@given(shape=shapes, seed=seeds)
def test_activations(op, ref, make, shape, seed):
    x = make(seed, shape) * 2
    check_forward(op, ref, x, rtol=1e-9)
    gradcheck(op, x)


def _softmax_ref(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@given(shape=shapes, seed=seeds, data=st.data())
def test_softmax_and_log_softmax(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = normal(seed, shape) * 3
    check_forward(lambda t: F.softmax(t, axis), lambda a: _softmax_ref(a, axis), x)
    check_forward(lambda t: F.log_softmax(t, axis), lambda a: np.log(_softmax_ref(a, axis)), x, rtol=1e-9)
    gradcheck(lambda t: F.softmax(t, axis), x)
    gradcheck(lambda t: F.log_softmax(t, axis), x)


def test_activations_are_stable_at_extremes_in_float32():
    x = np.array([-1e4, -80.0, -20.0, 0.0, 20.0, 80.0, 1e4], np.float32)
    with np.errstate(over='raise', invalid='raise'):
        s = F.sigmoid(Tensor(x)).numpy()
        sp = F.softplus(Tensor(x)).numpy()
        ls = F.log_softmax(Tensor(x)).numpy()
        sm = F.softmax(Tensor(x)).numpy()
    assert s.dtype == np.float32 and s[0] == 0 and s[-1] == 1
    np.testing.assert_allclose(s[1], np.exp(-80.0), rtol=1e-6)  # not flushed to 0 too early
    np.testing.assert_allclose(sp, [0, np.exp(-80.0), np.exp(-20.0), np.log(2), 20, 80, 1e4], rtol=1e-6)
    assert ls[-1] == 0 and ls[0] == -2e4 and np.isfinite(ls).all()
    assert sm[-1] == 1 and sm.sum() == pytest.approx(1)
    assert F.log_softmax(Tensor(np.array([0.0, -1e4], np.float32))).numpy().tolist() == [0.0, -1e4]


def test_gradients_are_finite_at_extremes():
    x = Tensor(np.array([-1e4, 1e4], np.float32), requires_grad=True)
    (F.sigmoid(x).sum() + F.softplus(x).sum() + F.log_softmax(x).sum() + F.tanh(x).sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()
