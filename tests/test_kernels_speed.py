"""The fast forms of issue 21 (minidl/kernels/linalg.py, the fused BatchNorm statistics) against
their references on hypothesis-drawn shapes, and their gradients by gradcheck in float64."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl import Tensor, kernels
from minidl.functional import math as fmath
from minidl.kernels import linalg as k_linalg
from minidl.testing import gradcheck

seeds = st.integers(0, 2**16)
fast_only = pytest.mark.skipif(kernels.kernels_mode() == 'reference', reason='MINIDL_KERNELS=reference')


def run(function, arrays, requires, gy_seed=1):
    tensors = [Tensor(a, requires_grad=r) for a, r in zip(arrays, requires)]
    y = function(*tensors)
    gy = np.random.default_rng(gy_seed).standard_normal(y.shape).astype(y.dtype)
    y.backward(gy)
    return [y.numpy()] + [None if t.grad is None else t.grad.numpy() for t in tensors]


@st.composite
def outer_shapes(draw):
    """(a shape, b shape) of 2-D products with a length-1 contraction one way or the other."""
    m, n, k = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return draw(st.sampled_from([((m, 1), (1, n)), ((m, k), (k, 1)), ((m, 1), (1, 1))]))


@given(shapes=outer_shapes(), seed=seeds, requires=st.sampled_from([(True, True), (False, True), (True, False)]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_outer_matmul_equals_reference_exactly(shapes, seed, requires, dtype):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    got = run(k_linalg.OuterMatMul(), [a, b], requires)
    expected = run(fmath.MatMul(), [a, b], requires)
    for g, e in zip(got, expected):
        if e is None:
            assert g is None
        else:
            assert g.dtype == e.dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-12)


@given(shapes=outer_shapes(), seed=seeds)
@settings(max_examples=20)
def test_outer_matmul_gradcheck(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes)
    gradcheck(lambda x, y: k_linalg.OuterMatMul()(x, y), a, b)   # raises AssertionError on a mismatch


@fast_only
def test_matmul_picks_the_outer_form_only_for_length_one_contractions():
    def chosen(sa, sb):
        y = fmath.matmul(Tensor(np.ones(sa), requires_grad=True), Tensor(np.ones(sb), requires_grad=True))
        return type(y.creator)
    assert chosen((4, 3), (3, 1)) is k_linalg.OuterMatMul       # a Dense(1) head: its input gradient
    assert chosen((4, 1), (1, 5)) is k_linalg.OuterMatMul       # a one-feature input
    assert chosen((4, 3), (3, 2)) is fmath.MatMul
    assert chosen((2, 4, 3), (3, 1)) is fmath.MatMul            # batched: the reference
    with minidl.use_kernels('reference'):
        assert chosen((4, 3), (3, 1)) is fmath.MatMul


@fast_only
def test_dense_head_on_a_concatenation_trains_like_the_reference():
    """imdb_bow's head (Dense(1) over [input, hidden]): the same loss after two steps in both modes."""
    from minidl import layers, models

    def losses():
        minidl.seed(3)
        inp = layers.Input(shape=(12,))
        h = layers.Dense(3, activation='relu')(inp)
        out = layers.Dense(1)(layers.Concatenate()([inp, h]))
        model = models.Model(inp, out)
        model.compile(optimizer='adam', loss='mse')
        x = np.random.default_rng(0).random((8, 12)).astype(np.float32)
        y = np.random.default_rng(1).random((8, 1)).astype(np.float32)
        return [model.train_on_batch(x, y) for _ in range(2)]
    fast = losses()
    with minidl.use_kernels('reference'):
        reference = losses()
    np.testing.assert_allclose(fast, reference, rtol=1e-6)


def test_the_backend_of_a_raw_cupy_array_is_cupy():
    """A raw array is looked at itself, not through ``.data`` (a CuPy array's ``.data`` is its
    MemoryPointer, which made every raw-array dispatch, the optimizers' among them, pick NumPy)."""
    class MemoryPointer:
        pass

    class FakeCupyArray:
        shape, dtype = (2,), np.dtype(np.float32)
        data = MemoryPointer()
    FakeCupyArray.__module__ = 'cupy._core.core'
    assert kernels._backend_of((FakeCupyArray(),)) == 'cupy'
    assert kernels._backend_of((Tensor(np.ones(2)),)) == 'numpy'
    assert kernels._backend_of((np.ones(2),)) == 'numpy'
    assert kernels._backend_of((3, np.float32(1))) == 'numpy'
