"""Time what a training step spends in the loss (forward + backward of the default reduction) and in
the metric updates, now and at an older commit, in alternating child processes.

    python benchmarks/bench_loss_metric_steps.py --baseline-rev 3c1db09 --rounds 6

The older tree is exported with ``git archive`` into a temporary folder; each round runs one
child per tree (``--child``), and the table gives, per case, the smallest of the per-round
medians (2,000 calls each): the figure least disturbed by other jobs on a shared machine.
"""
import argparse
import ast
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child():
    import numpy as np
    from minidl import Tensor, losses, metrics
    rng = np.random.default_rng(0)
    out = {}
    loss_cases = [('SparseCategoricalCrossentropy(from_logits) (128, 10)',
                   losses.SparseCategoricalCrossentropy(from_logits=True), rng.integers(0, 10, 128), (128, 10)),
                  ('BinaryCrossentropy(from_logits) (128, 1)', losses.BinaryCrossentropy(from_logits=True),
                   rng.integers(0, 2, (128, 1)).astype(np.float32), (128, 1)),
                  ('MeanSquaredError (512, 10)', losses.MeanSquaredError(),
                   rng.standard_normal((512, 10)).astype(np.float32), (512, 10))]
    for name, loss, y, shape in loss_cases:
        z = Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
        times = []
        for _ in range(2000):
            start = time.perf_counter()
            value = loss(y, z)
            value.backward()
            z.grad = None
            times.append(time.perf_counter() - start)
        out[f'loss + backward: {name}'] = statistics.median(times[200:]) * 1e6
    y, p = rng.integers(0, 10, 128), rng.dirichlet(np.ones(10), 128).astype(np.float32)
    for name, make, args, kwargs in [('SparseCategoricalAccuracy.update_state (128, 10)',
                                      metrics.SparseCategoricalAccuracy, (y, p), {}),
                                     ("Mean('loss').update_state(batch loss, sample_weight=128)",
                                      lambda: metrics.Mean('loss'), (np.float32(0.5),), {'sample_weight': 128})]:
        m = make()
        times = []
        for _ in range(2000):
            start = time.perf_counter()
            m.update_state(*args, **kwargs)
            times.append(time.perf_counter() - start)
        out[f'metric: {name}'] = statistics.median(times[200:]) * 1e6
    print(repr(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--baseline-rev', default='3c1db09')
    parser.add_argument('--rounds', type=int, default=6)
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    with tempfile.TemporaryDirectory() as before:
        archive = subprocess.run(['git', 'archive', args.baseline_rev, 'minidl'], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(['tar', '-x', '-C', before], input=archive, check=True)
        rows = {'before': [], 'now': []}
        for _ in range(args.rounds):
            for label, tree in (('before', before), ('now', ROOT)):
                env = dict(os.environ, PYTHONPATH=tree)
                proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--child'], env=env, cwd=tree,
                                      capture_output=True, text=True, check=True)
                rows[label].append(ast.literal_eval(proc.stdout.strip().splitlines()[-1]))
    print(f'smallest per-round median of 2,000 calls, {args.rounds} rounds, µs')
    print(f'| case | before ({args.baseline_rev}) | now |')
    print('|---|---:|---:|')
    for key in rows['now'][0]:
        before = min(r[key] for r in rows['before']) if key in rows['before'][0] else float('nan')
        print(f'| {key} | {before:.1f} | {min(r[key] for r in rows["now"]):.1f} |')


if __name__ == '__main__':
    main()
