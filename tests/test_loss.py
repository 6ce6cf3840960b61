"""Losses: every loss and option against Keras 3 (value and gradient, every reduction, with and
without sample weights), float64 gradient checks of the per-sample and fused-mean ops, stability
at extreme logits, PyTorch as a second oracle."""
import numpy as np
import pytest

import minidl
from minidl import Tensor, losses
from minidl.functional import loss as FL
from minidl.testing import gradcheck

N, C = 5, 4


def make_data(kind, pred, rng, shape=(N, C)):
    """Labels of ``kind`` and predictions of ``pred`` ('probs', 'logits', 'real', 'positive')."""
    if kind == 'binary':
        t = rng.integers(0, 2, shape).astype(np.float32)
    elif kind == 'soft':
        t = rng.dirichlet(np.ones(shape[-1]), shape[:-1]).astype(np.float32)
    elif kind == 'onehot':
        t = np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], shape[:-1])]
    elif kind == 'sparse':
        t = rng.integers(0, shape[-1], shape[:-1])
    elif kind == 'signs':
        t = np.where(rng.integers(0, 2, shape) == 1, 1.0, -1.0).astype(np.float32)
    elif kind == 'positive':
        t = rng.poisson(2.0, shape).astype(np.float32)
    else:
        t = rng.standard_normal(shape).astype(np.float32)
    if pred == 'probs':
        p = rng.uniform(0.05, 0.95, shape)
    elif pred == 'logits':
        p = rng.standard_normal(shape) * 2
    elif pred == 'positive':
        p = rng.uniform(0.2, 4.0, shape)
    else:
        p = rng.standard_normal(shape) * 2
    return t, p.astype(np.float32)


def away_from_kinks(name, kw, t, p):
    """Move predictions off the points where the loss is not differentiable."""
    t = t.astype(p.dtype) if t.dtype.kind == 'f' else t
    if name in ('MeanAbsoluteError', 'MeanAbsolutePercentageError', 'Huber'):
        d = p - t
        p = np.where(np.abs(d) < 0.1, t + 0.2 * np.sign(d + 1e-9), p)
        if name == 'Huber':
            delta = kw.get('delta', 1.0)
            d = p - t
            p = np.where(np.abs(np.abs(d) - delta) < 0.1, t + np.sign(d) * (delta + 0.2), p)
    if name in ('Hinge', 'SquaredHinge'):
        s = 2 * t - 1 if set(np.unique(t)) <= {0.0, 1.0} else t
        m = 1 - s * p
        p = np.where(np.abs(m) < 0.1, p + 0.25 * s, p)
    return p


