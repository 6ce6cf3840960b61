"""Where a minidl training step spends its GPU time, kernel by kernel.

PyTorch's profiler records every CUDA kernel of the process through CUPTI, CuPy's included, so it
can time minidl's kernels without minidl depending on it. The model trains on random data with
the real shapes (``model_defs``) on the CuPy backend; after a warm-up, ``--steps`` training steps
are recorded and the kernels are summed by name. The table prints the GPU time per step of each
kernel, its launches per step and its share, and the step's wall time beside the GPU's busy time.

    python benchmarks/profile_gpu.py [--model cifar10_k.arch2] [--steps 10] [--top 25]
"""
import argparse
import collections
import time

import minidl
from minidl import backend

from model_defs import build_keras_style, get_spec, keras_api, make_data


def record(model, x, y, batch_size, steps):
    """Kernel name -> (total GPU microseconds, launches) over ``steps`` train_on_batch calls, and
    the wall time of those steps."""
    import torch.profiler as tp
    cupy = backend.xp()
    batches = [(x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]) for i in range(steps)]
    cupy.cuda.Device().synchronize()
    with tp.profile(activities=[tp.ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        for xb, yb in batches:
            model.train_on_batch(xb, yb)
        cupy.cuda.Device().synchronize()
        wall = time.perf_counter() - start
    kernels = collections.defaultdict(lambda: [0.0, 0])
    for event in prof.events():
        if event.device_type.name == 'CUDA':
            kernels[event.name][0] += event.device_time
            kernels[event.name][1] += 1
    return kernels, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='cifar10_k.arch2')
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--top', type=int, default=25)
    args = parser.parse_args()
    minidl.set_backend('cupy')
    minidl.seed(0)
    spec = get_spec(args.model)
    x, y = make_data(spec, spec.batch_size * args.steps)
    x, y = backend.as_array(x), backend.as_array(y)
    model = build_keras_style(args.model, keras_api('minidl'))
    for i in range(3):  # warm-up: kernels compiled, memory pool filled
        model.train_on_batch(x[:spec.batch_size], y[:spec.batch_size])
    kernels, wall = record(model, x, y, spec.batch_size, args.steps)
    busy = sum(t for t, _ in kernels.values())
    launches = sum(n for _, n in kernels.values())
    print(f'{args.model}, batch {spec.batch_size}, {args.steps} steps: wall {wall / args.steps * 1e3:.2f} ms/step, '
          f'GPU busy {busy / args.steps / 1e3:.2f} ms/step, {launches / args.steps:.0f} kernels/step\n')
    print('| kernel | GPU ms/step | launches/step | share |\n|---|---:|---:|---:|')
    for name, (total, n) in sorted(kernels.items(), key=lambda kv: -kv[1][0])[:args.top]:
        print(f'| `{name[:70]}` | {total / args.steps / 1e3:.3f} | {n / args.steps:.0f} | {100 * total / busy:.1f} % |')


if __name__ == '__main__':
    main()
