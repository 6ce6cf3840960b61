"""Gradient checks across ranks: the proof that a collective op's backward is the derivative of
the ranks' summed objective.

``minidl.testing.gradcheck`` perturbs one element at a time in one process. Here every rank holds
its own inputs; the objective is sum over ranks of sum(fn(inputs_r) * gy_r) (gy_r random, drawn
per rank), and the ranks walk the elements of rank 0's inputs, then rank 1's, ..., together:
only the owner perturbs its element, every rank evaluates the objective (so the collectives
inside ``fn`` run on every rank in the same order), and the owner compares the central
difference with the analytic gradient of its input. Every rank raises if any rank failed.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor
from ..testing import as_float64_tensor, mismatch
from . import core


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4, max_elements=64, seed=0):
    """``minidl.testing.gradcheck`` for a function whose ranks communicate (see the module
    docstring). Inputs with more than ``max_elements`` entries are checked along three random
    directions. Returns True on every rank, or raises AssertionError on every rank naming the
    rank, the input and the worst element."""
    rng = np.random.default_rng(seed + 1000 * core._world.rank)
    tensors = [as_float64_tensor(x) for x in inputs]
    out = fn(*tensors)
    gy = backend.as_array(rng.standard_normal(out.shape))
    out.backward(gy)
    analytic = [None if t.grad is None else backend.to_numpy(t.grad.data) for t in tensors]

    def objective():
        local = float(backend.to_numpy((fn(*[Tensor(t.data) for t in tensors]).data * gy).sum()))
        total = np.array([local])
        core._allreduce_buffer(total, core.Sum)
        return float(total[0])

    sizes = core.allgather_object([t.size if t.requires_grad else 0 for t in tensors])
    failures = []
    for owner in range(core._world.size):
        for i, n in enumerate(sizes[owner]):
            if n == 0:
                continue
            mine = owner == core._world.rank
            t = tensors[i]
            grad = (analytic[i] if analytic[i] is not None else np.zeros(t.shape)) if mine else None
            if n <= max_elements:
                numeric = np.zeros(t.shape) if mine else None
                for k in range(n):
                    index = np.unravel_index(k, t.shape) if mine else None
                    values = []
                    for sign in (1, -1):
                        if mine:
                            orig = t.data[index].item()
                            t.data[index] = orig + sign * eps
                        values.append(objective())
                        if mine:
                            t.data[index] = orig
                    if mine:
                        numeric[index] = (values[0] - values[1]) / (2 * eps)
                if mine:
                    failures.append(_ranked_mismatch(numeric, grad, i, atol, rtol, 'element'))
            else:
                for _ in range(3):
                    direction = rng.standard_normal(t.shape) if mine else None
                    values = []
                    for sign in (1, -1):
                        if mine:
                            orig = t.data.copy()
                            t.data[...] = orig + sign * eps * backend.as_array(direction)
                        values.append(objective())
                        if mine:
                            t.data[...] = orig
                    if mine:
                        numeric = (values[0] - values[1]) / (2 * eps)
                        failures.append(_ranked_mismatch(np.array([numeric]), np.array([(grad * direction).sum()]), i,
                                                 atol * n ** 0.5, rtol, 'random direction'))
    everyone = core.allgather_object([f for f in failures if f])
    messages = [message for rank_messages in everyone for message in rank_messages]
    if messages:
        raise AssertionError('distributed gradcheck failed: ' + '; '.join(messages))
    return True


def _ranked_mismatch(numeric, analytic, index, atol, rtol, what):
    message = mismatch(numeric, analytic, index, atol, rtol, what)
    return f'rank {core._world.rank}, {message}' if message else None