# (class name, kwargs, label kind, prediction kind, shape)
CASES = [
    ('MeanSquaredError', {}, 'real', 'real', (N, C)),
    ('MeanSquaredError', {}, 'real', 'real', (N, 3, 2)),
    ('MeanAbsoluteError', {}, 'real', 'real', (N, C)),
    ('MeanAbsolutePercentageError', {}, 'real', 'real', (N, C)),
    ('MeanSquaredLogarithmicError', {}, 'positive', 'positive', (N, C)),
    ('CosineSimilarity', {}, 'real', 'real', (N, C)),
    ('CosineSimilarity', {'axis': 1}, 'real', 'real', (N, 3, 2)),
    ('Huber', {}, 'real', 'real', (N, C)),
    ('Huber', {'delta': 0.5}, 'real', 'real', (N, C)),
    ('LogCosh', {}, 'real', 'real', (N, C)),
    ('Hinge', {}, 'signs', 'real', (N, C)),
    ('Hinge', {}, 'binary', 'real', (N, C)),
    ('SquaredHinge', {}, 'signs', 'real', (N, C)),
    ('SquaredHinge', {}, 'binary', 'real', (N, C)),
    ('CategoricalHinge', {}, 'onehot', 'real', (N, C)),
    ('KLDivergence', {}, 'soft', 'probs', (N, C)),
    ('Poisson', {}, 'positive', 'positive', (N, C)),
    ('BinaryCrossentropy', {}, 'binary', 'probs', (N, C)),
    ('BinaryCrossentropy', {'from_logits': True}, 'binary', 'logits', (N, C)),
    ('BinaryCrossentropy', {'label_smoothing': 0.1}, 'binary', 'probs', (N, C)),
    ('BinaryCrossentropy', {'from_logits': True, 'label_smoothing': 0.2}, 'soft', 'logits', (N, C)),
    ('BinaryCrossentropy', {'axis': 1, 'from_logits': True}, 'binary', 'logits', (N, 3, 2)),
    ('BinaryFocalCrossentropy', {}, 'binary', 'probs', (N, C)),
    ('BinaryFocalCrossentropy', {'from_logits': True, 'gamma': 3.0}, 'binary', 'logits', (N, C)),
    ('BinaryFocalCrossentropy', {'apply_class_balancing': True, 'alpha': 0.3, 'label_smoothing': 0.1},
     'binary', 'probs', (N, C)),
    ('BinaryFocalCrossentropy', {'from_logits': True, 'apply_class_balancing': True, 'gamma': 0.0},
     'binary', 'logits', (N, C)),
    ('CategoricalCrossentropy', {}, 'onehot', 'probs', (N, C)),
    ('CategoricalCrossentropy', {}, 'soft', 'probs', (N, C)),
    ('CategoricalCrossentropy', {'from_logits': True}, 'onehot', 'logits', (N, C)),
    ('CategoricalCrossentropy', {'from_logits': True, 'label_smoothing': 0.1}, 'onehot', 'logits', (N, C)),
    ('CategoricalCrossentropy', {'label_smoothing': 0.2}, 'soft', 'probs', (N, C)),
    ('CategoricalCrossentropy', {'from_logits': True, 'axis': 1}, 'onehot', 'logits', (N, 3, 2)),
    ('CategoricalCrossentropy', {'from_logits': True}, 'onehot', 'logits', (N, 3, C)),
    ('CategoricalFocalCrossentropy', {}, 'onehot', 'probs', (N, C)),
    ('CategoricalFocalCrossentropy', {'from_logits': True, 'alpha': 0.5, 'gamma': 1.5}, 'onehot', 'logits', (N, C)),
    ('CategoricalFocalCrossentropy', {'label_smoothing': 0.1, 'gamma': 0.0}, 'soft', 'probs', (N, C)),
    ('SparseCategoricalCrossentropy', {}, 'sparse', 'probs', (N, C)),
    ('SparseCategoricalCrossentropy', {'from_logits': True}, 'sparse', 'logits', (N, C)),
    ('SparseCategoricalCrossentropy', {'from_logits': True, 'ignore_class': 2}, 'sparse', 'logits', (N, C)),
    ('SparseCategoricalCrossentropy', {'from_logits': True}, 'sparse', 'logits', (N, 3, C)),
    ('SparseCategoricalCrossentropy', {'from_logits': True, 'axis': 1}, 'sparse', 'logits', (N, 3, 2)),
    ('SparseCategoricalCrossentropy', {'ignore_class': 0}, 'sparse', 'probs', (N, 3, C)),
]
CASE_IDS = [f'{name}-{kw}-{shape}' for name, kw, _, _, shape in CASES]


def case_data(i, name, kw, kind, pred, shape):
    rng = np.random.default_rng(100 + i)
    if kind == 'sparse' and kw.get('axis') == 1:
        t = rng.integers(0, shape[1], (shape[0], shape[2]))
        p = (rng.standard_normal(shape) * 2).astype(np.float32)
    else:
        t, p = make_data(kind, pred, rng, shape)
    return t, away_from_kinks(name, kw, t, p).astype(np.float32)


def sample_weights(name, kw, t, p, rng):
    """One weight per loss value (per sample for (N, C) predictions, per step for sequences)."""
    shape = getattr(losses, name)(reduction='none', **kw)(t, p).shape
    return rng.uniform(0.0, 2.0, shape).astype(np.float32)


REDUCTIONS = [('sum_over_batch_size', False), ('sum_over_batch_size', True), ('none', False), ('sum', True),
              ('mean', True), ('mean_with_sample_weight', True)]


