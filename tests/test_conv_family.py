"""The convolution family of issue 17 as ops: dilation, groups and 'causal' padding in 1, 2 and 3
dimensions, transposed convolutions (output_padding, dilation), depthwise and separable
convolutions. Float64 gradient checks on hypothesis-drawn shapes; forward values against plain
loops written from the definitions (pads computed here from Keras' rules, not by minidl's
geometry); PyTorch (conv, conv_transpose, groups, dilation) and TensorFlow (Keras' 'same'
transposed convolution) as oracles; the adjoint identity <T x, y> = <x, C y>; the errors."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minidl
from minidl import Tensor
from minidl.functional import conv
from minidl.testing import gradcheck

seeds = st.integers(0, 2**16)
CONV = {1: conv.conv1d, 2: conv.conv2d, 3: conv.conv3d}
TRANSPOSE = {1: conv.conv_transpose1d, 2: conv.conv_transpose2d, 3: conv.conv_transpose3d}


# --- references written from the definitions ------------------------------------------------------
def keras_pads(n, k, s, d, padding):
    """(before, after) zeros of Keras/TF's rule for a kernel k with dilation d."""
    k_eff = (k - 1) * d + 1
    if padding == 'valid':
        return 0, 0
    if padding == 'causal':
        return k_eff - 1, 0
    total = max((-(-n // s) - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


def loop_conv(x, w, b, strides, padding, dilation, groups):
    """y[n, *o, g Fg + f] = sum_{i, c} xpad[n, *(o s + i d), g Cg + c] w[*i, c, g Fg + f] + b."""
    nd = x.ndim - 2
    kernel, cg, filters = w.shape[:nd], w.shape[-2], w.shape[-1]
    fg = filters // groups
    pads = [keras_pads(x.shape[1 + a], kernel[a], strides[a], dilation[a], padding) for a in range(nd)]
    xpad = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    out = [(xpad.shape[1 + a] - (kernel[a] - 1) * dilation[a] - 1) // strides[a] + 1 for a in range(nd)]
    y = np.zeros((x.shape[0],) + tuple(out) + (filters,))
    for o in itertools.product(*map(range, out)):
        window = tuple(slice(o[a] * strides[a], o[a] * strides[a] + (kernel[a] - 1) * dilation[a] + 1, dilation[a])
                       for a in range(nd))
        patch = xpad[(slice(None),) + window + (slice(None),)]                    # (N, *kernel, C)
        for g in range(groups):
            y[(slice(None),) + o + (slice(g * fg, (g + 1) * fg),)] = np.tensordot(
                patch[..., g * cg:(g + 1) * cg], w[..., g * fg:(g + 1) * fg],
                axes=(list(range(1, nd + 2)), list(range(nd + 1))))
    return y if b is None else y + b


def keras_transposed_length(n, k, s, padding, extra, d):
    """Keras' compute_conv_transpose_output_shape along one axis."""
    k_eff = (k - 1) * d + 1
    if padding == 'valid':
        return (n - 1) * s + k_eff + (max(k_eff, s) - k_eff if extra is None else extra)
    return n * s if extra is None else (n - 1) * s + k_eff % 2 + extra


def loop_conv_transpose(x, w, b, strides, padding, output_padding, dilation):
    """Scatter every input position through the kernel, full[o s + i d] += x[o] w[i]^T, then keep
    the L outputs that start TF's 'same' crop max((n - 1) s + k_eff - L, 0) // 2 into it (zeros
    past its end)."""
    nd = x.ndim - 2
    kernel, filters = w.shape[:nd], w.shape[-2]
    full_shape = tuple((x.shape[1 + a] - 1) * strides[a] + (kernel[a] - 1) * dilation[a] + 1 for a in range(nd))
    full = np.zeros((x.shape[0],) + full_shape + (filters,))
    for o in itertools.product(*[range(n) for n in x.shape[1:-1]]):
        for i in itertools.product(*map(range, kernel)):
            p = tuple(o[a] * strides[a] + i[a] * dilation[a] for a in range(nd))
            full[(slice(None),) + p + (slice(None),)] += x[(slice(None),) + o + (slice(None),)] @ w[i].T
    extra = output_padding or (None,) * nd
    lengths = [keras_transposed_length(x.shape[1 + a], kernel[a], strides[a], padding, extra[a], dilation[a])
               for a in range(nd)]
    y = np.zeros((x.shape[0],) + tuple(lengths) + (filters,))
    src, dst = [slice(None)], [slice(None)]
    for a in range(nd):
        before = max(full_shape[a] - lengths[a], 0) // 2
        count = min(lengths[a], full_shape[a] - before)
        src.append(slice(before, before + count))
        dst.append(slice(0, count))
    y[tuple(dst)] = full[tuple(src)]
    return y if b is None else y + b


# --- Conv with dilation and groups ----------------------------------------------------------------
@st.composite
def conv_cases(draw, nd):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg, fg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    spatial = tuple(draw(st.integers(1, 7 if nd < 3 else 4)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = draw(st.sampled_from(['valid', 'same'] + (['causal'] if nd == 1 else [])))
    if padding == 'valid':
        assume(all((k - 1) * d + 1 <= n for n, k, d in zip(spatial, kernel, dilation)))
    x_shape = (draw(st.integers(1, 2)),) + spatial + (cg * groups,)
    return x_shape, kernel + (cg, fg * groups), strides, padding, dilation, groups, draw(st.booleans())


@pytest.mark.parametrize('nd', [1, 2, 3])
@given(data=st.data(), seed=seeds)
def test_dilated_grouped_conv_gradcheck_and_loop_reference(nd, data, seed):
    x_shape, w_shape, strides, padding, dilation, groups, use_bias = data.draw(conv_cases(nd))
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[-1])
    bias = b if use_bias else None
    y = CONV[nd](Tensor(x), Tensor(w), None if bias is None else Tensor(bias), strides, padding, dilation, groups)
    np.testing.assert_allclose(y.numpy(), loop_conv(x, w, bias, strides, padding, dilation, groups),
                               rtol=1e-10, atol=1e-10)
    if use_bias:
        gradcheck(lambda x, w, b: CONV[nd](x, w, b, strides, padding, dilation, groups), x, w, b)
    else:
        gradcheck(lambda x, w: CONV[nd](x, w, None, strides, padding, dilation, groups), x, w)


@given(data=st.data(), seed=seeds)
def test_reference_conv_alone_with_dilation_and_groups(data, seed):
    x_shape, w_shape, strides, padding, dilation, groups, _ = data.draw(conv_cases(2))
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    with minidl.use_kernels('reference'):
        y = conv.conv2d(Tensor(x, requires_grad=True), Tensor(w), None, strides, padding, dilation, groups)
        assert type(y.creator) is conv.Conv
        np.testing.assert_allclose(y.numpy(), loop_conv(x, w, None, strides, padding, dilation, groups),
                                   rtol=1e-10, atol=1e-10)
        gradcheck(lambda x, w: conv.conv2d(x, w, None, strides, padding, dilation, groups), x, w)


def _torch_layout(a, nd, kernel=False):
    """channels-last -> torch: inputs (N, C, *s); kernels (*k, Cin, F) -> (F, Cin, *k)."""
    if kernel:
        return np.ascontiguousarray(a.transpose((nd + 1, nd) + tuple(range(nd))))
    return np.ascontiguousarray(a.transpose((0, nd + 1) + tuple(range(1, nd + 1))))


def _from_torch(t, nd):
    return t.detach().numpy().transpose((0,) + tuple(range(2, nd + 2)) + (1,))


@pytest.mark.parametrize('nd, strides, dilation, groups, padding', [
    (1, (2,), (1,), 3, 'valid'), (1, (1,), (3,), 1, 'causal'), (2, (1, 1), (2, 3), 2, 'same'),
    (2, (2, 1), (1, 1), 6, 'valid'), (3, (1, 2, 1), (1, 1, 2), 3, 'same')])
def test_conv_with_groups_and_dilation_matches_torch(nd, strides, dilation, groups, padding):
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(nd)
    spatial = (9, 8, 7)[:nd]
    kernel = (3, 2, 3)[:nd]
    x = rng.standard_normal((2,) + spatial + (6,))
    w = rng.standard_normal(kernel + (6 // groups, 6))
    b = rng.standard_normal(6)
    xs, ws, bs = (Tensor(a, requires_grad=True) for a in (x, w, b))
    y = CONV[nd](xs, ws, bs, strides, padding, dilation, groups)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    pads = [keras_pads(n, k, s, d, padding) for n, k, s, d in zip(spatial, kernel, strides, dilation)]
    tx = torch.tensor(_torch_layout(x, nd), requires_grad=True)
    tw = torch.tensor(_torch_layout(w, nd, kernel=True), requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    padded = torch.nn.functional.pad(tx, [p for pair in reversed(pads) for p in pair])
    ty = getattr(torch.nn.functional, f'conv{nd}d')(padded, tw, tb, stride=strides, dilation=dilation, groups=groups)
    ty.backward(torch.tensor(_torch_layout(gy, nd)))
    np.testing.assert_allclose(y.numpy(), _from_torch(ty, nd), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), _from_torch(tx.grad, nd), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ws.grad.numpy(), tw.grad.numpy().transpose(tuple(range(2, nd + 2)) + (1, 0)),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bs.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('dilation', [1, 2, 3])
def test_causal_dilated_conv1d_sees_only_the_past(dilation):
    """Output t depends on x[t - i d] for i < k only: perturbing step t0 changes no output before t0."""
    rng = np.random.default_rng(dilation)
    x, w = rng.standard_normal((1, 12, 2)), rng.standard_normal((3, 2, 2))
    y = conv.conv1d(Tensor(x), Tensor(w), None, 1, 'causal', dilation).numpy()
    assert y.shape == (1, 12, 2)
    x2 = x.copy()
    x2[0, 7] += 1.0
    y2 = conv.conv1d(Tensor(x2), Tensor(w), None, 1, 'causal', dilation).numpy()
    changed = np.flatnonzero(np.abs(y2 - y).sum(axis=(0, 2)) > 1e-12)
    np.testing.assert_array_equal(changed, [t for t in (7, 7 + dilation, 7 + 2 * dilation) if t < 12])


# --- transposed convolutions ---------------------------------------------------------------------
@st.composite
def transpose_cases(draw, nd):
    spatial = tuple(draw(st.integers(1, 5 if nd < 3 else 3)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 4 if nd < 3 else 3)) for _ in range(nd))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(1 if s > 1 else draw(st.integers(1, 3)) for s in strides)
    padding = draw(st.sampled_from(['valid', 'same']))
    output_padding = draw(st.none() | st.tuples(*[st.integers(0, s - 1) for s in strides]))
    extra = output_padding or (None,) * nd
    assume(all(keras_transposed_length(n, k, s, padding, e, d) >= 1
               for n, k, s, e, d in zip(spatial, kernel, strides, extra, dilation)))
    channels, filters = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return ((draw(st.integers(1, 2)),) + spatial + (channels,), kernel + (filters, channels), strides, padding,
            output_padding, dilation, draw(st.booleans()))


@pytest.mark.parametrize('nd', [1, 2, 3])
@given(data=st.data(), seed=seeds)
def test_conv_transpose_gradcheck_and_loop_reference(nd, data, seed):
    x_shape, w_shape, strides, padding, output_padding, dilation, use_bias = data.draw(transpose_cases(nd))
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[-2])
    bias = b if use_bias else None
    op = TRANSPOSE[nd]
    y = op(Tensor(x), Tensor(w), None if bias is None else Tensor(bias), strides, padding, output_padding, dilation)
    np.testing.assert_allclose(y.numpy(), loop_conv_transpose(x, w, bias, strides, padding, output_padding, dilation),
                               rtol=1e-10, atol=1e-10)
    if use_bias:
        gradcheck(lambda x, w, b: op(x, w, b, strides, padding, output_padding, dilation), x, w, b)
    else:
        gradcheck(lambda x, w: op(x, w, None, strides, padding, output_padding, dilation), x, w)


@given(data=st.data(), seed=seeds)
def test_conv_transpose_is_the_adjoint_of_conv(data, seed):
    """<conv_transpose(x, w), y> == <x, conv(y, w)>: the kernel (*k, F, C) read as a convolution
    from F to C channels, with the pads geometry.transposed_pad_amounts gives."""
    x_shape, w_shape, strides, padding, output_padding, dilation, _ = data.draw(transpose_cases(2))
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    t = conv.conv_transpose2d(Tensor(x), Tensor(w), None, strides, padding, output_padding, dilation).numpy()
    y = rng.standard_normal(t.shape)
    pads = minidl.functional.geometry.transposed_pad_amounts(x_shape[1:-1], w_shape[:2], strides, padding,
                                                             output_padding, dilation)
    back = conv.Conv(strides, pads, dilation=dilation)(Tensor(y), Tensor(w)).numpy()
    assert back.shape == x.shape
    np.testing.assert_allclose((t * y).sum(), (x * back).sum(), rtol=1e-10)


@pytest.mark.parametrize('nd, strides, dilation, output_padding, kernel', [
    (1, (3,), (1,), None, (2,)), (1, (1,), (2,), None, (3,)), (2, (2, 3), (1, 1), (1, 2), (3, 2)),
    (2, (1, 1), (2, 1), None, (3, 3)), (3, (2, 1, 2), (1, 1, 1), (1, 0, 0), (2, 2, 3))])
def test_valid_conv_transpose_matches_torch(nd, strides, dilation, output_padding, kernel):
    """'valid' maps onto torch's conv_transpose with padding 0 and output_padding = Keras' extra."""
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(nd)
    spatial = (4, 3, 2)[:nd]
    x, w, b = rng.standard_normal((2,) + spatial + (3,)), rng.standard_normal(kernel + (4, 3)), rng.standard_normal(4)
    xs, ws, bs = (Tensor(a, requires_grad=True) for a in (x, w, b))
    y = TRANSPOSE[nd](xs, ws, bs, strides, 'valid', output_padding, dilation)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    extra = [max((k - 1) * d + 1, s) - (k - 1) * d - 1 if output_padding is None else output_padding[a]
             for a, (k, s, d) in enumerate(zip(kernel, strides, dilation))]
    tx = torch.tensor(_torch_layout(x, nd), requires_grad=True)
    tw = torch.tensor(np.ascontiguousarray(w.transpose((nd + 1, nd) + tuple(range(nd)))), requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ty = getattr(torch.nn.functional, f'conv_transpose{nd}d')(tx, tw, tb, stride=strides, output_padding=extra,
                                                              dilation=dilation)
    ty.backward(torch.tensor(_torch_layout(gy, nd)))
    np.testing.assert_allclose(y.numpy(), _from_torch(ty, nd), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), _from_torch(tx.grad, nd), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ws.grad.numpy(), tw.grad.numpy().transpose(tuple(range(2, nd + 2)) + (1, 0)),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bs.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.slow
def test_conv_transpose_matches_tensorflow_on_every_shape_it_defines():
    """Keras on TensorFlow calls tf.nn.conv_transpose with the output shape Keras computes; on
    every case TF accepts (it rejects 'same' + output_padding combinations whose 'same'
    convolution does not map the output back to the input, and dilations on the CPU), minidl's
    forward equals it, for 'valid' and 'same', with and without output_padding."""
    tf = pytest.importorskip('tensorflow')
    rng = np.random.default_rng(0)
    checked = 0
    for size, k, s, d, padding, extra in itertools.product((3, 4), (1, 2, 3, 4), (1, 2, 3), (1, 2), ('valid', 'same'),
                                                           (None, 0, 1, 2)):
        if (s > 1 and d > 1) or (extra is not None and extra >= s):
            continue
        x, w = rng.standard_normal((2, size, 3, 2)), rng.standard_normal((k, 1, 3, 2))
        output_padding = None if extra is None else (extra, 0)
        y = conv.conv_transpose2d(Tensor(x), Tensor(w), None, (s, 1), padding, output_padding, (d, 1)).numpy()
        length = keras_transposed_length(size, k, s, padding, extra, d)
        try:
            expected = tf.nn.conv_transpose(tf.constant(x), tf.constant(w), [2, length, 3, 3], [s, 1],
                                            padding=padding.upper(), dilations=[d, 1]).numpy()
        except Exception:  # noqa: BLE001  (the cases TF itself does not define)
            continue
        np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10, err_msg=str((size, k, s, d, padding, extra)))
        checked += 1
    assert checked >= 100


def test_conv_transpose_upsamples_like_keras_decoders():
    """The shapes of the usual decoder steps: stride 2 'same' doubles, 'valid' adds k - 1."""
    x = Tensor(np.ones((1, 7, 7, 3)))
    assert conv.conv_transpose2d(x, np.ones((3, 3, 5, 3)), None, 2, 'same').shape == (1, 14, 14, 5)
    assert conv.conv_transpose2d(x, np.ones((3, 3, 5, 3)), None, 1, 'valid').shape == (1, 9, 9, 5)
    assert conv.conv_transpose2d(x, np.ones((2, 2, 5, 3)), None, 2, 'valid').shape == (1, 14, 14, 5)
    assert conv.conv_transpose2d(x, np.ones((3, 3, 5, 3)), None, 2, 'valid', 1).shape == (1, 16, 16, 5)


def test_conv_transpose_padding_past_the_windows_gets_only_the_bias():
    """'valid' with a stride larger than the kernel: the last s - k outputs see no input."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((1, 3, 2)), rng.standard_normal((2, 1, 2)), np.array([0.5])
    y = conv.conv_transpose1d(Tensor(x), Tensor(w), Tensor(b), 3, 'valid').numpy()
    assert y.shape == (1, 9, 1)
    np.testing.assert_allclose(y[0, 2::3, 0], 0.5)
    np.testing.assert_allclose(y[0, 0::3, 0], x[0] @ w[0, 0] + 0.5)


# --- depthwise and separable ------------------------------------------------------------------------
@pytest.mark.parametrize('nd', [1, 2])
@given(spatial=st.lists(st.integers(2, 6), min_size=2, max_size=2), channels=st.integers(1, 3),
       multiplier=st.integers(1, 3), kernel=st.lists(st.integers(1, 3), min_size=2, max_size=2),
       strides=st.lists(st.integers(1, 3), min_size=2, max_size=2), dilation=st.integers(1, 2),
       padding=st.sampled_from(['valid', 'same']), seed=seeds)
def test_depthwise_conv_gradcheck_and_grouped_loop_reference(nd, spatial, channels, multiplier, kernel, strides,
                                                            dilation, padding, seed):
    """Output channel c M + m is channel c convolved with depthwise_kernel[..., c, m]; per-axis
    kernels and strides, a stride up to 3 (wider than what is left of a small input: PyTorch's
    CPU conv2d and TensorFlow's depthwise_conv2d both return garbage for (2, 6, 3, 1) inputs with
    a (3, 2) kernel and strides (1, 3) in 'same', so the oracle here is the plain loop)."""
    spatial, kernel, strides = tuple(spatial[:nd]), tuple(kernel[:nd]), tuple(strides[:nd])
    if padding == 'valid':
        assume(all((k - 1) * dilation + 1 <= n for k, n in zip(kernel, spatial)))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2,) + spatial + (channels,))
    w = rng.standard_normal(kernel + (channels, multiplier))
    b = rng.standard_normal(channels * multiplier)
    op = conv.depthwise_conv1d if nd == 1 else conv.depthwise_conv2d
    args = (strides, padding, (dilation,) * nd)
    y = op(Tensor(x), Tensor(w), Tensor(b), *args).numpy()
    grouped = w.reshape(kernel + (1, channels * multiplier))
    np.testing.assert_allclose(y, loop_conv(x, grouped, b, *args, channels), rtol=1e-10, atol=1e-10)
    gradcheck(lambda x, w, b: op(x, w, b, *args), x, w, b)


@pytest.mark.parametrize('mode', ['reference', 'fast'])
def test_depthwise_stride_wider_than_the_input_left_equals_the_loop(mode):
    """The geometry where both oracles fail (see above): one output column from a width-3 input."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 6, 3, 1)), rng.standard_normal((3, 2, 1, 3)), rng.standard_normal(3)
    with minidl.use_kernels(mode):
        y = conv.depthwise_conv2d(Tensor(x), Tensor(w), Tensor(b), (1, 3), 'same').numpy()
    assert y.shape == (2, 6, 1, 3)
    np.testing.assert_allclose(y, loop_conv(x, w, b, (1, 3), 'same', (1, 1), 1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('nd', [1, 2])
def test_separable_conv_is_depthwise_then_pointwise_and_gradchecks(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2,) + (5,) * nd + (3,))
    dw, pw = rng.standard_normal((3,) * nd + (3, 2)), rng.standard_normal((1,) * nd + (6, 4))
    b = rng.standard_normal(4)
    sep = conv.separable_conv1d if nd == 1 else conv.separable_conv2d
    depthwise = conv.depthwise_conv1d if nd == 1 else conv.depthwise_conv2d
    y = sep(Tensor(x), Tensor(dw), Tensor(pw), Tensor(b), 2, 'same').numpy()
    z = depthwise(Tensor(x), Tensor(dw), None, 2, 'same').numpy()
    np.testing.assert_allclose(y, z @ pw.reshape(6, 4) + b, rtol=1e-10, atol=1e-10)
    gradcheck(lambda x, dw, pw, b: sep(x, dw, pw, b, 1, 'same', 2 if nd == 1 else (1, 2)), x, dw, pw, b)


def test_depthwise_conv_matches_torch_groups():
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 8, 7, 3)), rng.standard_normal((3, 3, 3, 2))
    xs, ws = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    y = conv.depthwise_conv2d(xs, ws, None, 2, 'valid')
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    tx = torch.tensor(_torch_layout(x, 2), requires_grad=True)
    tw = torch.tensor(w.reshape(3, 3, 1, 6).transpose(3, 2, 0, 1).copy(), requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, stride=2, groups=3)
    ty.backward(torch.tensor(_torch_layout(gy, 2)))
    np.testing.assert_allclose(y.numpy(), _from_torch(ty, 2), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), _from_torch(tx.grad, 2), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ws.grad.numpy(), tw.grad.numpy().transpose(2, 3, 1, 0).reshape(3, 3, 3, 2),
                               rtol=1e-10, atol=1e-10)


# --- the machinery ---------------------------------------------------------------------------------
def test_dilated_col2im_is_the_adjoint_of_dilated_im2col():
    rng = np.random.default_rng(5)
    for shape, kernel, strides, dilation in (((2, 9, 7, 3), (3, 2), (1, 2), (2, 3)), ((1, 6, 5, 4, 2), (2, 2, 2),
                                                                                      (1, 1, 2), (2, 1, 1))):
        pads = tuple(keras_pads(n, k, s, d, 'same') for n, k, s, d in zip(shape[1:-1], kernel, strides, dilation))
        x = rng.standard_normal(shape)
        col, _ = conv.im2col(x, kernel, strides, pads, dilation=dilation)
        c = rng.standard_normal(col.shape)
        back = conv.col2im(c, shape, kernel, strides, pads, dilation)
        np.testing.assert_allclose((col * c).sum(), (x * back).sum(), rtol=1e-10)


def test_signed_pads_crop_and_their_adjoint_restores_zeros():
    x = np.arange(2 * 5 * 1, dtype=float).reshape(2, 5, 1)
    padded = conv.pad_spatial(x, ((1, -2),))
    np.testing.assert_array_equal(padded[:, :, 0], [[0, 0, 1, 2], [0, 5, 6, 7]])
    np.testing.assert_array_equal(conv.crop_spatial(padded, ((1, -2),))[:, :, 0], [[0, 1, 2, 0, 0], [5, 6, 7, 0, 0]])


def test_groups_one_is_still_one_matrix_product_without_copies():
    """The reference's grouping is free for groups=1: the column matrix it keeps is im2col's."""
    x = Tensor(np.random.default_rng(0).standard_normal((2, 6, 6, 3)), requires_grad=True)
    with minidl.use_kernels('reference'):
        y = conv.conv2d(x, Tensor(np.ones((3, 3, 3, 4))), padding='same')
    assert y.creator.col.shape == (1, 2 * 36, 27) and y.creator.col.base is not None


@pytest.mark.parametrize('call, message', [
    (lambda: conv.conv2d(np.zeros((1, 5, 5, 6)), np.zeros((3, 3, 2, 4)), groups=2),
     r'has 6 channels .* expects 4 .* C = 6 / groups \(2\)'),
    (lambda: conv.conv2d(np.zeros((1, 5, 5, 4)), np.zeros((3, 3, 2, 3)), groups=2),
     'groups=2 does not divide'),
    (lambda: conv.conv2d(np.zeros((1, 5, 5, 4)), np.zeros((3, 3, 4, 3)), groups=0), 'groups must be a positive int'),
    (lambda: conv.conv2d(np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 1)), dilation_rate=3), 'does not fit'),
    (lambda: conv.conv3d(np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 3, 1, 1))), r'\(N, D, H, W, C\)'),
    (lambda: conv.conv_transpose2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4))),
     r'has 3 channels .* expects 4 .* \(kh, kw, F, C\)'),
    (lambda: conv.conv_transpose2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 4, 3)), strides=2, output_padding=2),
     'output_padding must be smaller than the stride'),
    (lambda: conv.conv_transpose1d(np.zeros((1, 5, 3)), np.zeros((3, 4, 3)), padding='causal'),
     "padding must be 'valid' or 'same'"),
    (lambda: conv.depthwise_conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 2, 1))), 'has 3 channels'),
    (lambda: conv.separable_conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 1)), np.zeros((3, 3, 3, 2))),
     r'pointwise kernel must be \(1, 1, C M, F\)'),
])
def test_errors_name_the_op_the_shapes_and_the_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_float32_stays_float32_through_the_new_ops():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 6, 6, 4)).astype(np.float32), requires_grad=True)
    ops = [lambda x: conv.conv2d(x, np.ones((3, 3, 2, 4), np.float32), None, 1, 'same', 2, 2),
           lambda x: conv.conv_transpose2d(x, np.ones((3, 3, 2, 4), np.float32), None, 2, 'same'),
           lambda x: conv.depthwise_conv2d(x, np.ones((3, 3, 4, 2), np.float32), None, 1, 'same')]
    for op in ops:
        x.grad = None
        y = op(x)
        y.backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.gpu
