"""Throughput of the augmentation layers (training mode) on CIFAR-sized batches, beside Keras 3.

    python benchmarks/bench_augment_layers.py              # minidl, and Keras 3 on PyTorch if installed
    python benchmarks/bench_augment_layers.py --backend cupy

Each layer transforms float32 batches of 128 images 32x32x3 (values in [0, 1]) with
``training=True``. Rounds are interleaved and the best round of each layer is kept, in images
per second of wall-clock time and per second of this process's CPU time (load from other
processes counts as little as possible). Keras' layers are timed over one round of
``--keras-repeats`` batches: its geometric layers resample image by image. minidl's geometric layers run the reference resampler
(``minidl.functional.image.AffineSample``: four gathers per output pixel, weights per image).
"""
import argparse
import os
import platform
import time

import numpy as np

import minidl
from minidl import layers

LAYERS = [
    ('RandomFlip horizontal', lambda L: L.RandomFlip('horizontal', seed=1)),
    ('RandomTranslation 0.1, 0.1', lambda L: L.RandomTranslation(0.1, 0.1, seed=1)),
    ('RandomRotation 0.1', lambda L: L.RandomRotation(0.1, seed=1)),
    ('RandomZoom 0.1', lambda L: L.RandomZoom(0.1, seed=1)),
    ('RandomContrast 0.2', lambda L: L.RandomContrast(0.2, value_range=(0, 1), seed=1)),
    ('RandomBrightness 0.2', lambda L: L.RandomBrightness(0.2, value_range=(0, 1), seed=1)),
    ('RandomCrop 28x28', lambda L: L.RandomCrop(28, 28, seed=1)),
    ('Resizing 64x64 bilinear', lambda L: L.Resizing(64, 64)),
]


def best_rates(fns, batch, rounds, repeats, sync):
    for fn in fns:
        sync(fn(batch))
    best = [[0.0, 0.0] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(repeats):
                out = fn(batch)
            sync(out)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            images = repeats * len(batch)
            best[i][0] = max(best[i][0], images / wall)
            best[i][1] = max(best[i][1], images / max(cpu, 1e-9))
    return best


def keras_layers():
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    try:
        import keras
    except ImportError:
        return None
    return keras


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backend', choices=['numpy', 'cupy'], default='numpy')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--repeats', type=int, default=5, help='batches per timed round')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--keras-repeats', type=int, default=1,
                        help="Keras' batches per round (one round: its geometric layers take seconds a batch)")
    parser.add_argument('--no-keras', action='store_true')
    args = parser.parse_args()
    minidl.set_backend(args.backend)
    x = np.random.default_rng(0).random((args.batch_size, 32, 32, 3)).astype(np.float32)
    batch = minidl.backend.as_array(x)

    def sync(out):
        if args.backend == 'cupy':
            import cupy
            cupy.cuda.Device().synchronize()

    ours = [make(layers) for _, make in LAYERS]
    rates = best_rates([lambda b, layer=layer: layer(b, training=True) for layer in ours], minidl.Tensor(batch),
                       args.rounds, args.repeats, sync)
    keras = None if args.no_keras or args.backend == 'cupy' else keras_layers()
    keras_rates = None
    if keras is not None:
        import torch
        theirs = [make(keras.layers) for _, make in LAYERS]
        keras_rates = best_rates([lambda b, layer=layer: layer(b, training=True) for layer in theirs],
                                 torch.tensor(x), 1, args.keras_repeats, lambda out: None)
    print(f'augmentation layers, training=True, batches of {args.batch_size} float32 images 32x32x3, backend '
          f'{args.backend}, numpy {np.__version__}, {platform.processor() or platform.machine()}'
          + (f', Keras {keras.__version__} on PyTorch' if keras is not None else '') + '\n')
    head = '| layer | minidl images/s (wall) | minidl images per CPU-second |'
    rule = '| --- | ---: | ---: |'
    if keras_rates:
        head += ' Keras 3 images/s (wall) | Keras 3 images per CPU-second |'
        rule += ' ---: | ---: |'
    print(head)
    print(rule)
    for i, (name, _) in enumerate(LAYERS):
        row = f'| {name} | {rates[i][0]:,.0f} | {rates[i][1]:,.0f} |'
        if keras_rates:
            row += f' {keras_rates[i][0]:,.0f} | {keras_rates[i][1]:,.0f} |'
        print(row)


if __name__ == '__main__':
    main()
