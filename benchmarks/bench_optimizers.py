"""Time one optimizer step (``apply_gradients`` on every weight) of a 1M-parameter model.

The weights are those of a dense 784-1024-192-10 network (1,002,570 parameters in six arrays),
float32, with fixed random gradients. Each configuration is timed as the median of ``--steps``
steps after a few warm-up steps, in ``--rounds`` interleaved rounds; the table gives the smallest
of the per-round medians (ms per step): on a machine shared with other jobs the figure least
disturbed by them (``--stat median`` gives the median over rounds instead).

``--baseline-rev REV`` also times the optimizers of an older commit (its ``minidl/optimizers.py``
loaded from git as a module inside today's package), interleaved with today's, so that a
before/after comparison runs in one session on the same load. ``--kernels reference`` times the
readable reference update rules instead of the fused fast forms.

    python benchmarks/bench_optimizers.py --baseline-rev 3c1db09
"""
import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minidl  # noqa: E402
from minidl import Tensor, optimizers  # noqa: E402

SHAPES = [(784, 1024), (1024,), (1024, 192), (192,), (192, 10), (10,)]

CONFIGS = {
    'SGD': lambda m: m.SGD(0.01),
    'SGD(momentum=0.9, nesterov)': lambda m: m.SGD(0.01, momentum=0.9, nesterov=True),
    'Adam': lambda m: m.Adam(1e-3),
    'RMSprop': lambda m: m.RMSprop(1e-3),
}
NEW_ONLY = {
    'AdamW': lambda m: m.AdamW(1e-3),
    'Adam(clipnorm=1)': lambda m: m.Adam(1e-3, clipnorm=1.0),
    'Adam(use_ema)': lambda m: m.Adam(1e-3, use_ema=True),
    'Nadam': lambda m: m.Nadam(1e-3),
    'Lion': lambda m: m.Lion(1e-4),
}


def load_baseline(rev):
    """``minidl/optimizers.py`` at ``rev``, imported as ``minidl._optimizers_<rev>``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = subprocess.run(['git', 'show', f'{rev}:minidl/optimizers.py'], cwd=root, check=True,
                            capture_output=True, text=True).stdout
    name = f'minidl._optimizers_{rev}'
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = 'minidl'
    exec(compile(source, f'{rev}:minidl/optimizers.py', 'exec'), module.__dict__)
    sys.modules[name] = module
    return module


def time_steps(make, steps, warmup=3):
    rng = np.random.default_rng(0)
    weights = [Tensor(rng.normal(size=s).astype(np.float32) * 0.05, requires_grad=True) for s in SHAPES]
    grads = [rng.normal(size=s).astype(np.float32) * 0.01 for s in SHAPES]
    opt = make()
    pairs = list(zip(grads, weights))
    for _ in range(warmup):
        opt.apply_gradients(pairs)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        opt.apply_gradients(pairs)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=30)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--baseline-rev', default=None, help='also time minidl/optimizers.py of this commit')
    parser.add_argument('--kernels', choices=('fast', 'reference'), default='fast')
    parser.add_argument('--stat', choices=('min', 'median'), default='min', help='over rounds (default min)')
    args = parser.parse_args()
    minidl.use_kernels(args.kernels)
    n = sum(int(np.prod(s)) for s in SHAPES)
    baseline = load_baseline(args.baseline_rev) if args.baseline_rev else None
    rows = {}
    for _ in range(args.rounds):
        for label, make in CONFIGS.items():
            if baseline is not None:
                rows.setdefault((label, 'before'), []).append(time_steps(lambda: make(baseline), args.steps))
            rows.setdefault((label, 'now'), []).append(time_steps(lambda: make(optimizers), args.steps))
        for label, make in NEW_ONLY.items():
            try:
                make(optimizers)
            except (AttributeError, TypeError):   # not in this tree yet
                continue
            rows.setdefault((label, 'now'), []).append(time_steps(lambda: make(optimizers), args.steps))
    pick = min if args.stat == 'min' else statistics.median
    print(f'{n:,} parameters in {len(SHAPES)} arrays, float32, numpy {np.__version__}, '
          f'kernels={args.kernels}, {args.rounds} rounds x {args.steps} steps, {args.stat} over rounds')
    print('| optimizer | ' + (f'before ({args.baseline_rev}) ms/step | ' if baseline else '') + 'now ms/step |')
    print('|---|' + ('---:|' if baseline else '') + '---:|')
    for label in list(CONFIGS) + list(NEW_ONLY):
        now = rows.get((label, 'now'))
        if now is None:
            continue
        before = rows.get((label, 'before'))
        cells = [f'{pick(now):.2f}']
        if baseline:
            cells.insert(0, f'{pick(before):.2f}' if before else '—')
        print(f'| {label} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
