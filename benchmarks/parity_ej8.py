"""Accuracy parity: the course's MNIST conv model (tp4a.ej8_mnist_conv) trained by minidl and by
Keras with the same layers, loss, optimizer, split, batch size, epochs and seeds.

    python benchmarks/parity_ej8.py [--epochs 3] [--seeds 0 1 2]

Data: ``minidl.datasets.mnist.load_data()`` (the official files when present, else the 5,000-image
sample split 4,000 / 1,000), pixels / 255, one-hot labels. Model: Conv2D(10, 24x24, same, relu)
-> MaxPooling2D(2) -> Conv2D(10, 12x12, same, relu) -> Flatten -> Dense(10), L2(1e-4) on every
kernel, BinaryCrossentropy(from_logits=True), Adam, batch 64. Prints validation top-1 accuracy per
epoch for each framework and seed. Keras is skipped (n/a) when it is not installed.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'examples'))


def load():
    from minidl.datasets import mnist
    (x, y), (xt, yt) = mnist.load_data()
    scale = lambda a: (a[..., None] / 255.0).astype('float32')  # noqa: E731
    return scale(x), np.eye(10, dtype='float32')[y], scale(xt), np.eye(10, dtype='float32')[yt]


def run_minidl(data, seed, epochs):
    import minidl
    from ej8_mnist_conv import build_tp4a, compile_tp4a
    minidl.seed(seed)
    model = build_tp4a()
    compile_tp4a(model)
    x, y, xt, yt = data
    h = model.fit(x, y, batch_size=64, epochs=epochs, validation_data=(xt, yt), verbose=0)
    return h.history['val_accuracy']


def run_keras(data, seed, epochs):
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    try:
        import keras
    except ImportError:
        return None
    from keras import layers, regularizers
    keras.utils.set_random_seed(seed)
    reg = regularizers.l2(1e-4)
    model = keras.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(10, 24, padding='same', activation='relu', kernel_regularizer=reg),
        layers.MaxPooling2D(2),
        layers.Conv2D(10, 12, padding='same', activation='relu', kernel_regularizer=reg),
        layers.Flatten(),
        layers.Dense(10, kernel_regularizer=reg)])
    model.compile('adam', keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.CategoricalAccuracy(name='accuracy')])
    x, y, xt, yt = data
    h = model.fit(x, y, batch_size=64, epochs=epochs, validation_data=(xt, yt), verbose=0)
    return h.history['val_accuracy']


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    args = p.parse_args()
    data = load()
    print(f'# parity_ej8  {time.strftime("%Y-%m-%d")}  train {len(data[0])}, validation {len(data[2])}, '
          f'{args.epochs} epochs\n')
    print('| framework | seed | val accuracy per epoch | final |')
    print('|---|---:|---|---:|')
    finals = {}
    for name, run in (('minidl', run_minidl), ('keras', run_keras)):
        for seed in args.seeds:
            accs = run(data, seed, args.epochs)
            if accs is None:
                print(f'| {name} | {seed} | n/a (not installed) | n/a |')
                continue
            finals.setdefault(name, []).append(accs[-1])
            print(f'| {name} | {seed} | {", ".join(f"{a:.3f}" for a in accs)} | {accs[-1]:.3f} |', flush=True)
    for name, values in finals.items():
        print(f'\n{name}: mean final validation accuracy {np.mean(values):.4f} '
              f'(min {min(values):.3f}, max {max(values):.3f})')


if __name__ == '__main__':
    main()
