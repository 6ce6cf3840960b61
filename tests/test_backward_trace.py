"""Tensor.backward's named steps and its optional record (BackwardTrace)."""
import numpy as np
import pytest

import minidl.functional as F
from minidl import Tensor, autograd


def test_trace_records_functions_in_walk_order_with_gradient_shapes():
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    x = Tensor(np.ones((4, 3)))
    b = Tensor(np.zeros(2), requires_grad=True)
    loss = F.relu(x @ w + b).sum()
    with autograd.BackwardTrace() as trace:
        loss.backward()
    assert trace.functions == ['Sum', 'ReLU', 'Add', 'MatMul']
    steps = list(trace)
    assert steps[0].output_grad_shapes == [()] and steps[0].input_grad_shapes == [(4, 2)]
    assert steps[2].input_grad_shapes == [(4, 2), (4, 2)]            # Add: before the engine's sum_to
    assert steps[3].input_grad_shapes == [None, (3, 2)]              # x needs no gradient
    assert b.grad.shape == (2,) and 'MatMul: received (4, 2), returned -, (3, 2)' in str(trace)


def test_nothing_is_recorded_outside_a_trace_and_traces_nest():
    a = Tensor(np.ones(3), requires_grad=True)
    (a * 2).sum().backward()
    assert autograd._trace['active'] is None
    with autograd.BackwardTrace() as outer:
        with autograd.BackwardTrace() as inner:
            (a * 3).sum().backward()
        F.exp(a).sum().backward()
    assert inner.functions == ['Sum', 'Mul'] and outer.functions == ['Sum', 'Exp']
    assert autograd._trace['active'] is None


def test_walk_order_puts_every_consumer_before_its_producer():
    x = Tensor(np.ones(2), requires_grad=True)
    a = x * 2
    b = a + 1
    c = a * b           # a is used twice: both consumers run before Mul(x, 2)
    order = autograd._walk_order(c.creator)
    position = {id(f): i for i, f in enumerate(order)}
    assert position[id(c.creator)] < position[id(b.creator)] < position[id(a.creator)]
    c.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 10.0])     # d a(a + 1)/dx = (2a + 1) 2, a = 2x


def test_pending_gradients_of_a_tensor_used_twice_are_summed():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x
    z = y + y           # y receives 1 + 1 before Mul runs
    with autograd.BackwardTrace() as trace:
        z.sum().backward()
    assert trace.functions == ['Sum', 'Add', 'Mul']
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy())


def test_initial_gradient_checks():
    with pytest.raises(RuntimeError, match='does not require grad'):
        Tensor(np.ones(2)).backward()
    t = Tensor(np.ones(2), requires_grad=True)
    t.backward(np.array([2.0, 3.0]))
    np.testing.assert_allclose(t.grad.numpy(), [2, 3])