@pytest.mark.parametrize('i', range(len(CASES)), ids=CASE_IDS)
def test_every_loss_equals_keras_in_value_and_gradient(keras, i):
    torch = pytest.importorskip('torch')
    name, kw, kind, pred, shape = CASES[i]
    t, p = case_data(i, name, kw, kind, pred, shape)
    rng = np.random.default_rng(i)
    for reduction, weighted in REDUCTIONS:
        sw = sample_weights(name, kw, t, p, rng) if weighted else None
        ours = getattr(losses, name)(reduction=reduction, **kw)
        theirs = getattr(keras.losses, name)(reduction=reduction, **kw)
        y = Tensor(p, requires_grad=True)
        value = ours(t, y, sample_weight=sw)
        ty = torch.tensor(p, requires_grad=True)
        tvalue = theirs(t, ty, sample_weight=sw)
        expected = keras.ops.convert_to_numpy(tvalue)
        assert value.shape == expected.shape, (reduction, value.shape, expected.shape)
        np.testing.assert_allclose(value.numpy(), expected, rtol=2e-5, atol=2e-6, err_msg=f'{reduction} value')
        gy = rng.standard_normal(expected.shape).astype(np.float32)
        value.backward(gy)
        (tvalue * torch.tensor(gy)).sum().backward()
        np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=f'{reduction} gradient')


@pytest.mark.parametrize('i', range(len(CASES)), ids=CASE_IDS)
def test_every_loss_gradient_is_the_derivative_in_float64(i):
    name, kw, kind, pred, shape = CASES[i]
    t, p = case_data(i, name, kw, kind, pred, shape)
    p = p.astype(np.float64)
    t = t.astype(np.float64) if t.dtype.kind == 'f' else t
    per_sample = getattr(losses, name)(reduction='none', **kw)
    gradcheck(lambda y: per_sample(t, y), p)
    fused = getattr(losses, name)(**kw)                    # the one-op mean (no weights, no mask)
    gradcheck(lambda y: fused(t, y), p)
    weighted = getattr(losses, name)(reduction='sum', **kw)
    w = sample_weights(name, kw, t, p, np.random.default_rng(i)).astype(np.float64)
    gradcheck(lambda y: weighted(t, y, sample_weight=w), p)


def test_default_reduction_is_one_fused_op_equal_to_the_two_step_mean(rng):
    t = rng.integers(0, 4, 6)
    z = Tensor(rng.standard_normal((6, 4)).astype(np.float32), requires_grad=True)
    fused = losses.SparseCategoricalCrossentropy(from_logits=True)(t, z)
    assert isinstance(fused.creator, FL.CategoricalCrossentropy) and fused.creator.mean
    two_step = losses.SparseCategoricalCrossentropy(from_logits=True, reduction='none')(t, z).mean()
    np.testing.assert_allclose(fused.numpy(), two_step.numpy(), rtol=1e-6)


def test_loss_functions_return_keras_per_sample_values(keras, rng):
    t, p = make_data('onehot', 'probs', rng)
    for name in ('mean_squared_error', 'mean_absolute_error', 'mean_absolute_percentage_error',
                 'mean_squared_logarithmic_error', 'cosine_similarity', 'huber', 'log_cosh', 'hinge',
                 'squared_hinge', 'categorical_hinge', 'kl_divergence', 'poisson', 'binary_crossentropy',
                 'binary_focal_crossentropy', 'categorical_crossentropy', 'categorical_focal_crossentropy'):
        ours = getattr(losses, name)(t, Tensor(p))
        theirs = keras.ops.convert_to_numpy(getattr(keras.losses, name)(t, p))
        assert ours.shape == (N,), name
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=2e-5, atol=1e-6, err_msg=name)
    idx = t.argmax(-1)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(idx, Tensor(p)).numpy(),
                               keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(idx, p)),
                               rtol=2e-5)
    assert losses.mse is losses.mean_squared_error and losses.kld is losses.kl_divergence


def test_one_dimensional_predictions_reduce_to_a_scalar_like_keras(keras):
    t, p = np.array([1.0, 0.0, 1.0], np.float32), np.array([0.9, 0.1, 0.8], np.float32)
    assert losses.MeanSquaredError()(t, p).item() == pytest.approx(0.02, rel=1e-5)
    assert losses.mean_squared_error(t, Tensor(p)).shape == ()
    np.testing.assert_allclose(losses.MeanSquaredError(reduction='none')(t, p).numpy(),
                               keras.ops.convert_to_numpy(keras.losses.MeanSquaredError(reduction='none')(t, p)))


