"""conv1d / conv2d: float64 gradient checks on hypothesis-drawn shapes, forward vs SciPy's
correlate, forward and backward vs PyTorch, and the errors a user sees. Each test runs through
whatever ``MINIDL_KERNELS`` selects; ``test_reference_conv_*`` run the im2col reference alone
(the fast forms are compared with it in test_kernels.py)."""
import numpy as np
import pytest
import scipy.signal
from hypothesis import assume, given, strategies as st

import minidl
from minidl import Tensor
from minidl.functional import conv, geometry
from minidl.functional.conv import conv1d, conv2d
from minidl.testing import gradcheck

seeds = st.integers(0, 2**16)
paddings = st.sampled_from(['valid', 'same'])


def keras_pads(size, k, s, padding):
    """Keras/TF: out = ceil(in / s), total pad = max((out - 1) s + k - in, 0), the smaller half first."""
    if padding == 'valid':
        return 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def reference_conv2d(x, w, b, strides, padding):
    """Per (sample, filter) sum over channels of scipy's 2-D valid correlation, then subsampled."""
    (sh, sw), (kh, kw) = strides, w.shape[:2]
    ph, pw = keras_pads(x.shape[1], kh, sh, padding), keras_pads(x.shape[2], kw, sw, padding)
    xpad = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    out = []
    for n in range(x.shape[0]):
        maps = [sum(scipy.signal.correlate(xpad[n, :, :, c], w[:, :, c, f], mode='valid')
                    for c in range(x.shape[3]))[::sh, ::sw] + (0 if b is None else b[f])
                for f in range(w.shape[3])]
        out.append(np.stack(maps, axis=-1))
    return np.stack(out)


@st.composite
def conv2d_cases(draw):
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(paddings)
    if padding == 'valid':
        assume(kh <= h and kw <= w)
    return (n, h, w, c), (kh, kw, c, f), strides, padding, draw(st.booleans())


@given(case=conv2d_cases(), seed=seeds)
def test_conv2d_gradcheck_and_scipy_reference(case, seed):
    x_shape, w_shape, strides, padding, use_bias = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[-1])
    bias = b if use_bias else None
    y = conv2d(Tensor(x), Tensor(w), None if bias is None else Tensor(bias), strides, padding).numpy()
    np.testing.assert_allclose(y, reference_conv2d(x, w, bias, strides, padding), rtol=1e-10, atol=1e-10)
    if use_bias:
        gradcheck(lambda x, w, b: conv2d(x, w, b, strides, padding), x, w, b)
    else:
        gradcheck(lambda x, w: conv2d(x, w, None, strides, padding), x, w)


@st.composite
def conv1d_cases(draw):
    n, c, f, width, k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
                         draw(st.integers(1, 9)), draw(st.integers(1, 5)))
    padding = draw(paddings)
    if padding == 'valid':
        assume(k <= width)
    return (n, width, c), (k, c, f), draw(st.integers(1, 3)), padding


@given(case=conv1d_cases(), seed=seeds)
def test_conv1d_gradcheck_and_loop_reference(case, seed):
    x_shape, w_shape, stride, padding = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[-1])
    before, after = keras_pads(x_shape[1], w_shape[0], stride, padding)
    xpad = np.pad(x, ((0, 0), (before, after), (0, 0)))
    out_len = (xpad.shape[1] - w_shape[0]) // stride + 1
    expected = np.array([[[np.sum(xpad[n, t * stride:t * stride + w_shape[0], :] * w[:, :, f]) + b[f]
                           for f in range(w_shape[2])] for t in range(out_len)] for n in range(x_shape[0])])
    y = conv1d(Tensor(x), Tensor(w), Tensor(b), stride, padding).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    gradcheck(lambda x, w, b: conv1d(x, w, b, stride, padding), x, w, b)


