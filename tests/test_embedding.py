"""embedding: lookup, scatter-add gradient with repeated ids, id types, out-of-range errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import array_shapes

import minidl
from minidl import Tensor
from minidl.functional.embedding import embedding
from minidl.testing import gradcheck


@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), vocab=st.integers(1, 6),
       dim=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_lookup_and_gradcheck(shape, vocab, dim, seed):
    rng = np.random.default_rng(seed)
    ids, weights = rng.integers(0, vocab, shape), rng.standard_normal((vocab, dim))
    y = embedding(ids, Tensor(weights))
    assert y.shape == shape + (dim,)
    np.testing.assert_array_equal(y.numpy(), weights[ids])
    gradcheck(lambda w: embedding(ids, w), weights)


def test_repeated_ids_accumulate():
    w = Tensor(np.zeros((4, 2)), requires_grad=True)
    embedding(np.array([[1, 1, 3], [1, 0, 3]]), w).backward(np.ones((2, 3, 2)))
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 3, 0, 2])


def test_ids_as_tensor_or_whole_floats():
    w = Tensor(np.arange(10.0).reshape(5, 2))
    expected = embedding(np.array([4, 0]), w).numpy()
    np.testing.assert_array_equal(embedding(Tensor(np.array([4, 0])), w).numpy(), expected)
    np.testing.assert_array_equal(embedding(np.array([4.0, 0.0], np.float32), w).numpy(), expected)
    with pytest.raises(ValueError, match='integers'):
        embedding(np.array([0.5]), w)


@pytest.mark.parametrize('bad', [5, 17, -1])
def test_out_of_range_ids_name_the_id_and_the_vocabulary(bad):
    with pytest.raises(ValueError, match=rf'id {bad} .*vocabulary of size 5'):
        embedding(np.array([[0, bad], [2, 3]]), Tensor(np.zeros((5, 2))))


def test_matches_torch():
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(0)
    ids, weights, gy = rng.integers(0, 7, (3, 5)), rng.standard_normal((7, 4)), rng.standard_normal((3, 5, 4))
    w = Tensor(weights, requires_grad=True)
    y = embedding(ids, w)
    y.backward(gy)
    tw = torch.tensor(weights, requires_grad=True)
    ty = torch.nn.functional.embedding(torch.tensor(ids), tw)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


@pytest.mark.gpu
def test_cupy_matches_numpy():
    pytest.importorskip('cupy')
    rng = np.random.default_rng(0)
    ids, weights, gy = rng.integers(0, 7, (3, 5)), rng.standard_normal((7, 4)), rng.standard_normal((3, 5, 4))
    results = {}
    for backend in ('numpy', 'cupy'):
        minidl.set_backend(backend)
        try:
            w = Tensor(weights, requires_grad=True)
            y = embedding(ids, w)
            y.backward(gy)
            results[backend] = (y.numpy(), w.grad.numpy())
        finally:
            minidl.set_backend('numpy')
    for ours, reference in zip(results['cupy'], results['numpy']):
        np.testing.assert_allclose(ours, reference, rtol=1e-12)
