"""Losses: float64 gradient checks on hypothesis-drawn shapes, forward vs Keras' formulas written
out in NumPy (clipping, renormalisation, hinge label conversion), PyTorch as an oracle, and
stability at extreme logits."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import Tensor
from minidl.functional.loss import (binary_crossentropy, categorical_crossentropy, categorical_hinge, hinge,
                                    mean_absolute_error, mean_squared_error, sparse_categorical_crossentropy,
                                    squared_hinge)
from minidl.testing import gradcheck

EPS = 1e-7
seeds = st.integers(0, 2**16)
batch_classes = st.tuples(st.integers(1, 4), st.integers(2, 5))


def keras_categorical(t, p):
    p = np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
    return np.mean(-np.sum(t * np.log(p), axis=-1))


def keras_binary(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), axis=-1))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def away_from(x, kink, margin=0.1):
    return np.where(np.abs(x - kink) < margin, kink + np.sign(x - kink + 1e-12) * 2 * margin, x)


@given(shape=batch_classes, seed=seeds, from_logits=st.booleans())
def test_categorical_crossentropy(shape, seed, from_logits):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, shape[1], shape[0])
    onehot = np.eye(shape[1])[labels]
    soft = rng.dirichlet(np.ones(shape[1]), shape[0])
    y_pred = rng.standard_normal(shape) * 2 if from_logits else rng.uniform(0.05, 1, shape)
    probs = softmax(y_pred) if from_logits else y_pred
    for t in (onehot, soft):
        value = categorical_crossentropy(t, Tensor(y_pred), from_logits).item()
        np.testing.assert_allclose(value, keras_categorical(t, probs), rtol=1e-10)
        gradcheck(lambda p: categorical_crossentropy(t, p, from_logits), y_pred)
    sparse = sparse_categorical_crossentropy(labels, Tensor(y_pred), from_logits).item()
    np.testing.assert_allclose(sparse, keras_categorical(onehot, probs), rtol=1e-10)
    gradcheck(lambda p: sparse_categorical_crossentropy(labels, p, from_logits), y_pred)


@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 3)), seed=seeds, from_logits=st.booleans())
def test_binary_crossentropy(shape, seed, from_logits):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, shape).astype(float)
    y_pred = rng.standard_normal(shape) * 3 if from_logits else rng.uniform(0.02, 0.98, shape)
    probs = sigmoid(y_pred) if from_logits else y_pred
    np.testing.assert_allclose(binary_crossentropy(t, Tensor(y_pred), from_logits).item(), keras_binary(t, probs),
                               rtol=1e-10)
    gradcheck(lambda p: binary_crossentropy(t, p, from_logits), y_pred)


@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4)), seed=seeds)
def test_regression_and_hinge_losses(shape, seed):
    rng = np.random.default_rng(seed)
    t = rng.standard_normal(shape)
    p = away_from(rng.standard_normal(shape) * 2, t)
    np.testing.assert_allclose(mean_squared_error(t, Tensor(p)).item(), np.mean(np.mean((p - t) ** 2, -1)))
    np.testing.assert_allclose(mean_absolute_error(t, Tensor(p)).item(), np.mean(np.mean(np.abs(p - t), -1)))
    gradcheck(lambda p: mean_squared_error(t, p), p)
    gradcheck(lambda p: mean_absolute_error(t, p), p)
    signs = np.where(rng.integers(0, 2, shape) == 1, 1.0, -1.0)
    q = away_from(away_from(rng.standard_normal(shape) * 2, 1.0), -1.0)
    margin = np.maximum(1 - signs * q, 0)
    np.testing.assert_allclose(hinge(signs, Tensor(q)).item(), np.mean(np.mean(margin, -1)))
    np.testing.assert_allclose(squared_hinge(signs, Tensor(q)).item(), np.mean(np.mean(margin ** 2, -1)))
    gradcheck(lambda q: hinge(signs, q), q)
    gradcheck(lambda q: squared_hinge(signs, q), q)


@given(shape=batch_classes, seed=seeds)
def test_categorical_hinge(shape, seed):
    rng = np.random.default_rng(seed)
    t = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    p = rng.standard_normal(shape)
    pos, neg = np.sum(t * p, -1), np.max((1 - t) * p, -1)
    np.testing.assert_allclose(categorical_hinge(t, Tensor(p)).item(), np.mean(np.maximum(neg - pos + 1, 0)))
    gradcheck(lambda p: categorical_hinge(t, p), p)


def test_hinge_converts_zero_one_labels_like_keras():
    p = Tensor(np.array([[0.3, -2.0, 1.5], [-0.2, 0.4, 2.5]]))
    zero_one = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    assert hinge(zero_one, p).item() == hinge(2 * zero_one - 1, p).item()
    assert squared_hinge(zero_one, p).item() == squared_hinge(2 * zero_one - 1, p).item()


def test_probabilities_are_clipped_like_keras():
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    t = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(categorical_crossentropy(t, Tensor(p)).item(), keras_categorical(t, p), rtol=1e-12)
    np.testing.assert_allclose(binary_crossentropy(t, Tensor(p)).item(), keras_binary(t, p), rtol=1e-12)
    unnormalised = np.array([[2.0, 6.0]])
    np.testing.assert_allclose(categorical_crossentropy(np.array([[0.0, 1.0]]), Tensor(unnormalised)).item(),
                               -np.log(0.75), rtol=1e-12)


def test_extreme_logits_stay_finite():
    z = Tensor(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 5.0]]), requires_grad=True)
    t = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    loss = categorical_crossentropy(t, z, from_logits=True)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1000.0)
    np.testing.assert_allclose(z.grad.numpy(), (softmax(z.numpy()) - t) / 2, atol=1e-12)
    x = Tensor(np.array([[1000.0, -1000.0]]), requires_grad=True)
    loss = binary_crossentropy(np.array([[0.0, 1.0]]), x, from_logits=True)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1000.0)
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -0.5]])


def test_label_shapes_and_types():
    rng = np.random.default_rng(0)
    z = Tensor(rng.standard_normal((4, 3)))
    labels = np.array([0, 2, 1, 2])
    expected = sparse_categorical_crossentropy(labels, z, True).item()
    for variant in (labels[:, None], labels.astype(np.float32)[:, None], Tensor(labels)):
        assert sparse_categorical_crossentropy(variant, z, True).item() == expected
    column = Tensor(rng.standard_normal((4, 1)))
    assert binary_crossentropy(np.array([0, 1, 1, 0]), column, True).item() == \
        binary_crossentropy(np.array([[0], [1], [1], [0]]), column, True).item()


def test_label_errors_are_explained():
    z = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r'\[0, 2\] for 3 classes'):
        sparse_categorical_crossentropy(np.array([0, 3]), z)
    with pytest.raises(ValueError, match=r'y_true has shape \(2, 4\) but y_pred has shape \(2, 3\)'):
        categorical_crossentropy(np.zeros((2, 4)), z)


def test_float32_result():
    z = Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    loss = categorical_crossentropy(np.eye(3)[:2], z, from_logits=True)
    loss.backward()
    assert loss.dtype == np.float32 and z.grad.dtype == np.float32 and loss.shape == ()


def test_losses_match_torch():
    torch = pytest.importorskip('torch')
    tf = torch.nn.functional
    rng = np.random.default_rng(1)
    z, p = rng.standard_normal((5, 4)), rng.uniform(0.05, 0.95, (5, 4))
    soft, bits = rng.dirichlet(np.ones(4), 5), rng.integers(0, 2, (5, 4)).astype(float)
    cases = [(lambda y: categorical_crossentropy(soft, y, True), lambda y: tf.cross_entropy(y, torch.tensor(soft)), z),
             (lambda y: binary_crossentropy(bits, y, True),
              lambda y: tf.binary_cross_entropy_with_logits(y, torch.tensor(bits)), z),
             (lambda y: binary_crossentropy(bits, y), lambda y: tf.binary_cross_entropy(y, torch.tensor(bits)), p),
             (lambda y: mean_squared_error(soft, y), lambda y: tf.mse_loss(y, torch.tensor(soft)), z),
             (lambda y: mean_absolute_error(soft, y), lambda y: tf.l1_loss(y, torch.tensor(soft)), z)]
    for ours, theirs, y_pred in cases:
        y = Tensor(y_pred, requires_grad=True)
        loss = ours(y)
        loss.backward()
        ty = torch.tensor(y_pred, requires_grad=True)
        tloss = theirs(ty)
        tloss.backward()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
        np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-9, atol=1e-15)


@pytest.mark.gpu
def test_cupy_matches_numpy():
    pytest.importorskip('cupy')
    rng = np.random.default_rng(2)
    z, p = rng.standard_normal((5, 4)).astype(np.float32), rng.uniform(0.05, 0.95, (5, 4)).astype(np.float32)
    soft, labels = rng.dirichlet(np.ones(4), 5), rng.integers(0, 4, 5)
    signs = np.where(rng.integers(0, 2, (5, 4)) == 1, 1.0, -1.0)
    cases = [lambda y: categorical_crossentropy(soft, y, True), lambda y: categorical_crossentropy(soft, y),
             lambda y: sparse_categorical_crossentropy(labels, y, True), lambda y: binary_crossentropy(signs > 0, y),
             lambda y: binary_crossentropy(signs > 0, y, True), lambda y: mean_squared_error(soft, y),
             lambda y: mean_absolute_error(soft, y), lambda y: hinge(signs, y), lambda y: squared_hinge(signs, y),
             lambda y: categorical_hinge(np.eye(4)[labels], y)]
    for i, loss in enumerate(cases):
        y_pred = p if i in (1, 3) else z
        results = {}
        for backend in ('numpy', 'cupy'):
            minidl.set_backend(backend)
            try:
                y = Tensor(y_pred, requires_grad=True)
                value = loss(y)
                value.backward()
                results[backend] = (value.numpy(), y.grad.numpy())
            finally:
                minidl.set_backend('numpy')
        for ours, reference in zip(results['cupy'], results['numpy']):
            np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-7)