def test_mnist_kernels_larger_than_input_same_padding():
    """The course's ej8 model: a 24x24 kernel on 28x28 and a 12x12 kernel on 14x14, 'same'."""
    rng = np.random.default_rng(0)
    for size, k in ((28, 24), (14, 12)):
        x, w, b = rng.standard_normal((1, size, size, 2)), rng.standard_normal((k, k, 2, 2)), rng.standard_normal(2)
        y = conv2d(Tensor(x), Tensor(w), Tensor(b), padding='same')
        assert y.shape == (1, size, size, 2)
        np.testing.assert_allclose(y.numpy(), reference_conv2d(x, w, b, (1, 1), 'same'), rtol=1e-10, atol=1e-9)
        gradcheck(lambda x, w, b: conv2d(x, w, b, padding='same'), x, w, b)


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 5, 5, 3), np.float32), requires_grad=True)
    w = Tensor(np.ones((3, 3, 3, 4), np.float32), requires_grad=True)
    y = conv2d(x, w, padding='same')
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def _torch_same_pad(tx, kernel, strides, padding):
    torch_f = pytest.importorskip('torch').nn.functional
    pads = [keras_pads(n, k, s, padding) for n, k, s in zip(tx.shape[2:], kernel, strides)]
    flat = [p for pair in reversed(pads) for p in pair]  # torch pads the last axis first
    return torch_f.pad(tx, flat)


@pytest.mark.parametrize('strides, padding, kernel', [((1, 1), 'same', (3, 3)), ((2, 2), 'same', (4, 4)),
                                                      ((2, 3), 'valid', (3, 2)), ((3, 1), 'same', (2, 5))])
def test_conv2d_matches_torch(strides, padding, kernel):
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 9, 8, 3)), rng.standard_normal(kernel + (3, 4)), rng.standard_normal(4)
    gy = rng.standard_normal(conv2d(Tensor(x), Tensor(w), None, strides, padding).shape)
    xs, ws, bs = (Tensor(a, requires_grad=True) for a in (x, w, b))
    conv2d(xs, ws, bs, strides, padding).backward(gy)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), b))
    ty = torch.nn.functional.conv2d(_torch_same_pad(tx, kernel, strides, padding), tw, tb, stride=strides)
    ty.backward(torch.tensor(gy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(ty.detach().numpy().transpose(0, 2, 3, 1), conv2d(x, w, b, strides, padding).numpy(),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ws.grad.numpy(), tw.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bs.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv1d_matches_torch():
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 11, 4)), rng.standard_normal((4, 4, 5))
    xs, ws = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    y = conv1d(xs, ws, strides=2, padding='same')
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    tx = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)
    tw = torch.tensor(w.transpose(2, 1, 0), requires_grad=True)
    ty = torch.nn.functional.conv1d(_torch_same_pad(tx, (4,), (2,), 'same'), tw, stride=2)
    ty.backward(torch.tensor(gy.transpose(0, 2, 1)))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy().transpose(0, 2, 1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy().transpose(0, 2, 1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ws.grad.numpy(), tw.grad.numpy().transpose(2, 1, 0), rtol=1e-10, atol=1e-10)


def test_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r'\(2, 5, 5, 3\).*\(3, 3, 4, 8\)'):
        conv2d(np.zeros((2, 5, 5, 3)), np.zeros((3, 3, 4, 8)))
    with pytest.raises(ValueError, match=r'\(2, 5, 3\).*\(3, 2, 8\)'):
        conv1d(np.zeros((2, 5, 3)), np.zeros((3, 2, 8)))


@pytest.mark.parametrize('kwargs, message', [({'padding': 'full'}, "'valid' or 'same'"),
                                             ({'strides': 0}, 'strides'),
                                             ({'b': np.zeros(3)}, r'bias must have shape \(8,\)')])
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 8)), **kwargs)


def test_valid_kernel_larger_than_input_is_explained():
    with pytest.raises(ValueError, match='does not fit'):
        conv2d(np.zeros((1, 4, 4, 1)), np.zeros((5, 5, 1, 1)))
    with pytest.raises(ValueError, match=r'\(N, H, W, C\)'):
        conv2d(np.zeros((4, 4, 1)), np.zeros((3, 3, 1, 1)))


@pytest.mark.gpu
@pytest.mark.parametrize('op, x_shape, w_shape, kwargs', [
    (conv2d, (2, 9, 8, 3), (3, 3, 3, 4), {'padding': 'same'}),
    (conv2d, (2, 14, 14, 2), (12, 12, 2, 3), {'padding': 'same'}),
    (conv2d, (2, 9, 8, 3), (2, 3, 3, 4), {'strides': (2, 3)}),
    (conv1d, (2, 11, 3), (4, 3, 5), {'strides': 2, 'padding': 'same'})])
