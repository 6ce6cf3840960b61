"""3-D pooling, global 3-D pooling, nearest up-sampling in 1, 2 and 3 dimensions and bilinear
UpSampling2D as ops: float64 gradient checks on hypothesis-drawn shapes, plain-loop and NumPy
references, PyTorch's max_pool3d / avg_pool3d / bilinear interpolate as oracles."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minidl
from minidl import Tensor
from minidl.functional import image, pool
from minidl.testing import gradcheck

from test_pool import distinct, reference_pool

seeds = st.integers(0, 2**16)


@st.composite
def pool3d_cases(draw):
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(3))
    window = tuple(draw(st.integers(1, 3)) for _ in range(3))
    strides = draw(st.none() | st.tuples(*[st.integers(1, 2)] * 3))
    padding = draw(st.sampled_from(['valid', 'same']))
    if padding == 'valid':
        assume(all(k <= n for k, n in zip(window, spatial)))
    return (draw(st.integers(1, 2)),) + spatial + (draw(st.integers(1, 2)),), window, strides, padding


@pytest.mark.parametrize('op, reduce', [(pool.max_pool3d, np.max), (pool.avg_pool3d, np.mean)])
@given(case=pool3d_cases(), seed=seeds)
def test_pool3d_gradcheck_and_loop_reference(op, reduce, case, seed):
    shape, window, strides, padding = case
    x = distinct(seed, shape)
    y = op(Tensor(x), window, strides, padding).numpy()
    np.testing.assert_allclose(y, reference_pool(x, window, strides or window, padding, reduce), rtol=1e-12,
                               atol=1e-14)
    gradcheck(lambda x: op(x, window, strides, padding), x)


@given(case=pool3d_cases(), seed=seeds)
def test_reference_max_pool3d_alone(case, seed):
    shape, window, strides, padding = case
    x = distinct(seed, shape)
    with minidl.use_kernels('reference'):
        y = pool.max_pool3d(Tensor(x, requires_grad=True), window, strides, padding)
        assert type(y.creator) is pool.MaxPool
        np.testing.assert_allclose(y.numpy(), reference_pool(x, window, strides or window, padding, np.max))
        gradcheck(lambda x: pool.max_pool3d(x, window, strides, padding), x)


@pytest.mark.parametrize('kind', ['max', 'avg'])
def test_pool3d_matches_torch(kind):
    torch = pytest.importorskip('torch')
    x = distinct(3, (2, 5, 6, 4, 3))
    op = pool.max_pool3d if kind == 'max' else pool.avg_pool3d
    xs = Tensor(x, requires_grad=True)
    y = op(xs, (2, 3, 2), (1, 2, 2), 'valid')
    gy = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(gy)
    tx = torch.tensor(x.transpose(0, 4, 1, 2, 3), requires_grad=True)
    ty = getattr(torch.nn.functional, f'{kind}_pool3d')(tx, (2, 3, 2), (1, 2, 2))
    ty.backward(torch.tensor(gy.transpose(0, 4, 1, 2, 3)))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy().transpose(0, 2, 3, 4, 1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy().transpose(0, 2, 3, 4, 1), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize('op, reduce', [(pool.global_avg_pool3d, np.mean), (pool.global_max_pool3d, np.max)])
def test_global_pool3d(op, reduce):
    x = distinct(4, (2, 3, 4, 2, 3))
    np.testing.assert_allclose(op(Tensor(x)).numpy(), reduce(x, axis=(1, 2, 3)), rtol=1e-12, atol=1e-14)
    gradcheck(op, x)


@pytest.mark.parametrize('nd', [1, 2, 3])
@given(data=st.data(), seed=seeds)
def test_nearest_upsampling_repeats_and_its_gradient_sums_blocks(nd, data, seed):
    shape = (data.draw(st.integers(1, 2)),) + tuple(data.draw(st.integers(1, 3)) for _ in range(nd)) + \
        (data.draw(st.integers(1, 2)),)
    size = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    x = distinct(seed, shape)
    op = {1: pool.upsample1d, 2: pool.upsample2d, 3: pool.upsample3d}[nd]
    expected = x
    for axis, r in enumerate(size):
        expected = expected.repeat(r, axis=axis + 1)
    np.testing.assert_array_equal(op(Tensor(x), size).numpy(), expected)
    gradcheck(lambda x: op(x, size), x)


@pytest.mark.parametrize('size', [(2, 2), (3, 2), (1, 4)])
def test_bilinear_upsampling_is_torch_bilinear_and_gradchecks(size):
    """Keras' UpSampling2D(interpolation='bilinear') is ops.image.resize: half-pixel centres,
    edges clamped, i.e. torch's interpolate(mode='bilinear', align_corners=False)."""
    torch = pytest.importorskip('torch')
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 2))
    xs = Tensor(x, requires_grad=True)
    y = pool.upsample2d(xs, size, 'bilinear')
    gy = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(gy)
    tx = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, scale_factor=size, mode='bilinear', align_corners=False)
    ty.backward(torch.tensor(gy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    gradcheck(lambda x: pool.upsample2d(x, size, 'bilinear'), x[:1, :, :3])


def test_bilinear_upsampling_is_the_one_resize():
    """No second resize: UpSampling2D's bilinear path is image.resize to (h sh, w sw)."""
    x = np.random.default_rng(2).standard_normal((1, 3, 5, 2))
    np.testing.assert_array_equal(pool.upsample2d(x, (2, 3), 'bilinear').numpy(),
                                  image.resize(Tensor(x), (6, 15), 'bilinear').numpy())


def test_errors_name_the_op():
    with pytest.raises(ValueError, match=r'max_pool3d: expected an input \(N, D, H, W, C\)'):
        pool.max_pool3d(np.zeros((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"upsample2d: interpolation must be 'nearest' or 'bilinear'"):
        pool.upsample2d(np.zeros((1, 2, 2, 1)), 2, 'bicubic')
    with pytest.raises(ValueError, match='upsample3d: size'):
        pool.upsample3d(np.zeros((1, 2, 2, 2, 1)), (2, 0, 1))


@pytest.mark.gpu
@pytest.mark.parametrize('op, shape, args', [
    (pool.max_pool3d, (2, 5, 4, 6, 3), (2,)), (pool.max_pool3d, (2, 5, 4, 6, 3), (3, 2, 'same')),
    (pool.avg_pool3d, (2, 5, 4, 6, 3), (2, None, 'same')), (pool.upsample3d, (2, 2, 3, 2, 3), ((2, 1, 3),)),
    (pool.upsample1d, (2, 5, 3), (3,)), (pool.upsample2d, (2, 3, 4, 3), ((2, 3), 'bilinear')),
    (pool.global_max_pool3d, (2, 3, 4, 2, 3), ())])
def test_cupy_matches_numpy(op, shape, args):
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


def test_same_pooling_equals_tensorflow_where_keras_on_torch_does_not():
    """Keras' 'same' average pooling leaves the padding out of each window's count (TensorFlow's
    rule). Keras 3 on PyTorch differs from it where the pads are uneven (e.g. AveragePooling2D
    pool (3, 1) on 5x7, AveragePooling3D pool (1, 2, 3) on 7x3x5, found by a fuzz of the layers
    against Keras on PyTorch); minidl follows TensorFlow, checked here on every small 2-D and 3-D
    geometry, max pooling too."""
    import itertools
    tf = pytest.importorskip('tensorflow')
    rng = np.random.default_rng(0)
    checked = 0
    for nd, sizes in ((2, ((5, 7), (4, 3), (6, 6))), (3, ((3, 4, 5), (2, 5, 3)))):
        for spatial, window, strides in itertools.product(sizes, itertools.product((1, 2, 3), repeat=nd),
                                                         ((1,) * nd, (2,) * nd, (1, 3) + (2,) * (nd - 2))):
            x = rng.standard_normal((2,) + spatial + (2,)).astype(np.float32)    # TF has no float64 3-D pooling
            for ours, theirs in (((pool.avg_pool2d, pool.avg_pool3d)[nd - 2], tf.nn.avg_pool),
                                 ((pool.max_pool2d, pool.max_pool3d)[nd - 2], tf.nn.max_pool)):
                y = ours(Tensor(x), window, strides, 'same').numpy()
                want = theirs(tf.constant(x), window, strides, 'SAME').numpy()
                np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6,
                                           err_msg=f'{ours.__name__} {spatial} pool {window} strides {strides}')
                checked += 1
    assert checked >= 400
