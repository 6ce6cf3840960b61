"""Per-step framework overhead of ``Model.fit``: everything fit does besides the layer math.

The model is ``cifar10_k.arch2`` (Conv-BN-ReLU x4, Dense-BN-ReLU x2, Adam, sparse categorical
cross-entropy, 'accuracy'), at batch 512 on the active backend (CPU by default). Two figures:

* direct: during ``fit``, the time spent in the model's forward pass, the loss, ``backward``
  and the optimizer step is measured with timers around exactly those calls; overhead is the
  rest of fit's wall time (shuffling and gathering batches, float32 conversion, label checks,
  metrics, callbacks, progress bar), per step and as a share of the step;
* difference: fit's time per step against a bare loop doing only forward + loss + backward +
  optimizer on pre-sliced batches, interleaved round by round (medians), so that both see the
  same machine load.

    python benchmarks/bench_overhead.py [--steps 4] [--rounds 3] [--batch-size 512]
"""
import argparse
import statistics
import time

import numpy as np

import minidl
from minidl import backend, losses
from minidl.autograd import Tensor

from model_defs import build_keras_style, get_spec, keras_api, make_data

MODEL = 'cifar10_k.arch2'


class Stopwatch:
    """Accumulates the time spent inside the functions it wraps."""

    def __init__(self):
        self.seconds = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return timed


def time_fit(model, x, y, batch_size, steps, math_clock):
    """Wall time of one ``fit`` epoch of ``steps`` steps, and the part of it spent on layer math."""
    math_clock.seconds = 0.0
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=True)
    return time.perf_counter() - start, math_clock.seconds


def time_bare(model, batches):
    """Wall time of forward + loss + backward + optimizer on prepared batches, and the part of it
    before the final wait for the device: on CuPy, the host's time to issue the work. When the two
    are equal the step is bound by Python and kernel launches, not by the GPU."""
    trainable = model.trainable_weights
    start = time.perf_counter()
    for xb, yb in batches:
        for w in trainable:
            w.grad = None
        loss = losses.SparseCategoricalCrossentropy()(yb, model(xb, training=True))
        loss.backward()
        model.optimizer.apply_gradients([(w.grad, w) for w in trainable])
    issued = time.perf_counter() - start
    backend.xp().asarray(trainable[0].data).sum().item()  # wait for the device (CuPy)
    return time.perf_counter() - start, issued


def instrument(model):
    """Time the layer math inside fit: the model's call, the loss, backward, the optimizer."""
    clock = Stopwatch()
    cls = type(model)
    model.__class__ = type(cls.__name__, (cls,), {'__call__': clock.wrap(cls.__call__)})
    model.compiled_loss.call = clock.wrap(model.compiled_loss.call)
    model.optimizer.apply_gradients = clock.wrap(model.optimizer.apply_gradients)
    Tensor.backward = clock.wrap(Tensor.backward)
    return clock


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=4, help='training steps per round')
    parser.add_argument('--rounds', type=int, default=3, help='interleaved rounds of fit and bare loop')
    parser.add_argument('--batch-size', type=int, default=512)
    args = parser.parse_args()

    minidl.seed(0)
    spec = get_spec(MODEL)
    n = args.steps * args.batch_size
    x, y = make_data(spec, n)
    x = x.astype(np.float64)  # as users' data usually is (x / 255.): fit converts each batch
    model = build_keras_style(MODEL, keras_api('minidl'))
    batches = [(Tensor(backend.as_array(x[i:i + args.batch_size], backend.floatx)),
                backend.as_array(y[i:i + args.batch_size])) for i in range(0, n, args.batch_size)]
    model.fit(x[:args.batch_size], y[:args.batch_size], batch_size=args.batch_size, verbose=0)  # warm-up, build
    clock = instrument(model)

    fit_steps, bare_steps, issue_steps, overheads = [], [], [], []
    for _ in range(args.rounds):
        wall, math_time = time_fit(model, x, y, args.batch_size, args.steps, clock)
        fit_steps.append(wall / args.steps)
        overheads.append((wall - math_time) / args.steps)
        bare, issued = time_bare(model, batches)
        bare_steps.append(bare / args.steps)
        issue_steps.append(issued / args.steps)

    fit_step, bare_step = statistics.median(fit_steps), statistics.median(bare_steps)
    overhead = statistics.median(overheads)
    print(f'{MODEL}, batch {args.batch_size}, backend {backend.get_backend()}, '
          f'{args.rounds} rounds x {args.steps} steps')
    print(f'fit step            {fit_step * 1e3:9.1f} ms   (rounds: {_ms(fit_steps)})')
    print(f'bare step           {bare_step * 1e3:9.1f} ms   (rounds: {_ms(bare_steps)})')
    if backend.get_backend() == 'cupy':
        print(f'  of which issuing  {statistics.median(issue_steps) * 1e3:9.1f} ms   (host time before the '
              f'wait for the GPU; equal to the bare step = bound by the host)')
    print(f'overhead, direct    {overhead * 1e3:9.2f} ms   = {100 * overhead / fit_step:.2f} % of the fit step')
    print(f'overhead, difference{(fit_step - bare_step) * 1e3:9.1f} ms   = '
          f'{100 * (fit_step - bare_step) / fit_step:.2f} % (noisy: machine load varies between rounds)')


def _ms(seconds):
    return ', '.join(f'{t * 1e3:.0f}' for t in seconds)


if __name__ == '__main__':
    main()
