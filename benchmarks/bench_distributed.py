"""Data-parallel scaling of minidl.distributed on this machine, and a model of it on N GPUs.

Two ways to spend two cores on one model at one global batch (the course batch: 512 for
cifar10_k.arch2, 128 for ej8_dense):

- ``1x2``: one process, BLAS and OpenMP on 2 threads, the whole batch per step;
- ``2x1``: ``mpiexec -n 2``, 1 thread each, half the batch per rank, gradients averaged by
  ``DistributedOptimizer`` (one all-reduce of one fused buffer per step).

Each configuration runs as its own process(es) so that the thread counts take effect before
NumPy loads; the rounds interleave the two (1x2, 2x1, 1x2, 2x1, ...) so that the load of the
shared machine hits both alike. Per run: one warm-up epoch, then a timed epoch of ``--steps``
steps; images/s of the global batch, the all-reduce's share of rank 0's step (time inside the
all-reduce call, waiting for the slower rank included), and, in the 2-rank run, the all-reduce
time of the model's gradient buffer alone (no training around it) and of 8 bytes (latency).

    python benchmarks/bench_distributed.py --rounds 3 --out benchmarks/RESULTS.md

The N-GPU model: a step costs compute(N) + allreduce(N), with compute the measured one-GPU step
(benchmarks/RESULTS.md, H100) at a fixed per-GPU batch, and a ring all-reduce of B bytes
moving 2 (N - 1) / N * B through each link: allreduce = 2 (N - 1) (latency + B / (N bandwidth)).
The bandwidths are the one measured here (MPI over shared memory: what the CPU staging path
of CuPy arrays without NCCL gets at best) and stated NCCL link figures (assumptions, labelled).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = {'cifar10_k.arch2': 6, 'ej8_dense': 60}           # timed steps per run
BEGIN, END = '<!-- bench_distributed:begin -->', '<!-- bench_distributed:end -->'

# One-GPU step times for the model (benchmarks/RESULTS.md, H100 table, issue 5): seconds per
# epoch / steps per epoch at the course batch.
GPU_STEP_SECONDS = {'cifar10_k.arch2': 0.74 / 98, 'ej8_dense': None}
# Stated (not measured here) bus bandwidths of a NCCL ring, bytes/s, and a per-hop latency.
NCCL_LINKS = {'PCIe 4.0 x16 (assumed 20 GB/s)': 20e9, 'NVLink 4 (assumed 150 GB/s)': 150e9}
NCCL_LATENCY = 10e-6


def worker(args):
    """One process (or one rank) of one configuration; prints one JSON line (rank 0)."""
    sys.path[:0] = [ROOT, HERE]   # this tree's minidl, and model_defs
    import numpy as np
    import minidl
    from minidl import distributed as dist
    import model_defs

    dist.init()
    spec = model_defs.get_spec(args.model)
    per_rank = spec.batch_size // dist.size()
    minidl.seed(0)
    model = model_defs.build_keras_style(args.model, model_defs.keras_api('minidl'))
    if dist.size() > 1:
        model.optimizer = dist.DistributedOptimizer(model.optimizer)
    x, y = model_defs.make_data(spec, per_rank * args.steps, seed=dist.rank())
    callbacks = [dist.BroadcastGlobalVariablesCallback(0)] if dist.size() > 1 else []
    model.fit(x[:per_rank * 2], y[:per_rank * 2], batch_size=per_rank, epochs=1, verbose=0, shuffle=False,
              callbacks=callbacks)                                          # warm-up
    before = getattr(model.optimizer, 'allreduce_seconds', 0.0)
    dist.barrier()
    start = time.perf_counter()
    model.fit(x, y, batch_size=per_rank, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    reduce_seconds = getattr(model.optimizer, 'allreduce_seconds', 0.0) - before
    result = {'model': args.model, 'config': f'{dist.size()}x{args.threads}', 'ranks': dist.size(),
              'threads': args.threads, 'global_batch': per_rank * dist.size(), 'steps': args.steps,
              'seconds': seconds, 'images_per_second': per_rank * dist.size() * args.steps / seconds,
              'allreduce_share': reduce_seconds / seconds,
              'gradient_bytes': int(sum(w.data.nbytes for w in model.trainable_weights))}
    result['allreduce_share_max'] = max(dist.allgather_object(result['allreduce_share']))
    if dist.size() > 1:
        from minidl.distributed import core
        for key, n in (('buffer', result['gradient_bytes'] // 4), ('latency', 2)):
            buf = np.ones(n, np.float32)
            times = []
            for _ in range(15):
                dist.barrier()
                t0 = time.perf_counter()
                core._allreduce_buffer(buf, core.Sum)
                times.append(time.perf_counter() - t0)
            result[f'allreduce_{key}_seconds'] = statistics.median(times[3:])
    if dist.rank() == 0:
        print('RESULT_JSON ' + json.dumps(result), flush=True)


def run_config(model, ranks, threads, steps):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PMI', 'OMPI_', 'PMIX', 'HYDRA'))}
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONPATH=ROOT + os.pathsep + env.get('PYTHONPATH', ''))
    command = [sys.executable, os.path.abspath(__file__), '--worker', '--model', model, '--steps', str(steps),
               '--threads', str(threads)]
    if ranks > 1:
        command = [shutil.which('mpiexec') or 'mpiexec', '-n', str(ranks)] + command
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} failed:\n{out.stderr[-3000:]}')
    line = next(line for line in out.stdout.splitlines() if line.startswith('RESULT_JSON '))
    return json.loads(line[len('RESULT_JSON '):])


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float('nan')


def ring_seconds(n, nbytes, bandwidth, latency):
    return 0.0 if n == 1 else 2 * (n - 1) * (latency + nbytes / (n * bandwidth))


def report(results, loads, command, date):
    lines = [BEGIN, f'### CPU data-parallel scaling — {date}', '',
             f'- Machine: {_cpu_name()}, {os.cpu_count()} cores, '
             f'Linux {platform.release()}; {_versions()}',
             f'- Command: `{command}`',
             '- Data: random with the real shapes; the global batch is the course batch in both configurations '
             '(1x2: one process on 2 BLAS/OpenMP threads; 2x1: `mpiexec -n 2`, 1 thread each, half the batch per '
             'rank, `DistributedOptimizer`, one fused all-reduce per step).',
             f'- Per run: one warm-up epoch of 2 steps, then one timed epoch; rounds interleaved; values are the '
             f'median over rounds (min–max in brackets). 1-minute load average during the runs: '
             f'{min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores, shared with other engineers: compare '
             f'within this table only.', '',
             '| model | configuration | global batch | steps timed | images/s | all-reduce share of the step '
             '(rank 0; max over ranks) | 2x1 ÷ 1x2 |', '|---|---|---:|---:|---:|---:|---:|']
    by = {}
    for r in results:
        by.setdefault((r['model'], r['config']), []).append(r)
    for model in MODELS:
        single = statistics.median(r['images_per_second'] for r in by.get((model, '1x2'), []))
        for config in ('1x2', '2x1'):
            runs = by.get((model, config), [])
            ips = [r['images_per_second'] for r in runs]
            share = statistics.median(r['allreduce_share'] for r in runs)
            share_max = statistics.median(r['allreduce_share_max'] for r in runs)
            ratio = statistics.median(ips) / single
            lines.append(f'| {model} | {config} | {runs[0]["global_batch"]} | {runs[0]["steps"]} | '
                         f'{statistics.median(ips):,.0f} ({min(ips):,.0f}–{max(ips):,.0f}) | '
                         + ('—' if config == '1x2' else f'{100 * share:.1f} % ({100 * share_max:.1f} %)')
                         + f' | {ratio:.2f}× |')
    lines += ['', '| model | gradient buffer | all-reduce of the buffer alone, 2 ranks (median) | bandwidth '
              '(buffer / time) | 8-byte all-reduce (latency) |', '|---|---:|---:|---:|---:|']
    bandwidth = {}
    for model in MODELS:
        runs = by.get((model, '2x1'), [])
        t = statistics.median(r['allreduce_buffer_seconds'] for r in runs)
        lat = statistics.median(r['allreduce_latency_seconds'] for r in runs)
        nbytes = runs[0]['gradient_bytes']
        bandwidth[model] = (nbytes, t, lat)
        lines.append(f'| {model} | {nbytes / 1e6:.2f} MB | {1e3 * t:.2f} ms | {nbytes / t / 1e9:.2f} GB/s | '
                     f'{1e6 * lat:.0f} µs |')
    lines += _gpu_model(bandwidth)
    lines.append(END)
    return '\n'.join(lines)


def _gpu_model(bandwidth):
    nbytes, t2, lat = bandwidth['cifar10_k.arch2']
    # 2 ranks: a ring all-reduce moves 2 (N-1)/N B = B through each link: B / t is its bus bandwidth.
    host_bw = nbytes / max(t2 - 2 * lat, 1e-9)
    step = GPU_STEP_SECONDS['cifar10_k.arch2']
    lines = ['', '#### Modelled scaling of cifar10_k.arch2 to N GPUs (not measured on GPUs)', '',
             f'A step on N GPUs at 512 images per GPU = one GPU\'s measured step ({1e3 * step:.1f} ms on an H100, '
             f'benchmarks/RESULTS.md) + a ring all-reduce of the {nbytes / 1e6:.1f} MB of gradients, '
             f'2 (N-1) (latency + B / (N bandwidth)); no overlap of the all-reduce with the backward pass (minidl '
             f'reduces after it). Efficiency = that step ÷ the one-GPU step.', '',
             '| link (bandwidth, latency) | N = 2 | N = 4 | N = 8 | N = 16 |', '|---|---:|---:|---:|---:|']
    links = [(f'measured here: MPI over shared memory, the staging path ({host_bw / 1e9:.1f} GB/s, '
              f'{1e6 * lat:.0f} µs)', host_bw, lat)]
    links += [(f'{name}, {1e6 * NCCL_LATENCY:.0f} µs', bw, NCCL_LATENCY) for name, bw in NCCL_LINKS.items()]
    for name, bw, latency in links:
        cells = []
        for n in (2, 4, 8, 16):
            comm = ring_seconds(n, nbytes, bw, latency)
            cells.append(f'{100 * step / (step + comm):.0f} % ({1e3 * comm:.2f} ms)')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines += ['', 'Each cell: scaling efficiency (all-reduce time per step). Staging a CuPy buffer through the host '
              'adds two PCIe copies of the buffer per step on top of the MPI time (not in the first row).']
    return lines


def _cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions():
    import numpy
    try:
        import mpi4py
        from mpi4py import MPI
        mpi = f'mpi4py {mpi4py.__version__}, ' + ' '.join(MPI.Get_library_version().splitlines()[0].split())
    except Exception:  # noqa: BLE001
        mpi = 'no mpi4py'
    return f'python {platform.python_version()}, numpy {numpy.__version__}, {mpi}'


def write_section(path, text):
    old = open(path).read() if os.path.exists(path) else ''
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip('\n') + '\n\n## Data-parallel training (bench_distributed.py, issue 20)\n\n' + text + '\n'
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(new)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rounds', type=int, default=3, help='interleaved rounds of every configuration')
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    p.add_argument('--out', default=None, help='write the tables into this markdown file (between markers)')
    p.add_argument('--json-out', default=None, help='save the raw results (and the loads) as JSON')
    p.add_argument('--from-json', default=None, help='only write the tables of an earlier --json-out')
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--model', help=argparse.SUPPRESS)
    p.add_argument('--steps', type=int, default=6, help=argparse.SUPPRESS)
    p.add_argument('--threads', type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        text = report(saved['results'], saved['loads'], saved['command'], saved['date'])
        print(text)
        if args.out:
            write_section(args.out, text)
        return None
    results, loads = [], []
    for round_ in range(args.rounds):
        for model in args.models:
            for ranks, threads in ((1, 2), (2, 1)) if round_ % 2 == 0 else ((2, 1), (1, 2)):
                loads.append(load_average())
                r = run_config(model, ranks, threads, MODELS[model])
                r['round'] = round_
                results.append(r)
                print(f"round {round_} {model} {r['config']}: {r['images_per_second']:,.0f} images/s, all-reduce "
                      f"{100 * r['allreduce_share']:.1f} % of the step", flush=True)
    command = 'python benchmarks/bench_distributed.py ' + ' '.join(sys.argv[1:])
    date = f'{datetime.datetime.now():%Y-%m-%d %H:%M}'
    text = report(results, loads, command, date)
    print(text)
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump({'results': results, 'loads': loads, 'command': command, 'date': date}, f, indent=1)
    if args.out:
        write_section(args.out, text)


if __name__ == '__main__':
    main()