def test_cupy_matches_numpy(op, x_shape, w_shape, kwargs):
    """Forward and every gradient on the cupy backend equal the numpy ones to float32 tolerance."""
    pytest.importorskip('cupy')
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, w_shape[-1:])]
    results = {}
    for backend in ('numpy', 'cupy'):
        minidl.set_backend(backend)
        try:
            tensors = [Tensor(a, requires_grad=True) for a in arrays]
            y = op(*tensors, **kwargs)
            y.backward(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32))
            results[backend] = [y.numpy()] + [t.grad.numpy() for t in tensors]
        finally:
            minidl.set_backend('numpy')
    for ours, reference in zip(results['cupy'], results['numpy']):
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


@given(case=conv2d_cases(), seed=seeds)
def test_reference_conv2d_alone_gradcheck_and_scipy(case, seed):
    """The im2col reference itself, with every fast form switched off."""
    x_shape, w_shape, strides, padding, _ = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[-1])
    with minidl.use_kernels('reference'):
        y = conv2d(Tensor(x, requires_grad=True), Tensor(w), Tensor(b), strides, padding)
        assert type(y.creator) is conv.Conv
        np.testing.assert_allclose(y.numpy(), reference_conv2d(x, w, b, strides, padding), rtol=1e-10, atol=1e-10)
        gradcheck(lambda x, w, b: conv2d(x, w, b, strides, padding), x, w, b)


def test_reference_conv_on_the_course_mnist_kernels():
    """ej8's 24x24 and 12x12 'same' kernels through im2col (the default path lowers them)."""
    rng = np.random.default_rng(3)
    with minidl.use_kernels('reference'):
        for size, k, c in ((12, 10, 1), (7, 6, 3)):
            x, w, b = rng.standard_normal((2, size, size, c)), rng.standard_normal((k, k, c, 2)), rng.standard_normal(2)
            y = conv2d(Tensor(x, requires_grad=True), Tensor(w), Tensor(b), padding='same')
            assert type(y.creator) is conv.Conv
            np.testing.assert_allclose(y.numpy(), reference_conv2d(x, w, b, (1, 1), 'same'), rtol=1e-10, atol=1e-9)
            gradcheck(lambda x, w, b: conv2d(x, w, b, padding='same'), x, w, b)


@pytest.mark.parametrize('stride', [1, 2])
def test_causal_conv1d_sees_only_the_past(stride):
    """padding='causal' (Keras Conv1D): k - 1 zeros before, none after; output t reads x[<= t s]."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 7, 3)), rng.standard_normal((3, 3, 2)), rng.standard_normal(2)
    y = conv1d(Tensor(x), Tensor(w), Tensor(b), stride, 'causal').numpy()
    xpad = np.pad(x, ((0, 0), (2, 0), (0, 0)))
    expected = np.stack([np.einsum('nkc,kcf->nf', xpad[:, t:t + 3], w) + b for t in range(0, 7, stride)], axis=1)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    gradcheck(lambda x, w, b: conv1d(x, w, b, stride, 'causal'), x, w, b)
    with pytest.raises(ValueError, match="conv2d: padding must be 'valid' or 'same'"):
        conv2d(np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 1)), padding='causal')


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), c> == <x, col2im(c)> for every x and c: col2im is im2col's transpose."""
    rng = np.random.default_rng(5)
    for shape, kernel, strides, padding in (((2, 6, 5, 3), (3, 2), (2, 1), 'same'), ((1, 9, 2), (4,), (3,), 'valid')):
        pads = geometry.pad_amounts(shape[1:-1], kernel, strides, padding)
        x = rng.standard_normal(shape)
        col, out = conv.im2col(x, kernel, strides, pads)
        c = rng.standard_normal(col.shape)
        back = conv.col2im(c, shape, kernel, strides, pads)
        assert back.shape == shape
        np.testing.assert_allclose((col * c).sum(), (x * back).sum(), rtol=1e-12)
