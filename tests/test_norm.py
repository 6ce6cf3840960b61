"""batch_norm and dropout: float64 gradient checks, forward vs the defining formulas, Keras'
moving-average update, PyTorch as an oracle, and dropout's determinism under minidl.seed."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import Tensor
from minidl.functional.norm import batch_norm, dropout
from minidl.testing import gradcheck

seeds = st.integers(0, 2**16)
shapes = st.sampled_from([(4, 3), (3, 5, 2), (2, 3, 4, 3), (1, 3, 3, 2), (5, 1)])


def moving(rng, channels):
    return Tensor(rng.standard_normal(channels)), Tensor(rng.uniform(0.5, 2.0, channels))


@given(shape=shapes, training=st.booleans(), scale=st.booleans(), center=st.booleans(), seed=seeds)
def test_batch_norm_gradcheck(shape, training, scale, center, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    mean, var = moving(rng, shape[-1])
    params = [p for p, on in ((gamma, scale), (beta, center)) if on]

    def fn(x, *p):
        p = list(p)
        return batch_norm(x, p.pop(0) if scale else None, p.pop(0) if center else None, mean, var, training)
    gradcheck(fn, x, *params)


@pytest.mark.parametrize('shape', [(6, 3), (4, 5, 3), (3, 4, 5, 3)])
def test_training_forward_and_keras_moving_update(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 2
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    mean0, var0 = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    mm, mv = Tensor(mean0.copy()), Tensor(var0.copy())
    y = batch_norm(Tensor(x), Tensor(gamma), Tensor(beta), mm, mv, training=True, momentum=0.9, epsilon=1e-3)
    flat = x.reshape(-1, 3)
    mu, var = flat.mean(axis=0), flat.var(axis=0)
    np.testing.assert_allclose(y.numpy(), gamma * (x - mu) / np.sqrt(var + 1e-3) + beta, rtol=1e-10)
    np.testing.assert_allclose(mm.numpy(), 0.9 * mean0 + 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(mv.numpy(), 0.9 * var0 + 0.1 * var, rtol=1e-12)  # biased variance, as Keras


def test_inference_uses_moving_statistics_and_leaves_them_alone():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 2, 3))
    mean0, var0 = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    mm, mv = Tensor(mean0.copy()), Tensor(var0.copy())
    y = batch_norm(Tensor(x), None, None, mm, mv, training=False)
    np.testing.assert_allclose(y.numpy(), (x - mean0) / np.sqrt(var0 + 1e-3), rtol=1e-12)
    np.testing.assert_array_equal(mm.numpy(), mean0)
    np.testing.assert_array_equal(mv.numpy(), var0)


def test_float32_moving_statistics_stay_float32():
    x = Tensor(np.random.default_rng(2).standard_normal((8, 3)).astype(np.float32), requires_grad=True)
    mm, mv = Tensor(np.zeros(3, np.float32)), Tensor(np.ones(3, np.float32))
    y = batch_norm(x, None, None, mm, mv, training=True)
    y.backward(np.ones((8, 3), np.float32))
    assert y.dtype == mm.dtype == mv.dtype == x.grad.dtype == np.float32
    assert not (mm.numpy() == 0).all()


@pytest.mark.parametrize('training', [True, False])
def test_batch_norm_matches_torch(training):
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 5, 2)) * 2 + 1
    gamma, beta, gy = rng.standard_normal(2), rng.standard_normal(2), rng.standard_normal((4, 3, 5, 2))
    mean0, var0 = rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    xs, gs, bs = (Tensor(a, requires_grad=True) for a in (x, gamma, beta))
    y = batch_norm(xs, gs, bs, Tensor(mean0.copy()), Tensor(var0.copy()), training)
    y.backward(gy)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x.transpose(0, 3, 1, 2), gamma, beta))
    ty = torch.nn.functional.batch_norm(tx, torch.tensor(mean0), torch.tensor(var0), tg, tb, training, 0.01, 1e-3)
    ty.backward(torch.tensor(gy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gs.grad.numpy(), tg.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bs.grad.numpy(), tb.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_batch_norm_shape_errors():
    with pytest.raises(ValueError, match=r'gamma must have shape \(3,\).*\(2, 3\).*\(4,\)'):
        batch_norm(np.zeros((2, 3)), Tensor(np.ones(4)), None, Tensor(np.zeros(3)), Tensor(np.ones(3)), True)


def test_dropout_scales_survivors_and_is_seeded():
    x = np.random.default_rng(4).standard_normal((50, 40)).astype(np.float32)
    minidl.seed(7)
    xs = Tensor(x, requires_grad=True)
    y = dropout(xs, 0.25, training=True)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], x[kept] / 0.75, rtol=1e-6)
    assert 0.65 < kept.mean() < 0.85
    y.backward(np.ones_like(x))
    np.testing.assert_allclose(xs.grad.numpy(), kept / 0.75, rtol=1e-6)
    minidl.seed(7)
    np.testing.assert_array_equal(dropout(Tensor(x), 0.25, training=True).numpy(), y.numpy())


def test_dropout_gradcheck():
    x = np.random.default_rng(5).standard_normal((3, 4))

    def fn(x):
        minidl.seed(3)  # the same mask at every evaluation
        return dropout(x, 0.5, True)
    gradcheck(fn, x)


def test_dropout_is_identity_outside_training_or_at_rate_zero():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0, training=True) is x
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
        dropout(x, 1.0, training=True)


@given(shape=st.sampled_from([(6, 5, 4), (3, 4, 5, 2)]), data=st.data(), seed=st.integers(0, 2**16))
def test_dropout_noise_shape_draws_the_mask_once_per_shared_axis(shape, data, seed):
    """noise_shape (None entries take x's size): the mask is drawn at that shape and broadcast,
    so it is constant along every axis of size 1 there; the gradient is the same mask."""
    noise = tuple(data.draw(st.sampled_from([None, 1, n])) for n in shape)
    x = np.random.default_rng(seed).standard_normal(shape) + 5   # no zeros of its own
    minidl.seed(seed)
    xs = Tensor(x, requires_grad=True)
    y = dropout(xs, 0.5, True, noise_shape=noise)
    mask = y.numpy() / x
    for axis, d in enumerate(noise):
        if d == 1:
            np.testing.assert_allclose(mask, np.take(mask, [0], axis=axis) + 0 * mask)
    assert set(np.unique(np.round(mask, 9))) <= {0.0, 2.0}
    y.backward(np.ones(shape))
    np.testing.assert_allclose(xs.grad.numpy(), mask, rtol=1e-12)

    small = tuple(1 if d == 1 else None for d in noise)   # the same sharing for a smaller x

    def fn(x):
        minidl.seed(seed)
        return dropout(x, 0.3, True, noise_shape=small)
    gradcheck(fn, x[:2, :2])


def test_dropout_noise_shape_matches_keras_statistics_and_errors():
    x = Tensor(np.ones((400, 3, 8)))
    y = dropout(x, 0.25, True, noise_shape=(None, 1, 8)).numpy()
    np.testing.assert_array_equal(y[:, 0], y[:, 2])          # shared along the size-1 axis
    assert 0.7 < (y[:, 0] != 0).mean() < 0.8                   # keep probability 0.75
    with pytest.raises(ValueError, match=r'noise_shape \(None, 2, 8\) does not broadcast'):
        dropout(x, 0.5, True, noise_shape=(None, 2, 8))
    with pytest.raises(ValueError, match='one entry per axis'):
        dropout(x, 0.5, True, noise_shape=(None, 8))
    with pytest.raises(TypeError, match='seed must be None, an int'):
        dropout(x, 0.5, True, seed='abc')


def test_dropout_seed_int_is_fixed_and_a_generator_advances():
    """An int seed gives the same mask at every call (Keras' keras.random.dropout with an int
    seed); a numpy Generator gives new masks, reproducibly; neither touches minidl's stream."""
    x = Tensor(np.ones((20, 30)))
    a, b = (dropout(x, 0.5, True, seed=11).numpy() for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dropout(x, 0.5, True, seed=12).numpy())
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    first, second = dropout(x, 0.5, True, seed=g1).numpy(), dropout(x, 0.5, True, seed=g1).numpy()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, dropout(x, 0.5, True, seed=g2).numpy())
    minidl.seed(1)
    expected = dropout(x, 0.5, True).numpy()
    minidl.seed(1)
    dropout(x, 0.5, True, seed=3)
    np.testing.assert_array_equal(dropout(x, 0.5, True).numpy(), expected)


