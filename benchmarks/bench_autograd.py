"""Autograd overhead: what minidl adds on top of raw NumPy, per op and per training step.

    python benchmarks/bench_autograd.py            # prints a Markdown table

1. Per-op overhead (µs) for small arrays: minidl forward (graph recorded) and forward+backward
   minus the NumPy forward of the same chain (so fwd+bwd also counts backward's own array math).
2. One SGD training step of a 784-256-10 MLP, batch 128, float32: minidl vs PyTorch CPU (if installed).
"""
import argparse
import platform
import time

import numpy as np

import minidl
import minidl.functional as F
from minidl import Tensor


def best_times(fns, rounds=15, number=50):
    """Best mean seconds per call of each function, rounds interleaved so that noise from other
    processes hits all of them alike."""
    for fn in fns:
        fn()
    best = [float('inf')] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best[i] = min(best[i], (time.perf_counter() - t0) / number)
    return best


CHAIN = 10


def per_op_overhead(n=16):
    """Overhead per op on a chain of CHAIN ops of one kind on (n, n) float32 arrays."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32) * 0.1
    ops = {
        'add': (lambda x: x + a, lambda t: t + a),
        'mul': (lambda x: x * a, lambda t: t * a),
        'matmul': (lambda x: x @ a, lambda t: t @ a),
        'tanh': (np.tanh, F.tanh),
        'relu': (lambda x: np.maximum(x, 0), F.relu),
        'sum(axis=0, keepdims)': (lambda x: x.sum(0, keepdims=True), lambda t: t.sum(0, keepdims=True)),
    }
    rows = []
    for name, (raw_op, op) in ops.items():
        leaf = Tensor(a, requires_grad=True)

        def raw():
            x = a
            for _ in range(CHAIN):
                x = raw_op(x)

        def forward():
            t = leaf
            for _ in range(CHAIN):
                t = op(t)
            return t

        def forward_backward():
            leaf.grad = None
            forward().backward()

        t_raw, t_fwd, t_both = best_times([raw, forward, forward_backward], number=200)
        rows.append((name, t_raw / CHAIN * 1e6, (t_fwd - t_raw) / CHAIN * 1e6, (t_both - t_raw) / CHAIN * 1e6))
    return rows


def minidl_mlp_step(x, y, params, lr=0.01):
    w1, b1, w2, b2 = params
    for p in params:
        p.grad = None
    h = F.relu(x @ w1 + b1)
    logp = F.log_softmax(h @ w2 + b2)
    loss = -logp[np.arange(len(y)), y].mean()
    loss.backward()
    for p in params:
        p.data -= lr * p.grad.data
    return loss


def mlp_times(batch=128):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    init = [rng.standard_normal((784, 256), dtype=np.float32) * 0.05, np.zeros(256, np.float32),
            rng.standard_normal((256, 10), dtype=np.float32) * 0.05, np.zeros(10, np.float32)]
    params = [Tensor(p.copy(), requires_grad=True) for p in init]
    xt = Tensor(x)
    minidl_step = lambda: minidl_mlp_step(xt, y, params)  # noqa: E731
    try:
        import torch
    except ImportError:
        return best_times([minidl_step], number=20)[0], None, None
    tparams = [torch.tensor(p, requires_grad=True) for p in init]
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def torch_step():
        w1, b1, w2, b2 = tparams
        for p in tparams:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(torch.relu(tx @ w1 + b1) @ w2 + b2, ty)
        loss.backward()
        with torch.no_grad():
            for p in tparams:
                p -= 0.01 * p.grad

    t_minidl, t_torch = best_times([minidl_step, torch_step], rounds=30, number=20)
    return t_minidl, t_torch, torch.__version__


def main():
    argparse.ArgumentParser(description=__doc__).parse_args()
    print(f'# bench_autograd  {time.strftime("%Y-%m-%d")}  {platform.processor() or platform.machine()}, '
          f'python {platform.python_version()}, numpy {np.__version__}, minidl {minidl.__version__}\n')
    print(f'Per op, chain of {CHAIN} ops on 16x16 float32; overhead = minidl time minus the NumPy forward.\n')
    print('| op | numpy fwd µs | minidl overhead fwd µs | minidl overhead fwd+bwd µs |')
    print('|---|---:|---:|---:|')
    for name, raw, over, over_both in per_op_overhead():
        print(f'| {name} | {raw:.1f} | {over:.1f} | {over_both:.1f} |')
    t_m, t_t, tv = mlp_times()
    print('\n| MLP 784-256-10 step, batch 128 | ms |')
    print('|---|---:|')
    print(f'| minidl (numpy) | {t_m * 1e3:.2f} |')
    if t_t is not None:
        print(f'| PyTorch {tv} CPU | {t_t * 1e3:.2f} |')
        print(f'| ratio minidl / PyTorch | {t_m / t_t:.2f} |')


if __name__ == '__main__':
    main()
