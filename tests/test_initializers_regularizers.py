"""Initializers: Keras fans, bounds and variances, reproducibility; regularizers: Keras penalties and gradients."""
import numpy as np
import pytest

import minidl
from minidl import initializers, regularizers
from minidl.autograd import Tensor
from minidl.backend import to_numpy


def test_fans_follow_keras_for_dense_and_conv_kernels():
    assert initializers.compute_fans((784, 100)) == (784, 100)
    assert initializers.compute_fans((3, 3, 16, 32)) == (9 * 16, 9 * 32)
    assert initializers.compute_fans((5, 8, 4)) == (5 * 8, 5 * 4)
    assert initializers.compute_fans((7,)) == (7, 7)


@pytest.mark.parametrize('name, limit', [
    ('glorot_uniform', np.sqrt(6 / (300 + 200))),
    ('he_uniform', np.sqrt(6 / 300)),
    ('lecun_uniform', np.sqrt(3 / 300)),
])
def test_uniform_variance_scaling_bounds_and_variance(name, limit):
    w = to_numpy(initializers.get(name)((300, 200)))
    assert w.dtype == np.float32 and w.shape == (300, 200)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.98 * limit
    assert np.var(w) == pytest.approx(limit ** 2 / 3, rel=0.03)


@pytest.mark.parametrize('name, variance', [
    ('glorot_normal', 2 / (300 + 200)),
    ('he_normal', 2 / 300),
    ('lecun_normal', 1 / 300),
])
def test_normal_variance_scaling_is_truncated_with_keras_variance(name, variance):
    w = to_numpy(initializers.get(name)((300, 200)))
    stddev = np.sqrt(variance) / 0.87962566103423978
    assert np.abs(w).max() <= 2 * stddev + 1e-6
    assert np.var(w) == pytest.approx(variance, rel=0.03)


def test_conv_kernel_uses_receptive_field_in_he_normal():
    w = to_numpy(initializers.HeNormal()((3, 3, 64, 64)))
    assert np.var(w) == pytest.approx(2 / (9 * 64), rel=0.03)


def test_constant_zero_one_and_random_defaults():
    assert np.all(to_numpy(initializers.get('zeros')((2, 3))) == 0)
    assert np.all(to_numpy(initializers.Ones()((4,))) == 1)
    assert np.all(to_numpy(initializers.Constant(2.5)((3,))) == 2.5)
    u = to_numpy(initializers.get('random_uniform')((10000,)))
    assert u.min() >= -0.05 and u.max() <= 0.05
    n = to_numpy(initializers.RandomNormal()((20000,)))
    assert n.std() == pytest.approx(0.05, rel=0.03)
    t = to_numpy(initializers.TruncatedNormal(stddev=1.0)((20000,)))
    assert np.abs(t).max() <= 2.0


def test_global_seed_reproduces_draws_and_seeded_initializer_is_fixed():
    minidl.seed(3)
    a = to_numpy(initializers.GlorotUniform()((5, 4)))
    minidl.seed(3)
    b = to_numpy(initializers.GlorotUniform()((5, 4)))
    np.testing.assert_array_equal(a, b)
    c = to_numpy(initializers.HeNormal(seed=7)((5, 4)))
    d = to_numpy(initializers.HeNormal(seed=7)((5, 4)))
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(c, to_numpy(initializers.HeNormal(seed=8)((5, 4))))


def test_get_accepts_names_classes_instances_and_callables():
    assert isinstance(initializers.get('HeNormal'), initializers.HeNormal)
    assert isinstance(initializers.get(initializers.GlorotNormal), initializers.GlorotNormal)
    inst = initializers.Constant(1.0)
    assert initializers.get(inst) is inst
    assert initializers.get(None) is None
    with pytest.raises(ValueError, match='Unknown initializer'):
        initializers.get('glorot_uniformm')


def test_l2_l1_and_l1_l2_penalties_match_keras_formulas():
    w = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    t = Tensor(w)
    assert float(regularizers.l2(0.01)(t).item()) == pytest.approx(0.01 * np.sum(w ** 2))
    assert float(regularizers.L1(0.1)(t).item()) == pytest.approx(0.1 * np.abs(w).sum())
    both = regularizers.l1_l2(l1=0.1, l2=0.01)(t)
    assert float(both.item()) == pytest.approx(0.1 * np.abs(w).sum() + 0.01 * np.sum(w ** 2))
    assert isinstance(regularizers.get('l2'), regularizers.L2)
    with pytest.raises(ValueError, match='>= 0'):
        regularizers.L2(-1.0)


def test_l2_penalty_gradient_is_2_lambda_w():
    w = Tensor(np.array([1.0, -2.0, 0.5], np.float32), requires_grad=True)
    regularizers.L2(0.05)(w).backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * 0.05 * w.numpy(), rtol=1e-6)
