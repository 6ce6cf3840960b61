"""Graph behaviour of the engine: accumulation, no_grad, deep chains, buffer release, errors."""
import gc
import weakref

import numpy as np
import pytest

import minidl
import minidl.functional as F
from minidl import Function, Tensor


def leaf(a):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def test_tensor_used_twice_accumulates():
    x = leaf(3.0)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad.item() == pytest.approx(7.0)


def test_diamond_graph():
    x = leaf([1.0, 2.0])
    a = F.exp(x)
    y = (a * a + a).sum()  # d/dx = 2e^2x + e^x
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * x.numpy()) + np.exp(x.numpy()))


def test_grads_accumulate_across_backward_calls():
    x = leaf(2.0)
    (x * 3).backward()
    (x * 4).backward()
    assert x.grad.item() == pytest.approx(7.0)


def test_no_grad_records_no_graph():
    x = leaf([1.0])
    with minidl.no_grad():
        y = x * 2
    assert y.creator is None and not y.requires_grad
    assert minidl.is_grad_enabled()


def test_deep_chain_has_no_recursion_limit():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y + 0.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0)


def test_backward_releases_buffers():
    x = leaf(np.ones(4))
    h = F.exp(x)
    fn = h.creator
    ref = weakref.ref(h)
    y = (h * 2).sum()
    del h
    y.backward()
    assert not fn.__dict__, 'Exp still holds its saved arrays after backward'
    gc.collect()
    assert ref() is None


def test_second_backward_without_retain_graph_explains():
    x = leaf(2.0)
    y = F.exp(x) * 2
    y.backward()
    with pytest.raises(RuntimeError, match='retain_graph=True'):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf(2.0)
    y = F.exp(x) * 2
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(4 * np.exp(2.0))


def test_retain_grad_keeps_intermediate_gradient():
    x = leaf([1.0, 2.0])
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.numpy())


def test_engine_rejects_gradient_of_wrong_shape():
    class Bad(Function):
        def forward(self, x):
            return x.sum()

        def backward(self, gy):
            return np.ones(3)

    with pytest.raises(ValueError, match=r'Function Bad returned a gradient of shape \(3,\) for an input of shape \(2, 2\)'):
        Bad()(leaf(np.ones((2, 2)))).backward()


def test_broadcast_gradient_is_summed_back():
    a = leaf(np.ones((3, 1)))
    b = leaf(np.ones(4))
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 4.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 3.0))


def test_unused_output_of_multi_output_function_gets_zero_gradient():
    x = leaf(np.arange(6.0))
    a, b = F.split(x, 2)
    (a * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2, 0, 0, 0])


def test_comparisons_return_plain_arrays():
    x = Tensor(np.array([1.0, 2.0]))
    mask = x > 1.5
    assert isinstance(mask, type(x.data)) and mask.dtype == bool


def test_constants_do_not_get_gradients():
    x = leaf(2.0)
    c = Tensor(5.0)
    (x * c).backward()
    assert c.grad is None and x.grad.item() == pytest.approx(5.0)


def test_backward_on_constant_explains():
    with pytest.raises(RuntimeError, match='does not require grad'):
        Tensor(1.0).backward()


def test_float32_stays_float32_through_ops_with_python_scalars():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = (x * 2.5 + 1) / 3
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_operators_and_methods():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = Tensor(a)
    np.testing.assert_allclose((2 - x).numpy(), 2 - a)
    np.testing.assert_allclose((2 / x).numpy(), 2 / a)
    np.testing.assert_allclose((2 ** x).numpy(), 2 ** a)
    np.testing.assert_allclose((x @ x).numpy(), a @ a)
    np.testing.assert_allclose((-x).numpy(), -a)
    np.testing.assert_allclose(x.T.numpy(), a.T)
    np.testing.assert_allclose(x.reshape(4).numpy(), a.reshape(4))
    np.testing.assert_allclose(x.sum(axis=0).numpy(), a.sum(0))
    np.testing.assert_allclose(x.max().numpy(), 4.0)
    np.testing.assert_allclose(x[1, 0].numpy(), 3.0)
    np.testing.assert_allclose((a + x).numpy(), 2 * a)  # ndarray on the left defers to Tensor
    assert 'requires_grad=True' in repr(leaf(1.0))
