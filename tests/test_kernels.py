"""Every fast form in minidl/kernels/ against the reference op it replaces, on hypothesis-drawn
shapes: the same forward, the same gradients (and the same side effects: BatchNorm's moving
statistics, dropout's draws). The CPU forms run everywhere (CI); the CUDA forms are marked
``gpu``. Also the switch (MINIDL_KERNELS / use_kernels) and the dispatch rule."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minidl
from minidl import Tensor, kernels
from minidl.autograd import sum_to
from minidl.functional import conv, geometry, norm, pool
from minidl.functional.activation import ReLU
from minidl.kernels import activation as k_activation, conv as k_conv, norm as k_norm, pool as k_pool
from minidl.kernels import reduce as k_reduce

seeds = st.integers(0, 2**16)


def run(function, arrays, gy_seed=1, requires=None):
    """Forward and backward of a fresh Function on fresh Tensors: [y, grad of each input]."""
    tensors = [Tensor(a, requires_grad=True if requires is None else r)
               for a, r in zip(arrays, requires or [None] * len(arrays))]
    y = function(*tensors)
    gy = np.random.default_rng(gy_seed).standard_normal(y.shape).astype(y.dtype)
    y.backward(minidl.backend.as_array(gy))
    return [y.numpy()] + [None if t.grad is None else t.grad.numpy() for t in tensors]


def assert_all_close(got, expected, rtol=1e-10, atol=1e-10):
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected)):
        if b is None:
            assert a is None, f'output {i}: expected no gradient'
            continue
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f'output {i}')


# --- the switch and the dispatch rule -----------------------------------------------------------
def test_use_kernels_switches_and_restores():
    before = kernels.kernels_mode()
    with minidl.use_kernels('reference'):
        assert kernels.kernels_mode() == 'reference'
        assert kernels.find('conv', np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 1)),
                            strides=(1, 1), pads=((0, 0), (0, 0)), op='conv2d') is None
        with minidl.use_kernels('fast'):
            assert kernels.kernels_mode() == 'fast'
        assert kernels.kernels_mode() == 'reference'
    assert kernels.kernels_mode() == before
    with pytest.raises(ValueError, match="'reference' or 'fast'"):
        minidl.use_kernels('quick')


@pytest.mark.skipif(kernels.kernels_mode() == 'reference', reason='MINIDL_KERNELS=reference chooses no fast form')
def test_dispatch_rule_picks_the_first_applicable_form():
    """The course's wide MNIST kernels: FFT over several channels, banded over one; 3x3 and
    strided convs: im2col. Max pooling: the offset passes on the CPU."""
    def chosen(x_shape, w_shape, strides=(1, 1), padding='same'):
        pads = geometry.pad_amounts(x_shape[1:-1], w_shape[:-2], strides, padding)
        x = Tensor(np.zeros(x_shape, np.float32), requires_grad=True)
        y = conv.conv2d(x, Tensor(np.zeros(w_shape, np.float32)), None, strides, padding)
        assert kernels.find('conv', x, np.zeros(w_shape), strides=strides, pads=pads, op='conv2d') is type(y.creator)
        return type(y.creator)
    assert chosen((2, 28, 28, 1), (24, 24, 1, 10)) is k_conv.BandedConv2D
    assert chosen((2, 14, 14, 10), (12, 12, 10, 10)) is k_conv.FFTConv2D
    assert chosen((2, 32, 32, 3), (3, 3, 3, 8)) is k_conv.Im2colConv
    assert chosen((2, 4, 4, 8), (3, 3, 8, 8)) is k_conv.Im2colConv           # arch2's last conv
    assert chosen((2, 28, 28, 1), (24, 24, 1, 2), strides=(2, 2)) is k_conv.Im2colConv
    y = pool.max_pool2d(Tensor(np.zeros((1, 4, 4, 1)), requires_grad=True))
    assert type(y.creator) is k_pool.MaxPoolOffsets
    with minidl.use_kernels('reference'):
        y = pool.max_pool2d(Tensor(np.zeros((1, 4, 4, 1)), requires_grad=True))
        assert type(y.creator) is pool.MaxPool
    names = {e.impl.__name__ for e in kernels.registered()}
    assert {'FFTConv2D', 'BandedConv2D', 'Im2colConv', 'MaxPoolGPU', 'MaxPoolOffsets', 'FusedBatchNorm',
            'FusedDropout', 'ReLUGPU', 'sum_leading_axes'} <= names


# --- conv ---------------------------------------------------------------------------------------
@st.composite
def conv_cases(draw, nd):
    spatial = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = draw(st.sampled_from(['valid', 'same'] + (['causal'] if nd == 1 else [])))
    pads = geometry.pad_amounts(spatial, kernel, strides, padding)
    assume(all(n + sum(p) >= k for n, p, k in zip(spatial, pads, kernel)))
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n,) + spatial + (c,), kernel + (c, f), strides, pads, draw(st.booleans())


@pytest.mark.parametrize('nd', [1, 2])
@given(data=st.data(), seed=seeds)
def test_im2col_conv_equals_reference(nd, data, seed):
    """Both input-gradient algorithms (stride 1: transposed correlation; else offset blocks)."""
    x_shape, w_shape, strides, pads, use_bias = data.draw(conv_cases(nd))
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)] + \
        ([rng.standard_normal(w_shape[-1])] if use_bias else [])
    assert_all_close(run(k_conv.Im2colConv(strides, pads), arrays), run(conv.Conv(strides, pads), arrays))


@pytest.mark.parametrize('lowering', [k_conv.BandedConv2D, k_conv.FFTConv2D])
@given(n=st.integers(1, 2), h=st.integers(2, 7), w=st.integers(2, 7), c=st.integers(1, 3),
       f=st.integers(1, 3), kh=st.integers(1, 6), kw=st.integers(1, 6),
       padding=st.sampled_from(['same', 'valid']), seed=seeds)
def test_wide_kernel_lowerings_equal_reference(lowering, n, h, w, c, f, kh, kw, padding, seed):
    """The row-lowered and the FFT conv are the same function as im2col + GEMM, with the same
    gradients (on any stride-1 2-D shape, not only the wide kernels they are chosen for)."""
    if lowering is k_conv.FFTConv2D and minidl.get_backend() == 'cupy':
        pytest.skip('FFTConv2D runs on NumPy only')
    pads = geometry.pad_amounts((h, w), (kh, kw), (1, 1), padding)
    assume(h + sum(pads[0]) >= kh and w + sum(pads[1]) >= kw)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, h, w, c)), rng.standard_normal((kh, kw, c, f)), rng.standard_normal(f)]
    assert_all_close(run(lowering((1, 1), pads), arrays), run(conv.Conv((1, 1), pads), arrays), 1e-9, 1e-9)
    assert_all_close(run(lowering((1, 1), pads), arrays[:2]), run(conv.Conv((1, 1), pads), arrays[:2]), 1e-9, 1e-9)


def test_fast_conv_forms_skip_gradients_nobody_asked_for():
    rng = np.random.default_rng(0)
    pads = geometry.pad_amounts((9, 9), (7, 7), (1, 1), 'same')
    arrays = [rng.standard_normal((2, 9, 9, 4)), rng.standard_normal((7, 7, 4, 3)), rng.standard_normal(3)]
    for impl in (k_conv.Im2colConv, k_conv.BandedConv2D, k_conv.FFTConv2D):
        got = run(impl((1, 1), pads), arrays, requires=[False, True, True])
        assert got[1] is None
        assert_all_close(got, run(conv.Conv((1, 1), pads), arrays, requires=[False, True, True]), 1e-9, 1e-9)


def test_float32_stays_float32_in_every_conv_form():
    rng = np.random.default_rng(0)
    pads = geometry.pad_amounts((8, 8), (6, 6), (1, 1), 'same')
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((2, 8, 8, 4), (6, 6, 4, 3), (3,))]
    expected = run(conv.Conv((1, 1), pads), arrays)
    for impl in (k_conv.Im2colConv, k_conv.BandedConv2D, k_conv.FFTConv2D):
        got = run(impl((1, 1), pads), arrays)
        assert all(g.dtype == np.float32 for g in got)
        assert_all_close(got, expected, 1e-4, 1e-4)


# --- max pooling ----------------------------------------------------------------------------------
@st.composite
def pool_cases(draw, nd):
    spatial = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    window = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    strides = draw(st.just(window) | st.tuples(*[st.integers(1, 3)] * nd))
    padding = draw(st.sampled_from(['valid', 'same']))
    pads = geometry.pad_amounts(spatial, window, strides, padding)
    assume(all(n + sum(p) >= k for n, p, k in zip(spatial, pads, window)))
    shape = (draw(st.integers(1, 3)),) + spatial + (draw(st.integers(1, 3)),)
    return shape, window, strides, pads


@pytest.mark.parametrize('nd', [1, 2])
@given(data=st.data(), seed=seeds, ties=st.booleans())
def test_max_pool_offsets_equals_reference(nd, data, seed, ties):
    """With ties too (small integers): both send the gradient to the first maximum of a window."""
    shape, window, strides, pads = data.draw(pool_cases(nd))
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    assert_all_close(run(k_pool.MaxPoolOffsets(window, strides, pads), [x]),
                     run(pool.MaxPool(window, strides, pads), [x]), 0, 0)


# --- batch norm and dropout -------------------------------------------------------------------
def _batch_norm_run(impl, x, gamma, beta, training, momentum=0.9, epsilon=1e-3, dtype=np.float64):
    rng = np.random.default_rng(7)
    moving = [Tensor(rng.random(x.shape[-1]).astype(dtype) + 0.5) for _ in range(2)]
    params = [p for p in (gamma, beta) if p is not None]
    f = impl(moving[0], moving[1], training, momentum, epsilon, gamma is not None, beta is not None)
    return run(f, [x] + params) + [m.numpy() for m in moving]


@given(shape=st.sampled_from([(5, 3), (2, 4, 3), (2, 3, 3, 2), (1, 1, 4)]), training=st.booleans(),
       scale=st.booleans(), center=st.booleans(), seed=seeds)
def test_fused_batch_norm_equals_reference(shape, training, scale, center, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3 + 1
    gamma = rng.standard_normal(shape[-1]) if scale else None
    beta = rng.standard_normal(shape[-1]) if center else None
    assert_all_close(_batch_norm_run(k_norm.FusedBatchNorm, x, gamma, beta, training),
                     _batch_norm_run(norm.BatchNorm, x, gamma, beta, training), 1e-9, 1e-9)


def test_fused_batch_norm_equals_reference_in_float32():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 5, 5, 4)) * 2 + 3).astype(np.float32)
    gamma, beta = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    for training in (True, False):
        got = _batch_norm_run(k_norm.FusedBatchNorm, x, gamma, beta, training, dtype=np.float32)
        expected = _batch_norm_run(norm.BatchNorm, x, gamma, beta, training, dtype=np.float32)
        assert all(g.dtype == np.float32 for g in got)
        assert_all_close(got, expected, 1e-4, 1e-4)


@given(shape=st.sampled_from([(7,), (3, 4), (2, 3, 5)]), rate=st.floats(0.05, 0.9), seed=seeds)
def test_fused_dropout_draws_and_equals_reference(shape, rate, seed):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    results = []
    for impl in (k_norm.FusedDropout, norm.Dropout):
        minidl.seed(seed)
        results.append(run(impl(rate), [x]))
    assert_all_close(results[0], results[1], 0, 0)


# --- sum_to, ReLU ---------------------------------------------------------------------------------
@given(lead=st.lists(st.integers(1, 4), min_size=1, max_size=3), tail=st.lists(st.integers(1, 4), max_size=2),
       seed=seeds)
def test_sum_leading_axes_equals_reference_sum_to(lead, tail, seed):
    x = np.random.default_rng(seed).standard_normal(tuple(lead) + tuple(tail))
    with minidl.use_kernels('reference'):
        expected = sum_to(x, tuple(tail))
    np.testing.assert_allclose(k_reduce.sum_leading_axes(x, tuple(tail)), expected, rtol=1e-12, atol=1e-12)
    assert sum_to(x, tuple(tail)).shape == tuple(tail)


# --- the CUDA forms (need CuPy and a GPU) ------------------------------------------------------
def _on_gpu(arrays):
    import cupy
    return [cupy.asarray(a) for a in arrays]


def _run_gpu(function, arrays, requires=None):
    pytest.importorskip('cupy')
    minidl.set_backend('cupy')
    try:
        return run(function, _on_gpu(arrays), requires=requires)
    finally:
        minidl.set_backend('numpy')


@pytest.mark.gpu
@pytest.mark.parametrize('nd', [1, 2])
@given(data=st.data(), seed=seeds)
def test_gpu_im2col_conv_equals_numpy_reference(nd, data, seed):
    x_shape, w_shape, strides, pads, use_bias = data.draw(conv_cases(nd))
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, w_shape[-1:])]
    arrays = arrays if use_bias else arrays[:2]
    pytest.importorskip('cupy')
    col_gpu = k_conv.im2col_gpu(_on_gpu(arrays[:1])[0], w_shape[:nd], strides, pads,
                                geometry.padded_output_shape(x_shape[1:-1], pads, w_shape[:nd], strides))
    np.testing.assert_array_equal(col_gpu.get(), conv.im2col(arrays[0], w_shape[:nd], strides, pads)[0])
    assert_all_close(_run_gpu(k_conv.Im2colConv(strides, pads), arrays), run(conv.Conv(strides, pads), arrays),
                     1e-4, 1e-4)


@pytest.mark.gpu
@given(n=st.integers(1, 2), h=st.integers(4, 9), c=st.integers(1, 3), k=st.integers(4, 8), seed=seeds)
def test_gpu_banded_conv_equals_numpy_reference(n, h, c, k, seed):
    pads = geometry.pad_amounts((h, h), (k, k), (1, 1), 'same')
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((n, h, h, c), (k, k, c, 2), (2,))]
    assert_all_close(_run_gpu(k_conv.BandedConv2D((1, 1), pads), arrays), run(conv.Conv((1, 1), pads), arrays),
                     1e-4, 1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize('nd', [1, 2])
@given(data=st.data(), seed=seeds, ties=st.booleans())
def test_gpu_max_pool_equals_numpy_reference(nd, data, seed, ties):
    shape, window, strides, pads = data.draw(pool_cases(nd))
    rng = np.random.default_rng(seed)
    x = (rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)).astype(np.float32)
    expected = run(pool.MaxPool(window, strides, pads), [x])
    assert_all_close(_run_gpu(k_pool.MaxPoolOffsets(window, strides, pads), [x]), expected, 0, 0)
    if k_pool._disjoint(window, strides):
        assert_all_close(_run_gpu(k_pool.MaxPoolGPU(window, strides, pads), [x]), expected, 0, 0)


@pytest.mark.gpu
@pytest.mark.parametrize('training', [True, False])
def test_gpu_fused_batch_norm_equals_numpy_reference(training):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 5, 5, 4)) * 2 + 3).astype(np.float32)
    gamma, beta = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    expected = _batch_norm_run(norm.BatchNorm, x, gamma, beta, training, dtype=np.float32)
    pytest.importorskip('cupy')
    minidl.set_backend('cupy')
    try:
        got = _batch_norm_run(k_norm.FusedBatchNorm, *_on_gpu([x, gamma, beta]), training, dtype=np.float32)
    finally:
        minidl.set_backend('numpy')
    assert_all_close(got, expected, 1e-4, 1e-4)


@pytest.mark.gpu
def test_gpu_fused_dropout_and_relu_equal_their_references():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 33)).astype(np.float32)
    pytest.importorskip('cupy')
    minidl.set_backend('cupy')
    try:
        results = []
        for impl in (k_norm.FusedDropout, norm.Dropout):
            minidl.seed(3)
            results.append(run(impl(0.4), _on_gpu([x])))
        assert_all_close(results[0], results[1], 0, 0)
        assert_all_close(run(k_activation.ReLUGPU(), _on_gpu([x])), run(ReLU(), _on_gpu([x])), 0, 0)
    finally:
        minidl.set_backend('numpy')
