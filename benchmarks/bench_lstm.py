"""One LSTM layer's training step (forward and backward) in minidl, PyTorch and Keras 3, interleaved.

    python benchmarks/bench_lstm.py [--sizes 32x80 128x200] [--units 128] [--rounds 5] [--reps 3]

For each size (batch N x steps T; features = units = 128 unless told) every framework runs the
same step on the same float32 data and weights (Keras' LSTM weights copied into minidl and,
regrouped, into torch.nn.LSTM):

* minidl: ``layers.LSTM(U)`` on a Tensor, ``(out * g).sum().backward()``: gradients for the input
  and the three weights (the registered fast form; ``--reference`` adds the reference op);
* PyTorch: ``torch.nn.LSTM(D, U, batch_first=True)`` (its fused CPU kernel), the same loss and
  ``backward``; ``torch.set_flush_denormal(True)`` as minidl's fast form flushes tiny gradients
  (without it PyTorch's backward can run many times slower on subnormal numbers);
* PyTorch again on one intra-op thread (``torch-1-thread``), as minidl's step loop runs;
* Keras 3 on TensorFlow (``KERAS_BACKEND=tensorflow``, ``TF_ENABLE_ONEDNN_OPTS=0`` unless set):
  ``keras.layers.LSTM(U)`` under ``tf.GradientTape`` inside one ``tf.function`` (what ``fit`` runs).

The frameworks alternate within every round (the order rotates) so that load from other
processes falls on all alike; each figure is the median over rounds of the best of ``--reps``
steps, with its spread (largest deviation from the median, per cent), and the best round (the figure
least disturbed by other processes on a shared machine). Forward alone is timed too,
so that the table says where a step's time goes (``--parts``: the pieces of minidl's fast form
timed alone). Output: a Markdown table (and ``--json FILE``).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault('KERAS_BACKEND', 'tensorflow')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # minidl from a checkout

import numpy as np  # noqa: E402


def keras_step(n, t, d, u, x, g):
    import keras
    import tensorflow as tf
    layer = keras.layers.LSTM(u)
    layer.build((n, t, d))
    xs, gs = tf.constant(x), tf.constant(g)

    @tf.function
    def forward():
        return layer(xs)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(xs)
            loss = tf.reduce_sum(layer(xs) * gs)
        return tape.gradient(loss, [xs] + layer.trainable_weights)

    return layer.get_weights(), (lambda: forward().numpy()), (lambda: [v.numpy() for v in step()])


def minidl_step(weights, n, t, d, u, x, g, reference=False):
    import minidl
    from minidl import Tensor, layers
    layer = layers.LSTM(u)
    layer.build((n, t, d))
    layer.set_weights(weights)
    gy = Tensor(g)
    mode = 'reference' if reference else 'fast'

    def forward():
        with minidl.use_kernels(mode):
            return layer(Tensor(x)).numpy()

    def step():
        xs = Tensor(x, requires_grad=True)
        for w in layer.trainable_weights:
            w.grad = None
        with minidl.use_kernels(mode):
            (layer(xs) * gy).sum().backward()
        return [xs.grad.numpy()] + [w.grad.numpy() for w in layer.trainable_weights]

    return forward, step


def torch_step(weights, n, t, d, u, x, g):
    import torch
    torch.set_flush_denormal(True)
    kernel, recurrent, bias = weights
    lstm = torch.nn.LSTM(d, u, batch_first=True)
    with torch.no_grad():   # Keras: x @ W (D, 4U), gates i f c o; torch: W_ih (4U, D), gates i f g o
        lstm.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(bias))
        lstm.bias_hh_l0.zero_()
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)

    def forward():
        with torch.no_grad():
            return lstm(xt)[1][0][0].numpy()

    def step():
        xs = xt.clone().requires_grad_(True)
        lstm.zero_grad(set_to_none=True)
        _, (h, _) = lstm(xs)
        (h[0] * gt).sum().backward()
        return [xs.grad.numpy(), lstm.weight_ih_l0.grad.T.numpy(), lstm.weight_hh_l0.grad.T.numpy(),
                lstm.bias_ih_l0.grad.numpy()]

    return forward, step


def one_thread(fn):
    """``fn`` with PyTorch on one intra-op thread (minidl's step loop runs on one BLAS thread; on a
    loaded 2-core machine a 2-thread pool can lose more to waiting than it gains)."""
    import torch

    def wrapped():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn()
        finally:
            torch.set_num_threads(threads)
    return wrapped


def best_of(fn, reps):
    best = float('inf')
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def check_equal(results, name, tol=2e-3):
    """Every framework's gradients against Keras' (so that the timed steps compute the same thing)."""
    ref = results['keras']
    for other, grads in results.items():
        for a, b in zip(ref, grads):
            scale = max(1.0, float(np.abs(a).max()))
            err = float(np.abs(a - b).max()) / scale
            if err > tol:
                raise SystemExit(f'{name}: {other} differs from Keras by {err:.2e} (relative to max |grad|)')


def bench_size(n, t, d, u, rounds, reps, reference):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, t, d)).astype(np.float32)
    g = rng.standard_normal((n, u)).astype(np.float32)
    weights, k_fwd, k_step = keras_step(n, t, d, u, x, g)
    fns = {'keras': (k_fwd, k_step)}
    fns['minidl'] = minidl_step(weights, n, t, d, u, x, g)
    if reference:
        fns['minidl-reference'] = minidl_step(weights, n, t, d, u, x, g, reference=True)
    fns['torch'] = torch_step(weights, n, t, d, u, x, g)
    fns['torch-1-thread'] = tuple(one_thread(fn) for fn in torch_step(weights, n, t, d, u, x, g))
    check_equal({name: step() for name, (_, step) in fns.items()}, f'{n}x{t}')   # also the warm-up
    for fwd, step in fns.values():      # the second calls: traced, allocated, thread pools started
        fwd(), fwd(), step()
    names = list(fns)
    times = {name: {'step': [], 'forward': []} for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            fwd, step = fns[name]
            times[name]['forward'].append(best_of(fwd, reps))
            times[name]['step'].append(best_of(step, reps))
    summary = {}
    for name in names:
        row = {}
        for kind, values in times[name].items():
            med = statistics.median(values)
            row[kind] = med
            row[kind + '_best'] = min(values)
            row[kind + '_spread'] = max(abs(v - med) for v in values) / med
            row[kind + '_rounds'] = values
        summary[name] = row
    return summary


def parts(n, t, d, u, reps=3):
    """The pieces of minidl's fast LSTM (kernels/rnn.py) timed alone, one BLAS thread as there:
    where a step's time goes. Returns milliseconds per piece for one call on (n, t, d)."""
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    f32 = np.float32
    kernel = rng.standard_normal((d, 4 * u)).astype(f32)
    rt = rng.standard_normal((4 * u, u)).astype(f32)
    xt = rng.standard_normal((t, d, n)).astype(f32)
    h = rng.standard_normal((u, n)).astype(f32)
    zk = (rng.standard_normal((4 * u, n)) * 0.1).astype(f32)
    a, b, c, s = (rng.standard_normal((u, n)).astype(f32) for _ in range(4))
    flags = np.empty((u, n), bool)
    buf, tmp_r, tmp_k, gx = (np.empty(shape, f32) for shape in ((4 * u, n), (4 * u, u), (4 * u, d), (d, n)))

    def sig(z):
        z *= 0.5
        np.tanh(z, out=z)
        z *= 0.5
        z += 0.5

    def fwd_elementwise():        # the gate activations and the c, h updates of every step
        for _ in range(t):
            z = zk.copy()
            sig(z[:2 * u])
            np.tanh(z[2 * u:3 * u], out=z[2 * u:3 * u])
            sig(z[3 * u:])
            for _ in range(4):
                np.multiply(a, b, out=c)
            np.tanh(c, out=s)

    def bwd_gemms():              # dR, dW and dx shares and dh_{t-1}: four small products a step
        for _ in range(t):
            np.matmul(zk, h.T, out=tmp_r)
            np.matmul(zk, xt[0].T, out=tmp_k)
            np.matmul(kernel, zk, out=gx)
            np.matmul(rt.T, zk, out=buf[:u])

    def bwd_elementwise():        # ~22 passes over (U, N) a step for the gate gradients, and two flushes
        for _ in range(t):
            for _ in range(22):
                np.multiply(a, b, out=c)
            for _ in range(2):
                np.abs(a, out=s)
                np.less(s, 1e-30, out=flags)
                np.putmask(c, flags, 0)

    pieces = {'input projection (one batched GEMM)': lambda: np.matmul(kernel.T, xt),
              'forward: one (4U, U) @ (U, N) GEMM a step': lambda: [np.matmul(rt, h, out=buf) for _ in range(t)],
              'forward: gates and state updates': fwd_elementwise,
              'backward: four small GEMMs a step': bwd_gemms,
              'backward: gate gradients and flushes': bwd_elementwise}
    with threadpool_limits(1, 'blas'):
        return {name: best_of(fn, reps) * 1e3 for name, fn in pieces.items()}


