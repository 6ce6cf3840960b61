"""Pooling and upsampling: float64 gradient checks on hypothesis-drawn shapes, forward vs plain
loops implementing Keras' rules, forward and backward vs PyTorch, ties and -inf padding."""
import itertools

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minidl
from minidl import Tensor
from minidl.functional.pool import (avg_pool1d, avg_pool2d, global_avg_pool1d, global_avg_pool2d,
                                    global_max_pool1d, global_max_pool2d, max_pool1d, max_pool2d, upsample2d)
from minidl.testing import gradcheck

seeds = st.integers(0, 2**16)


def distinct(seed, shape):
    """Values without ties, so that every max has one arg-max and the gradient is defined."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - n * 0.05


def reference_pool(x, pool, strides, padding, reduce):
    """Keras pooling by loops: each window clipped to the real input (padding never counts)."""
    spatial = x.shape[1:-1]
    ranges = []
    for n, k, s in zip(spatial, pool, strides):
        if padding == 'valid':
            starts = range(0, n - k + 1, s)
        else:
            out = -(-n // s)
            before = max((out - 1) * s + k - n, 0) // 2
            starts = [o * s - before for o in range(out)]
        ranges.append([(max(a, 0), min(a + k, n)) for a in starts])
    out = np.empty((x.shape[0],) + tuple(len(r) for r in ranges) + (x.shape[-1],))
    for idx in itertools.product(*[range(len(r)) for r in ranges]):
        window = tuple(slice(*ranges[d][i]) for d, i in enumerate(idx))
        block = x[(slice(None),) + window + (slice(None),)]
        out[(slice(None),) + idx + (slice(None),)] = reduce(block.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
    return out


@st.composite
def pool_cases(draw, nd):
    spatial = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    pool = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    strides = draw(st.none() | st.tuples(*[st.integers(1, 3)] * nd))
    padding = draw(st.sampled_from(['valid', 'same']))
    if padding == 'valid':
        assume(all(k <= n for k, n in zip(pool, spatial)))
    shape = (draw(st.integers(1, 3)),) + spatial + (draw(st.integers(1, 3)),)
    return shape, pool, strides, padding


@pytest.mark.parametrize('op, nd, reduce', [(max_pool2d, 2, np.max), (avg_pool2d, 2, np.mean),
                                            (max_pool1d, 1, np.max), (avg_pool1d, 1, np.mean)])
@given(data=st.data(), seed=seeds)
def test_pool_gradcheck_and_loop_reference(op, nd, reduce, data, seed):
    shape, pool, strides, padding = data.draw(pool_cases(nd))
    x = distinct(seed, shape)
    y = op(Tensor(x), pool, strides, padding).numpy()
    np.testing.assert_allclose(y, reference_pool(x, pool, strides or pool, padding, reduce), rtol=1e-12, atol=1e-14)
    gradcheck(lambda x: op(x, pool, strides, padding), x)


def test_same_max_pooling_never_picks_the_padding():
    x = -1 - np.arange(2 * 5 * 5 * 2, dtype=float).reshape(2, 5, 5, 2)
    y = max_pool2d(Tensor(x), 2, padding='same').numpy()
    assert (y < 0).all()
    np.testing.assert_array_equal(y, reference_pool(x, (2, 2), (2, 2), 'same', np.max))


def test_ties_route_the_gradient_to_one_element_per_window():
    x = Tensor(np.ones((2, 4, 6, 3)), requires_grad=True)
    gy = np.random.default_rng(0).standard_normal((2, 2, 3, 3))
    max_pool2d(x, 2).backward(gy)
    windows = x.grad.numpy().reshape(2, 2, 2, 3, 2, 3).transpose(0, 1, 3, 5, 2, 4).reshape(2, 2, 3, 3, 4)
    assert ((windows != 0).sum(axis=-1) == 1).all()
    np.testing.assert_allclose(windows.sum(axis=-1), gy)


def test_overlapping_windows_accumulate():
    x = Tensor(distinct(3, (1, 5, 5, 1)), requires_grad=True)
    avg_pool2d(x, 3, strides=1).backward(np.ones((1, 3, 3, 1)))
    counts = np.array([1, 2, 3, 2, 1])
    np.testing.assert_allclose(x.grad.numpy()[0, :, :, 0], np.outer(counts, counts) / 9)


@pytest.mark.parametrize('kind', ['max', 'avg'])
@pytest.mark.parametrize('pool, strides', [((2, 2), None), ((3, 3), (2, 2)), ((2, 3), (1, 2))])
def test_pool2d_matches_torch(kind, pool, strides):
    torch = pytest.importorskip('torch')
    x = distinct(5, (2, 7, 8, 3))
    op = max_pool2d if kind == 'max' else avg_pool2d
    torch_op = torch.nn.functional.max_pool2d if kind == 'max' else torch.nn.functional.avg_pool2d
    xs = Tensor(x, requires_grad=True)
    y = op(xs, pool, strides, 'valid')
    gy = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(gy)
    tx = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    ty = torch_op(tx, pool, strides or pool)
    ty.backward(torch.tensor(gy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-14)


@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3)),
       size=st.tuples(st.integers(1, 3), st.integers(1, 3)), seed=seeds)
def test_upsample2d_is_nearest_and_its_gradient_sums_blocks(shape, size, seed):
    x = distinct(seed, shape)
    y = upsample2d(Tensor(x), size).numpy()
    np.testing.assert_array_equal(y, x.repeat(size[0], axis=1).repeat(size[1], axis=2))
    gradcheck(lambda x: upsample2d(x, size), x)


@pytest.mark.parametrize('op, reduce, axes, shape', [(global_avg_pool2d, np.mean, (1, 2), (2, 3, 4, 5)),
                                                     (global_max_pool2d, np.max, (1, 2), (2, 3, 4, 5)),
                                                     (global_avg_pool1d, np.mean, 1, (2, 6, 5)),
                                                     (global_max_pool1d, np.max, 1, (2, 6, 5))])
def test_global_pools(op, reduce, axes, shape):
    x = distinct(7, shape)
    np.testing.assert_allclose(op(Tensor(x)).numpy(), reduce(x, axis=axes), rtol=1e-12, atol=1e-14)
    gradcheck(op, x)


def test_errors_name_the_op_and_shape():
    with pytest.raises(ValueError, match='max_pool2d.*does not fit'):
        max_pool2d(np.zeros((1, 3, 3, 1)), 4)
    with pytest.raises(ValueError, match=r'avg_pool1d: expected an input \(N, W, C\)'):
        avg_pool1d(np.zeros((1, 3, 3, 1)))
    with pytest.raises(ValueError, match='pool_size'):
        max_pool2d(np.zeros((1, 3, 3, 1)), (2, 0))


@pytest.mark.gpu
@pytest.mark.parametrize('op, shape, args', [
    (max_pool2d, (2, 7, 8, 3), (3, 2, 'same')), (avg_pool2d, (2, 7, 8, 3), (3, 2, 'same')),
    (max_pool2d, (2, 8, 8, 3), (2,)), (max_pool2d, (2, 7, 9, 3), (2, None, 'same')),
    (max_pool2d, (2, 7, 9, 3), ((2, 3), 3, 'valid')), (max_pool1d, (2, 9, 3), (2, 1, 'valid')),
    (max_pool1d, (2, 9, 3), (2, None, 'same')),
    (avg_pool1d, (2, 9, 3), (4, None, 'same')), (upsample2d, (2, 3, 4, 3), ((2, 3),)),
    (global_max_pool2d, (2, 3, 4, 3), ()), (global_avg_pool1d, (2, 9, 3), ())])
def test_cupy_matches_numpy(op, shape, args):
    """Forward and gradient on the cupy backend equal the numpy ones to float32 tolerance."""
    pytest.importorskip('cupy')
    x = distinct(0, shape).astype(np.float32)
    results = {}
    for backend in ('numpy', 'cupy'):
        minidl.set_backend(backend)
        try:
            xs = Tensor(x, requires_grad=True)
            y = op(xs, *args)
            y.backward(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32))
            results[backend] = (y.numpy(), xs.grad.numpy())
        finally:
            minidl.set_backend('numpy')
    for ours, reference in zip(results['cupy'], results['numpy']):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)