def test_prediction_mask_weighs_the_mean_over_valid_entries(keras):
    """A mask Keras attaches to predictions (``_keras_mask``) enters the reduction: the mean is over
    the unmasked entries only, as Keras does."""
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(3)
    t = rng.integers(0, 3, (4, 5))
    z = rng.standard_normal((4, 5, 3)).astype(np.float32)
    mask = rng.uniform(size=(4, 5)) > 0.3
    for reduction in ('sum_over_batch_size', 'sum', 'mean_with_sample_weight'):
        y = Tensor(z, requires_grad=True)
        y._keras_mask = mask
        ours = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)(t, y)
        ty = torch.tensor(z)
        ty._keras_mask = torch.tensor(mask)
        theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)(t, ty)
        np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(theirs), rtol=1e-5)


def test_ignore_class_gives_no_loss_and_no_gradient_and_leaves_the_mean(rng):
    t = np.array([0, 2, 1, 2, 2])
    z = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2)
    value = loss(t, z)
    value.backward()
    np.testing.assert_array_equal(z.grad.numpy()[[1, 3, 4]], 0.0)
    kept = losses.SparseCategoricalCrossentropy(from_logits=True)(t[[0, 2]], Tensor(z.numpy()[[0, 2]]))
    np.testing.assert_allclose(value.item(), kept.item(), rtol=1e-12)
    per_sample = losses.sparse_categorical_crossentropy(t, z, from_logits=True, ignore_class=2)
    np.testing.assert_array_equal(per_sample._keras_mask, t != 2)
    assert loss(np.array([2, 2]), Tensor(np.zeros((2, 3)))).item() == 0.0     # all ignored: 0, not nan


def test_sample_weight_that_does_not_broadcast_says_so():
    with pytest.raises(ValueError, match=r'sample_weight of shape \(3,\).*per-sample losses of shape \(2, 4\)'):
        losses.SparseCategoricalCrossentropy(name='scce')(np.zeros((2, 4), int), np.full((2, 4, 3), 1 / 3),
                                                           sample_weight=np.ones(3))


def test_invalid_reduction_lists_the_choices():
    with pytest.raises(ValueError, match='mean_with_sample_weight'):
        losses.MeanSquaredError(reduction='average')


def test_custom_loss_subclass_in_keras_style(rng):
    class WeightedMSE(losses.Loss):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, y_true, y_pred):
            return ((y_pred - y_true) ** 2).mean(axis=-1) * self.factor

    t, p = make_data('real', 'real', rng)
    y = Tensor(p, requires_grad=True)
    value = WeightedMSE(name='wmse')(t, y, sample_weight=np.arange(N, dtype=np.float32))
    expected = np.mean(((p - t) ** 2).mean(-1) * 2 * np.arange(N))
    np.testing.assert_allclose(value.item(), expected, rtol=1e-5)
    value.backward()
    assert y.grad.shape == p.shape
    assert WeightedMSE().name == 'weighted_mse'


def test_wrapped_function_returning_a_scalar_is_not_reduced_again():
    custom = losses.get(lambda t, p: ((p - t) ** 2).mean())
    assert isinstance(custom, losses.LossFunctionWrapper)
    y = np.array([[1.0], [2.0]], np.float32)
    assert custom(y, Tensor(y + 1)).item() == pytest.approx(1.0)


# --- stability, PyTorch, CuPy ------------------------------------------------------------------------------
def test_extreme_logits_stay_finite_with_exact_gradients():
    z = Tensor(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 5.0]]), requires_grad=True)
    t = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    loss = losses.CategoricalCrossentropy(from_logits=True)(t, z)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1000.0)
    e = np.exp(z.numpy() - z.numpy().max(-1, keepdims=True))
    np.testing.assert_allclose(z.grad.numpy(), (e / e.sum(-1, keepdims=True) - t) / 2, atol=1e-12)
    x = Tensor(np.array([[1000.0, -1000.0]]), requires_grad=True)
    loss = losses.BinaryCrossentropy(from_logits=True)(np.array([[0.0, 1.0]]), x)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1000.0)
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -0.5]])
    big = Tensor(np.array([[800.0, -800.0]]), requires_grad=True)
    loss = losses.LogCosh()(np.zeros((1, 2)), big)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 800 - np.log(2))
    np.testing.assert_allclose(big.grad.numpy(), [[0.5, -0.5]])