def versions():
    import importlib.metadata as md
    out = {}
    for dist in ('numpy', 'torch', 'tensorflow', 'tensorflow-cpu', 'keras'):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', nargs='+', default=['32x80', '128x200'], help='batch x steps, e.g. 32x80')
    p.add_argument('--units', type=int, default=128)
    p.add_argument('--features', type=int, default=128)
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--reps', type=int, default=3, help='steps per framework per round (the best counts)')
    p.add_argument('--reference', action='store_true', help="also time minidl's reference LSTM op")
    p.add_argument('--json', help='write the raw figures here')
    p.add_argument('--parts', action='store_true', help="only time the pieces of minidl's fast LSTM (see parts())")
    args = p.parse_args()
    if args.parts:
        print(f'load {os.getloadavg()[0]:.1f}; pieces of one fast LSTM({args.units}) call, one BLAS thread, ms:')
        for size in args.sizes:
            n, t = (int(v) for v in size.lower().split('x'))
            for name, ms in parts(n, t, args.features, args.units).items():
                print(f'| {size} | {name} | {ms:.1f} |')
        return
    import torch
    start_load = os.getloadavg()
    print(f'LSTM({args.units}) on {args.features} features, float32, CPU; {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} cores; load at start {start_load[0]:.1f}; torch threads {torch.get_num_threads()}; '
          f'{versions()}; {args.rounds} rounds x best of {args.reps}\n')
    print('| N x T | framework | step (fwd+bwd) ms, median | forward ms | backward ms (step - fwd) | step / PyTorch | '
          'step / Keras | best step ms | best / best PyTorch | best / best PyTorch-1-thread |')
    print('|---|---|---|---|---|---|---|---|---|---|', flush=True)
    results = {}
    for size in args.sizes:
        n, t = (int(v) for v in size.lower().split('x'))
        results[size] = summary = bench_size(n, t, args.features, args.units, args.rounds, args.reps, args.reference)
        for name, row in summary.items():
            mark = lambda kind: ' (unstable)' if row[kind + '_spread'] > 0.10 else ''  # noqa: E731
            print(f"| {size} | {name} | {row['step'] * 1e3:.1f} ±{row['step_spread'] * 100:.0f}%{mark('step')} | "
                  f"{row['forward'] * 1e3:.1f} ±{row['forward_spread'] * 100:.0f}% | "
                  f"{(row['step'] - row['forward']) * 1e3:.1f} | {row['step'] / summary['torch']['step']:.2f} | "
                  f"{row['step'] / summary['keras']['step']:.2f} | {row['step_best'] * 1e3:.1f} | "
                  f"{row['step_best'] / summary['torch']['step_best']:.2f} | "
                  f"{row['step_best'] / summary['torch-1-thread']['step_best']:.2f} |", flush=True)
    end_load = os.getloadavg()
    print(f'\nload at end {end_load[0]:.1f}')
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump({'load': [start_load, end_load], 'versions': versions(), 'args': vars(args),
                       'results': results}, fh, indent=1)


if __name__ == '__main__':
    main()
