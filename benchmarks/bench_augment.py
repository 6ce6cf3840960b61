"""Augmentation throughput: CIFAR-sized images per second through ImageDataGenerator.flow.

    python benchmarks/bench_augment.py                 # Markdown table, NumPy backend
    python benchmarks/bench_augment.py --backend cupy  # the same on the GPU

Random uint8 images of shape (n, 32, 32, 3) stand in for CIFAR (the cost does not depend on the
pixel values). Each configuration draws batches of 128 from ``flow`` (float32 out, rescaled by
1/255). Rounds of the configurations are interleaved and the best round of each is reported, in
wall-clock time and per second of this process's CPU time, so that load from other processes on
a shared machine counts as little as possible. The target is 20,000 images/s with flips, shifts,
rotation and brightness on a 2-core CPU, so that augmentation does not starve training.
"""
import argparse
import platform
import time

import numpy as np

import minidl
from minidl.preprocessing.image import ImageDataGenerator

AUGMENT = dict(rotation_range=15, width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True,
               brightness_range=(0.8, 1.2))

CONFIGS = [
    ('rescale only (no augmentation)', {}),
    ('flip + shifts + rotation + brightness, bilinear', dict(AUGMENT, interpolation_order=1)),
    ('flip + shifts + rotation + brightness, nearest', dict(AUGMENT, interpolation_order=0)),
    ('as above + zoom + shear, bilinear, reflect', dict(AUGMENT, zoom_range=0.1, shear_range=10, fill_mode='reflect')),
]


def best_rates(iterators, batches, rounds, sync):
    """Best (wall, CPU-time) images per second of each iterator over interleaved rounds."""
    for iterator in iterators:
        sync(next(iterator))
    best = [[0.0, 0.0] for _ in iterators]
    for _ in range(rounds):
        for i, iterator in enumerate(iterators):
            wall, cpu = time.perf_counter(), time.process_time()
            images = 0
            for _ in range(batches):
                batch = next(iterator)
                images += len(batch)
            sync(batch)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[i][0] = max(best[i][0], images / wall)
            best[i][1] = max(best[i][1], images / max(cpu, 1e-9))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', choices=['numpy', 'cupy'], default='numpy')
    parser.add_argument('--images', type=int, default=10000, help='size of the source array')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--batches', type=int, default=10, help='batches per timed round')
    parser.add_argument('--rounds', type=int, default=15)
    args = parser.parse_args()
    minidl.set_backend(args.backend)

    def sync(batch):
        if args.backend == 'cupy':
            import cupy
            cupy.cuda.Device().synchronize()

    x = np.random.default_rng(0).integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    print(f'ImageDataGenerator.flow, {args.images} uint8 images 32x32x3, batch {args.batch_size}, '
          f'backend {args.backend}, numpy {np.__version__}, {platform.processor() or platform.machine()}\n')
    iterators = [ImageDataGenerator(rescale=1 / 255, **kwargs).flow(x, batch_size=args.batch_size, seed=0)
                 for _, kwargs in CONFIGS]
    rates = best_rates(iterators, args.batches, args.rounds, sync)
    print('| configuration | images/s (wall) | images per CPU-second |')
    print('| --- | ---: | ---: |')
    for (name, _), (wall, cpu) in zip(CONFIGS, rates):
        print(f'| {name} | {wall:,.0f} | {cpu:,.0f} |')


if __name__ == '__main__':
    main()