@pytest.mark.gpu
@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('affine', [True, False])
def test_batch_norm_cupy_matches_numpy(training, affine):
    """Output, gradients and moving statistics on the cupy backend equal the numpy ones (float32),
    with and without gamma and beta."""
    pytest.importorskip('cupy')
    rng = np.random.default_rng(0)
    x, gamma, beta = (rng.standard_normal(s).astype(np.float32) + 2 for s in ((4, 5, 6, 3), 3, 3))
    gy = rng.standard_normal((4, 5, 6, 3)).astype(np.float32)
    results = {}
    for backend in ('numpy', 'cupy'):
        minidl.set_backend(backend)
        try:
            tensors = [Tensor(a, requires_grad=True) for a in ((x, gamma, beta) if affine else (x,))]
            mean, var = Tensor(np.full(3, 0.5, np.float32)), Tensor(np.full(3, 2.0, np.float32))
            params = tensors[1:] if affine else [None, None]
            y = batch_norm(tensors[0], *params, mean, var, training)
            y.backward(gy)
            results[backend] = [y.numpy()] + [t.grad.numpy() for t in tensors] + [mean.numpy(), var.numpy()]
        finally:
            minidl.set_backend('numpy')
    for ours, reference in zip(results['cupy'], results['numpy']):
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_dropout_on_cupy_is_seeded_and_scaled():
    pytest.importorskip('cupy')
    minidl.set_backend('cupy')
    try:
        x = Tensor(np.ones((64, 32), np.float32))
        minidl.seed(3)
        y = dropout(x, 0.5, True).numpy()
        minidl.seed(3)
        np.testing.assert_array_equal(dropout(x, 0.5, True).numpy(), y)
        assert set(np.unique(y)) <= {0.0, 2.0} and 0.4 < (y != 0).mean() < 0.6
    finally:
        minidl.set_backend('numpy')
