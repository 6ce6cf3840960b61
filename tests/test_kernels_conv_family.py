"""The fast forms of issue 17's convolutions against their reference (functional/conv.py's
grouped im2col ``Conv``), on hypothesis-drawn shapes: ``DepthwiseConv`` (one group per channel,
any stride, dilation, multiplier, 1-D and 2-D; its chunked walk over the batch and its merged
(W C) lanes), and the dispatch rule: which form each convolution of the family gets."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minidl
from minidl import Tensor, kernels
from minidl.functional import conv, geometry
from minidl.kernels import conv as k_conv

from test_kernels import assert_all_close, run

seeds = st.integers(0, 2**16)


@st.composite
def depthwise_cases(draw, nd):
    spatial = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = draw(st.sampled_from(['valid', 'same']))
    pads = geometry.pad_amounts(spatial, kernel, strides, padding, dilation)
    assume(all(n + sum(p) >= (k - 1) * d + 1 for n, p, k, d in zip(spatial, pads, kernel, dilation)))
    channels, multiplier = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 5)),) + spatial + (channels,)
    return shape, kernel + (1, channels * multiplier), strides, pads, dilation, draw(st.booleans())


@pytest.mark.parametrize('nd', [1, 2])
@given(data=st.data(), seed=seeds, chunk=st.sampled_from([1, 7, 1 << 16]))
def test_depthwise_conv_equals_reference(nd, data, seed, chunk):
    """Every chunking of the batch (one sample of a few elements at a time, several, all) and both
    lane layouts (stride 1 along the last axis merges (W, C); larger strides do not)."""
    x_shape, w_shape, strides, pads, dilation, use_bias = data.draw(depthwise_cases(nd))
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)] + \
        ([rng.standard_normal(w_shape[-1])] if use_bias else [])
    groups = x_shape[-1]
    fast = k_conv.DepthwiseConv(strides, pads, dilation=dilation, groups=groups)
    reference = conv.Conv(strides, pads, dilation=dilation, groups=groups)
    saved, k_conv._CHUNK_ELEMENTS = k_conv._CHUNK_ELEMENTS, chunk
    try:
        got = run(fast, arrays)
    finally:
        k_conv._CHUNK_ELEMENTS = saved
    assert_all_close(got, run(reference, arrays))


def test_depthwise_conv_skips_gradients_nobody_asked_for_and_keeps_float32():
    rng = np.random.default_rng(0)
    pads = geometry.pad_amounts((6, 5), (3, 3), (1, 1), 'same')
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((2, 6, 5, 3), (3, 3, 1, 6), (6,))]
    for requires in ([False, True, True], [True, False, True]):
        got = run(k_conv.DepthwiseConv((1, 1), pads, groups=3), arrays, requires=requires)
        expected = run(conv.Conv((1, 1), pads, groups=3), arrays, requires=requires)
        assert all(g is None or g.dtype == np.float32 for g in got)
        assert_all_close(got, expected, 1e-5, 1e-5)


@pytest.mark.skipif(kernels.kernels_mode() == 'reference', reason='MINIDL_KERNELS=reference chooses no fast form')
def test_dispatch_of_the_convolution_family():
    """Depthwise (and the depthwise step of a separable conv): DepthwiseConv; plain 1-D/2-D:
    Im2colConv; dilated, grouped (not depthwise) and 3-D convs and transposed convs: the reference."""
    x = Tensor(np.zeros((2, 8, 8, 4), np.float32), requires_grad=True)

    def creator(y):
        return type(y.creator)
    assert creator(conv.depthwise_conv2d(x, np.zeros((3, 3, 4, 2), np.float32), None, 1, 'same')) is \
        k_conv.DepthwiseConv
    assert creator(conv.conv2d(x, np.zeros((3, 3, 1, 4), np.float32), groups=4)) is k_conv.DepthwiseConv
    assert creator(conv.conv2d(x, np.zeros((3, 3, 4, 4), np.float32))) is k_conv.Im2colConv
    assert creator(conv.conv2d(x, np.zeros((3, 3, 4, 4), np.float32), dilation_rate=2)) is conv.Conv
    assert creator(conv.conv2d(x, np.zeros((3, 3, 2, 4), np.float32), groups=2)) is conv.Conv
    x3 = Tensor(np.zeros((1, 4, 4, 4, 2), np.float32), requires_grad=True)
    assert creator(conv.conv3d(x3, np.zeros((2, 2, 2, 2, 3), np.float32))) is conv.Conv
    assert creator(conv.conv_transpose2d(x, np.zeros((3, 3, 2, 4), np.float32), None, 2, 'same')) is \
        conv.ConvTranspose
    with minidl.use_kernels('reference'):
        assert creator(conv.depthwise_conv2d(x, np.zeros((3, 3, 4, 1), np.float32))) is conv.Conv
    assert 'DepthwiseConv' in {e.impl.__name__ for e in kernels.registered('conv')}


@pytest.mark.gpu
@pytest.mark.parametrize('nd', [1, 2])
@given(data=st.data(), seed=seeds)
def test_gpu_depthwise_conv_equals_numpy_reference(nd, data, seed):
    x_shape, w_shape, strides, pads, dilation, use_bias = data.draw(depthwise_cases(nd))
    pytest.importorskip('cupy')
    import cupy
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, w_shape[-1:])]
    arrays = arrays if use_bias else arrays[:2]
    groups = x_shape[-1]
    expected = run(conv.Conv(strides, pads, dilation=dilation, groups=groups), arrays)
    minidl.set_backend('cupy')
    try:
        got = run(k_conv.DepthwiseConv(strides, pads, dilation=dilation, groups=groups),
                  [cupy.asarray(a) for a in arrays])
    finally:
        minidl.set_backend('numpy')
    assert_all_close(got, expected, 1e-4, 1e-4)
