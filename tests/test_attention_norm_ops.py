"""functional/attention.py and functional/normalization_ops.py: float64 gradient checks (masks,
dropout masks, several axes, odd sizes), the defining formulas, and Keras 3 / PyTorch oracles."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minidl import Tensor
from minidl.functional import attention as A
from minidl.functional import normalization_ops as NO
from minidl.testing import gradcheck


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --- masked softmax and dot-product attention -------------------------------------------------

@pytest.mark.parametrize('mode', ['replace', 'subtract'])
def test_masked_softmax_gradcheck_and_semantics(mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5))
    mask = rng.random((2, 3, 5)) > 0.4
    mask[..., 0] = True
    gradcheck(lambda x: A.masked_softmax(x, mask, mode=mode), x)
    mask[0, 1] = False                        # a fully masked row (x - 1e9 is too coarse for central differences)
    t = Tensor(x, requires_grad=True)
    gy = rng.standard_normal(x.shape)
    A.masked_softmax(t, mask, mode=mode).backward(gy)
    p = softmax(x[0, 1])
    want = np.zeros(5) if mode == 'replace' else p * (gy[0, 1] - (gy[0, 1] * p).sum())
    np.testing.assert_allclose(t.grad.numpy()[0, 1], want, rtol=1e-6, atol=1e-12)
    y = A.masked_softmax(Tensor(x), mask, mode=mode).numpy()
    if mode == 'replace':
        np.testing.assert_array_equal(y[~mask], 0)
        np.testing.assert_array_equal(y[0, 1], 0)
    else:
        np.testing.assert_allclose(y[0, 1], softmax(x[0, 1]), rtol=1e-6)   # x - 1e9 keeps ~8 digits
    row = mask[1, 2]
    np.testing.assert_allclose(y[1, 2][row], softmax(x[1, 2][row]), rtol=1e-12)


@pytest.mark.parametrize('mode', ['replace', 'subtract'])
def test_masked_softmax_equals_keras_softmax_layer(keras, mode):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    mask = rng.random((2, 4, 3)) > 0.3
    mask[1, 0] = False
    if mode == 'replace':
        want = keras.ops.convert_to_numpy(keras.layers.Softmax()(x, mask=mask))
    else:
        want = keras.ops.convert_to_numpy(keras.ops.softmax(np.where(mask, x, x - 1e9), axis=-1))
    np.testing.assert_allclose(A.masked_softmax(Tensor(x), mask, mode=mode).numpy(), want, rtol=1e-6, atol=1e-7)


@given(tq=st.integers(1, 4), tk=st.integers(1, 4), heads=st.integers(1, 2), masked=st.booleans(),
       dropped=st.booleans(), seed=st.integers(0, 1000))
def test_dot_product_attention_gradcheck(tq, tk, heads, masked, dropped, seed):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((2, heads, tq, 3)), rng.standard_normal((2, heads, tk, 3))
    v = rng.standard_normal((2, heads, tk, 2))
    mask = (rng.random((2, 1, tq, tk)) > 0.3) if masked else None
    drop = (rng.random((2, heads, tq, tk)) > 0.25) / 0.75 if dropped else None
    for output in (0, 1):
        gradcheck(lambda q, k, v: A.dot_product_attention(q, k, v, mask, dropout_mask=drop)[output], q, k, v)


def test_dot_product_attention_broadcast_key_gradcheck():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((2, 3, 4, 3))
    k, v = rng.standard_normal((2, 1, 5, 3)), rng.standard_normal((1, 1, 5, 2))   # shared over heads
    gradcheck(lambda q, k, v: A.dot_product_attention(q, k, v, scale=0.7)[0], q, k, v)


def test_dot_product_attention_formula_and_causal_mask():
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 5))
    causal = A.causal_mask(4, 4)
    assert causal.shape == (1, 4, 4) and causal[0, 1, 0] and not causal[0, 0, 1]
    out, p = A.dot_product_attention(Tensor(q), Tensor(k), Tensor(v), causal)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(3)
    s = np.where(causal, s, -np.inf)
    np.testing.assert_allclose(p.numpy(), softmax(s), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out.numpy(), softmax(s) @ v, rtol=1e-12)


def test_dot_product_attention_matches_torch():
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((2, 2, 5, 3))
    mask = rng.random((2, 1, 3, 5)) > 0.3
    mask[..., 0] = True
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(mask))
    gy = rng.standard_normal(ref.shape)
    (ref * torch.tensor(gy)).sum().backward()
    mq, mk, mv = (Tensor(a, requires_grad=True) for a in (q, k, v))
    out, _ = A.dot_product_attention(mq, mk, mv, mask)
    (out * Tensor(gy)).sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10)
    for mine, theirs in zip((mq, mk, mv), (tq, tk, tv)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_additive_scores_gradcheck_and_formula():
    rng = np.random.default_rng(5)
    q, k, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal(4)
    gradcheck(A.additive_scores, q, k, w)
    want = (w * np.tanh(q[:, :, None] + k[:, None])).sum(-1)
    np.testing.assert_allclose(A.additive_scores(Tensor(q), Tensor(k), Tensor(w)).numpy(), want, rtol=1e-12)


def test_attention_errors_name_shapes():
    with pytest.raises(ValueError, match='same last dimension'):
        A.dot_product_attention(Tensor(np.zeros((2, 3, 4))), Tensor(np.zeros((2, 3, 5))), Tensor(np.zeros((2, 3, 5))))
    with pytest.raises(ValueError, match='additive_scores'):
        A.additive_scores(Tensor(np.zeros((2, 3, 4))), Tensor(np.zeros((2, 3, 5))), Tensor(np.zeros(4)))


# --- layer, group and unit normalization ----------------------------------------------------

@given(case=st.sampled_from([((3, 5), -1), ((2, 3, 4), -1), ((2, 3, 4), [1, 2]), ((2, 3, 4), 1),
                             ((2, 3, 2, 3), [-1, 1])]),
       center=st.booleans(), scale=st.booleans(), rms=st.booleans(), seed=st.integers(0, 1000))
def test_layer_norm_gradcheck(case, center, scale, rms, seed):
    shape, axis = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 1
    axes = sorted(a % len(shape) for a in ([axis] if isinstance(axis, int) else axis))
    pshape = tuple(shape[a] for a in axes)
    gamma = rng.standard_normal(pshape) if scale else None
    beta = rng.standard_normal(pshape) if center and not rms else None
    params = [p for p in (gamma, beta) if p is not None]

    def fn(x, *p):
        p = list(p)
        return NO.layer_norm(x, p.pop(0) if scale else None, p.pop(0) if beta is not None else None, axis,
                             epsilon=1e-3, rms_scaling=rms)
    gradcheck(fn, x, *params)


def test_layer_norm_over_a_middle_axis_follows_the_formula():
    # (Keras on PyTorch cannot run this case: it hands a non-trailing axis to torch's layer_norm.)
    rng = np.random.default_rng(12)
    x, g, b = rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    want = (x - mu) / np.sqrt(var + 1e-3) * g[:, None] + b[:, None]
    np.testing.assert_allclose(NO.layer_norm(Tensor(x), Tensor(g), Tensor(b), 1).numpy(), want, rtol=1e-12)


@pytest.mark.parametrize('shape,axis', [((2, 3, 4), -1), ((2, 3, 4), [1, 2]), ((2, 3, 2, 4), [2, 3])])
def test_layer_norm_equals_keras(keras, shape, axis):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    layer = keras.layers.LayerNormalization(axis=axis)
    layer.build(shape)
    w = [rng.standard_normal(a.shape).astype(np.float32) for a in layer.get_weights()]
    layer.set_weights(w)
    want = keras.ops.convert_to_numpy(layer(x))
    got = NO.layer_norm(Tensor(x), Tensor(w[0]), Tensor(w[1]), axis, epsilon=1e-3).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_layer_norm_matches_torch():
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(7)
    x, g, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    ref = torch.nn.functional.layer_norm(tx, (4, 5), tg, tb, 1e-3)
    gy = rng.standard_normal(ref.shape)
    (ref * torch.tensor(gy)).sum().backward()
    mx, mg, mb = (Tensor(a, requires_grad=True) for a in (x, g, b))
    y = NO.layer_norm(mx, mg, mb, [1, 2])
    (y * Tensor(gy)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    for mine, theirs in zip((mx, mg, mb), (tx, tg, tb)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('shape,groups,axis', [((2, 6), 3, -1), ((2, 3, 4), 2, -1), ((2, 4, 3, 2), 2, 1),
                                               ((2, 3, 3), 3, -1)])
def test_group_norm_gradcheck(shape, groups, axis):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape)
    c = shape[axis]
    gradcheck(lambda x, g, b: NO.group_norm(x, groups, g, b, axis), x, rng.standard_normal(c), rng.standard_normal(c))


@pytest.mark.parametrize('shape,groups,axis', [((2, 3, 4), 2, -1), ((2, 4, 3, 2), 2, 1), ((2, 5, 6), -1, -1)])
def test_group_norm_equals_keras(keras, shape, groups, axis):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    layer = keras.layers.GroupNormalization(groups=groups, axis=axis)
    layer.build(shape)
    w = [rng.standard_normal(a.shape).astype(np.float32) for a in layer.get_weights()]
    layer.set_weights(w)
    want = keras.ops.convert_to_numpy(layer(x))
    got = NO.group_norm(Tensor(x), shape[axis] if groups == -1 else groups, Tensor(w[0]), Tensor(w[1]), axis).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_group_norm_matches_torch():
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(10)
    x, g, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal(6), rng.standard_normal(6)
    ref = torch.nn.functional.group_norm(torch.tensor(x.transpose(0, 3, 1, 2)), 3, torch.tensor(g),
                                         torch.tensor(b), 1e-3).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(NO.group_norm(Tensor(x), 3, Tensor(g), Tensor(b)).numpy(), ref, rtol=1e-10, atol=1e-12)


def test_group_norm_rejects_bad_groups():
    with pytest.raises(ValueError, match='cannot be split into 4 groups'):
        NO.group_norm(Tensor(np.zeros((2, 6))), 4)


@pytest.mark.parametrize('shape,axis', [((3, 4), -1), ((2, 3, 4), [1, 2]), ((2, 3, 4), 1)])
def test_unit_norm_gradcheck_and_keras(keras, shape, axis):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape)
    gradcheck(lambda x: NO.unit_norm(x, axis), x)
    want = keras.ops.convert_to_numpy(keras.layers.UnitNormalization(axis=axis)(x.astype(np.float32)))
    np.testing.assert_allclose(NO.unit_norm(Tensor(x), axis).numpy(), want, rtol=1e-5, atol=1e-6)


def test_unit_norm_of_zero_is_zero_with_finite_gradient():
    x = np.zeros((2, 3))
    x[1] = [3.0, 4.0, 0.0]
    t = Tensor(x, requires_grad=True)
    y = NO.unit_norm(t)
    y.backward(np.ones((2, 3)))
    np.testing.assert_allclose(y.numpy(), [[0, 0, 0], [0.6, 0.8, 0]])
    assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_allclose(t.grad.numpy()[0], 1e12)


@pytest.mark.parametrize('mask_mode', ['replace', 'subtract'])
@pytest.mark.parametrize('masked, dropped, broadcast_key', [(True, True, False), (False, False, False),
                                                            (True, False, True), (False, True, True)])
def test_fast_dot_product_attention_equals_reference(mask_mode, masked, dropped, broadcast_key):
    import minidl
    from minidl import kernels
    rng = np.random.default_rng(20)
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 2))
    if broadcast_key:
        k, v = k[:, :1], v[:, :1]
    mask = rng.random((2, 1, 4, 6)) > 0.3 if masked else None
    if masked:
        mask[0, 0, 1] = False        # a fully masked row: zeros ('replace') or a uniform softmax
    drop = (rng.random((2, 3, 4, 6)) > 0.2) / 0.8 if dropped else None
    gys = [rng.standard_normal((2, 3, 4, 2)), rng.standard_normal((2, 3, 4, 6))]
    results = []
    for mode in ('reference', 'fast'):
        with minidl.use_kernels(mode):
            kernels.reset_launches()
            ts = [Tensor(a, requires_grad=True) for a in (q, k, v)]
            out, p = A.dot_product_attention(*ts, mask, dropout_mask=drop, mask_mode=mask_mode)
            assert ('DotProductAttentionNumPy' in kernels.launches()) == (mode == 'fast')
            ((out * Tensor(gys[0])).sum() + (p * Tensor(gys[1])).sum()).backward()
            results.append([out.numpy(), p.numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
