"""One training step of a benchmark model, timed (and for minidl profiled) in this process:

    python benchmarks/profile_step.py --model cifar10_k.arch2 [--framework minidl|keras|torch] \
        [--steps 2] [--threads 1] [--profile] [--top 16]

After two warm-up steps on one batch of random data with the real shapes, ``--steps`` steps are
timed: wall and CPU milliseconds per step, and the 1-minute load before and after. With
``--threads N`` every pool of the process (BLAS/OpenMP through threadpoolctl and the environment,
PyTorch's intra-op pool, TensorFlow's pools) has N threads. ``--profile`` (minidl only) prints the
top of cProfile by own time, paths shortened to the checkout. The short counterpart of
``bench_models.py``: per-step CPU time at one thread is what a loaded machine blurs least.
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True)
    p.add_argument('--framework', default='minidl', choices=['minidl', 'keras', 'torch'])
    p.add_argument('--steps', type=int, default=2)
    p.add_argument('--threads', type=int)
    p.add_argument('--profile', action='store_true')
    p.add_argument('--top', type=int, default=16)
    args = p.parse_args(argv)
    if args.threads:
        for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
            os.environ[var] = str(args.threads)
    import bench_models
    import model_defs
    if args.threads:
        bench_models.set_threads(args.threads)
    spec = model_defs.get_spec(args.model)
    x, y = model_defs.make_data(spec, spec.batch_size)
    if args.framework == 'torch':
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
        module, loss_fn, _, opt = model_defs.build_torch(args.model)
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if x.ndim == 4 else x)
        yt = torch.from_numpy(y)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(module(xt), yt)
            loss.backward()
            opt.step()
    else:
        if args.framework == 'keras':
            os.environ.setdefault('KERAS_BACKEND', 'tensorflow')
            if args.threads:
                import tensorflow as tf
                tf.config.threading.set_intra_op_parallelism_threads(args.threads)
                tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        model = model_defs.build_keras_style(args.model, model_defs.keras_api(args.framework))

        def step():
            model.train_on_batch(x, y)
    for _ in range(2):
        step()
    profiler = cProfile.Profile() if args.profile and args.framework == 'minidl' else None
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    for _ in range(args.steps):
        step()
    if profiler:
        profiler.disable()
    wall, cpu = (time.perf_counter() - wall) / args.steps, (time.process_time() - cpu) / args.steps
    print(f'{args.framework} {args.model}, batch {spec.batch_size}, threads {args.threads or "default"}: '
          f'{wall * 1e3:.0f} ms wall, {cpu * 1e3:.0f} ms CPU per step over {args.steps} steps'
          f'{" under cProfile" if profiler else ""}; load {load:.1f}-{os.getloadavg()[0]:.1f}')
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats('tottime').print_stats(args.top)
        for line in out.getvalue().splitlines()[4:]:
            print(line.replace(ROOT + os.sep, '').replace(os.path.dirname(os.__file__) + os.sep, ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