def test_probabilities_are_clipped_and_renormalised_like_keras():
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    t = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    eps = 1e-7
    expected = -np.sum(t * np.log(np.clip(p / p.sum(-1, keepdims=True), eps, 1 - eps)), -1)
    np.testing.assert_allclose(losses.categorical_crossentropy(t, Tensor(p)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(losses.categorical_crossentropy(np.array([[0.0, 1.0]]), Tensor(np.array([[2.0, 6.0]])))
                               .numpy(), [-np.log(0.75)], rtol=1e-12)


def test_float32_in_float32_out():
    z = Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    for reduction in ('sum_over_batch_size', 'none', 'sum'):
        loss = losses.CategoricalCrossentropy(from_logits=True, reduction=reduction)(np.eye(3)[:2], z,
                                                                                    sample_weight=np.ones(2))
        assert loss.dtype == np.float32
    loss.backward()
    assert z.grad.dtype == np.float32


def test_keras_ops_signatures_in_functional():
    z = Tensor(np.random.default_rng(0).standard_normal((4, 3)))
    assert minidl.functional.categorical_crossentropy(np.eye(3)[[0, 1, 2, 0]], z, from_logits=True).shape == (4,)
    assert minidl.functional.sparse_categorical_crossentropy(np.array([0, 1, 2, 0]), z, from_logits=True).shape == (4,)
    assert minidl.functional.binary_crossentropy(np.ones((4, 3)), z, from_logits=True).shape == (4, 3)


def test_losses_match_torch():
    torch = pytest.importorskip('torch')
    tf = torch.nn.functional
    rng = np.random.default_rng(1)
    z, p = rng.standard_normal((5, 4)), rng.uniform(0.05, 0.95, (5, 4))
    soft, bits = rng.dirichlet(np.ones(4), 5), rng.integers(0, 2, (5, 4)).astype(float)
    t = rng.standard_normal((5, 4))
    cases = [(losses.CategoricalCrossentropy(from_logits=True), soft, lambda y: tf.cross_entropy(y, torch.tensor(soft)), z),
             (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), np.eye(4)[[0, 1, 2, 3, 0]],
              lambda y: tf.cross_entropy(y, torch.tensor([0, 1, 2, 3, 0]), label_smoothing=0.1), z),
             (losses.BinaryCrossentropy(from_logits=True), bits,
              lambda y: tf.binary_cross_entropy_with_logits(y, torch.tensor(bits)), z),
             (losses.BinaryCrossentropy(), bits, lambda y: tf.binary_cross_entropy(y, torch.tensor(bits)), p),
             (losses.MeanSquaredError(), soft, lambda y: tf.mse_loss(y, torch.tensor(soft)), z),
             (losses.MeanAbsoluteError(), soft, lambda y: tf.l1_loss(y, torch.tensor(soft)), z),
             (losses.Huber(delta=0.7), t, lambda y: tf.huber_loss(y, torch.tensor(t), delta=0.7), z),
             (losses.KLDivergence(), soft, lambda y: tf.kl_div(torch.log(y), torch.tensor(soft), reduction='sum') / 5, p)]
    for loss, labels, theirs, y_pred in cases:
        y = Tensor(y_pred, requires_grad=True)
        value = loss(labels, y)
        value.backward()
        ty = torch.tensor(y_pred, requires_grad=True)
        tvalue = theirs(ty)
        tvalue.backward()
        np.testing.assert_allclose(value.item(), tvalue.item(), rtol=1e-9, err_msg=loss.name)
        np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-8, atol=1e-14, err_msg=loss.name)


@pytest.mark.gpu
def test_cupy_matches_numpy():
    pytest.importorskip('cupy')
    for i, (name, kw, kind, pred, shape) in enumerate(CASES):
        t, p = case_data(i, name, kw, kind, pred, shape)
        results = {}
        for backend in ('numpy', 'cupy'):
            minidl.set_backend(backend)
            try:
                y = Tensor(p, requires_grad=True)
                value = getattr(losses, name)(**kw)(t, y, sample_weight=np.linspace(0, 1, shape[0]))
                value.backward()
                results[backend] = (value.numpy(), y.grad.numpy())
            finally:
                minidl.set_backend('numpy')
        for ours, reference in zip(results['cupy'], results['numpy']):
            np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-7, err_msg=name)
