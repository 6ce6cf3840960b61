"""Numerical gradient checking: the proof that every backward is the derivative of its forward."""
import numpy as np

from . import backend
from .autograd import Tensor


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4, max_elements=256, seed=0):
    """Compare ``fn``'s analytic gradients with central differences, in float64.

    ``inputs`` are arrays or Tensors; floating ones (and Tensors with requires_grad) are
    checked, integer ones are passed through as constants. The scalar being differentiated is
    ``sum(fn(*inputs) * gy)`` with a random upstream gradient ``gy``, so every output element
    matters. Inputs with more than ``max_elements`` entries are checked along three random
    directions instead of element by element. Raises AssertionError naming the input, the worst
    element and both values.
    """
    rng = np.random.default_rng(seed)
    tensors = [as_float64_tensor(x) for x in inputs]
    out = fn(*tensors)
    gy = backend.as_array(rng.standard_normal(out.shape))
    out.backward(gy)
    analytic = [None if t.grad is None else backend.to_numpy(t.grad.data) for t in tensors]

    def objective():
        return float(backend.to_numpy((fn(*[Tensor(t.data) for t in tensors]).data * gy).sum()))

    for i, t in enumerate(tensors):
        if not t.requires_grad:
            continue
        grad = analytic[i] if analytic[i] is not None else np.zeros(t.shape)
        if t.size <= max_elements:
            numeric = _numeric_gradient(objective, t, eps)
            _compare(numeric, grad, i, atol, rtol, 'element')
        else:
            for _ in range(3):
                direction = rng.standard_normal(t.shape)
                numeric = _directional_derivative(objective, t, backend.as_array(direction), eps)
                _compare(np.array([numeric]), np.array([(grad * direction).sum()]), i, atol * t.size ** 0.5,
                         rtol, 'random direction')
    return True


def as_float64_tensor(x):
    """A float64 leaf Tensor of ``x`` (integer and boolean inputs stay constants)."""
    requires = x.requires_grad if isinstance(x, Tensor) else None
    data = backend.to_numpy(x.data if isinstance(x, Tensor) else x)
    if data.dtype.kind in 'iub':
        return Tensor(backend.as_array(data))
    return Tensor(backend.as_array(data.astype(np.float64)), requires_grad=True if requires is None else requires)


def _numeric_gradient(objective, t, eps):
    numeric = np.zeros(t.shape)
    for index in np.ndindex(*t.shape):  # indexing t.data itself, so strided inputs work too
        orig = t.data[index].item()
        t.data[index] = orig + eps
        plus = objective()
        t.data[index] = orig - eps
        minus = objective()
        t.data[index] = orig
        numeric[index] = (plus - minus) / (2 * eps)
    return numeric


def _directional_derivative(objective, t, direction, eps):
    orig = t.data.copy()
    t.data[...] = orig + eps * direction
    plus = objective()
    t.data[...] = orig - eps * direction
    minus = objective()
    t.data[...] = orig
    return (plus - minus) / (2 * eps)


def mismatch(numeric, analytic, index, atol, rtol, what):
    """None when |numeric - analytic| <= atol + rtol |numeric| everywhere, else the worst place,
    in words."""
    err = np.abs(numeric - analytic) - (atol + rtol * np.abs(numeric))
    if err.size and err.max() > 0:
        worst = np.unravel_index(int(np.argmax(err)), err.shape)
        return (f'input {index} at {what} {tuple(int(k) for k in worst)}: '
                f'analytic {float(analytic[worst]):.8g} vs numeric {float(numeric[worst]):.8g} '
                f'(atol={atol}, rtol={rtol}; max abs difference {np.abs(numeric - analytic).max():.3g})')
    return None


def _compare(numeric, analytic, index, atol, rtol, what):
    message = mismatch(numeric, analytic, index, atol, rtol, what)
    if message:
        raise AssertionError('gradcheck failed for ' + message)