@pytest.mark.parametrize('op, x_shape, w_shape, kwargs', [
    (conv.conv2d, (2, 9, 8, 4), (3, 3, 2, 4), {'padding': 'same', 'dilation_rate': 2, 'groups': 2}),
    (conv.conv3d, (2, 5, 4, 3, 2), (2, 2, 2, 2, 3), {'strides': (1, 2, 1), 'padding': 'same'}),
    (conv.conv_transpose2d, (2, 5, 4, 3), (3, 3, 2, 3), {'strides': 2, 'padding': 'same'}),
    (conv.conv_transpose1d, (2, 5, 3), (3, 2, 3), {'dilation_rate': 2, 'padding': 'same'}),
    (conv.depthwise_conv2d, (2, 9, 8, 3), (3, 3, 3, 2), {'strides': 2, 'padding': 'same'})])
def test_cupy_matches_numpy(op, x_shape, w_shape, kwargs):
    """Forward and every gradient on the cupy backend equal the numpy ones to float32 tolerance."""
    pytest.importorskip('cupy')
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape)]
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


def test_every_small_transposed_geometry_keeps_the_scattered_mass():
    """A sweep of small 1-D geometries: ones scattered through a kernel of ones keep every
    contribution inside the output window (none lost to the signed pads, none counted twice)."""
    for n, k, s, d, padding, extra in itertools.product(range(1, 5), range(1, 4), range(1, 4), (1, 2), ('valid', 'same'),
                                                        (None, 0, 1)):
        if (s > 1 and d > 1) or (extra is not None and extra >= s):
            continue
        if keras_transposed_length(n, k, s, padding, extra, d) < 1:     # Keras' rule gives an empty output
            with pytest.raises(ValueError, match='gives an empty output'):
                conv.conv_transpose1d(Tensor(np.ones((1, n, 1))), np.ones((k, 1, 1)), None, s, padding, extra, d)
            continue
        y = conv.conv_transpose1d(Tensor(np.ones((1, n, 1))), np.ones((k, 1, 1)), None, s, padding, extra, d).numpy()
        assert y.shape[1] == keras_transposed_length(n, k, s, padding, extra, d) and np.isfinite(y).all()
        assert math.isclose(y.sum(), n * k - (0 if padding == 'valid' else _cropped(n, k, s, d, padding, extra)))


def _cropped(n, k, s, d, padding, extra):
    """How many of the n k scattered ones fall outside the 'same' output window."""
    full = np.zeros((n - 1) * s + (k - 1) * d + 1)
    for o in range(n):
        for i in range(k):
            full[o * s + i * d] += 1
    length = keras_transposed_length(n, k, s, padding, extra, d)
    before = max(len(full) - length, 0) // 2
    return full.sum() - full[before:before + length].sum()


