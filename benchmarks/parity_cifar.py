"""Accuracy parity on CIFAR-10: a course model built by its example script, trained by minidl and
by Keras on the same images, split, optimizer, batch size, epochs and seeds.

    python benchmarks/parity_cifar.py --model muestra6 [--train 10000] [--epochs 8] [--seeds 0 1]
    python benchmarks/parity_cifar.py --model arch2 --train 10000 --epochs 12

The Keras model is the example's own builder run with the example module's ``layers``,
``models``, ``initializers``, ``regularizers`` and ``optimizers`` swapped for Keras' — the course
code ports by changing the import, and this runs that import change backwards. Data:
``minidl.datasets.cifar10`` (the JPEG rebuild offline), the first ``--train`` training images,
validation on ``--val`` test images drawn at random (seed 0), pixels / 255. Prints the validation accuracy per
epoch for each framework and seed. Keras is skipped (n/a) when it is not installed.
"""
import argparse
import contextlib
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'examples'))

# name -> (example module, builder, optimizer factory (module -> optimizer), loss, batch size)
MODELS = {
    'arch2': ('cifar10_arquitecturas', lambda m: m.build_arch2(), lambda m: m.optimizers.Adam(),
              'sparse_categorical_crossentropy', 512),
    'arch3': ('cifar10_arquitecturas', lambda m: m.build_arch3(), lambda m: m.optimizers.Adam(),
              'sparse_categorical_crossentropy', 512),
    'muestra1': ('cifar10_muestras', lambda m: m.build(1), lambda m: m.optimizers.Adam(),
                 'sparse_categorical_crossentropy', 64),
    'muestra6': ('cifar10_muestras', lambda m: m.build(6),
                 lambda m: m.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                 'sparse_categorical_crossentropy', 64),
}
SWAPPED = ('layers', 'models', 'initializers', 'regularizers', 'optimizers')


@contextlib.contextmanager
def framework(module, name):
    """The example ``module`` with its minidl imports replaced by ``name``'s ('minidl' or 'keras')."""
    saved = {attr: getattr(module, attr) for attr in SWAPPED if hasattr(module, attr)}
    for attr in saved:
        setattr(module, attr, importlib.import_module(f'{name}.{attr}'))
    try:
        yield module
    finally:
        for attr, value in saved.items():
            setattr(module, attr, value)


def load(n_train, n_val):
    from minidl.datasets import cifar10
    (x, y), (xt, yt) = cifar10.load_data()
    scale = lambda a: (a / 255.0).astype('float32')  # noqa: E731
    val = np.random.default_rng(0).permutation(len(xt))[:n_val]  # the offline test set is sorted by class
    return scale(x[:n_train]), y[:n_train].reshape(-1), scale(xt[val]), yt[val].reshape(-1)


def seed_framework(name, seed):
    if name == 'keras':
        import keras
        keras.utils.set_random_seed(seed)
    else:
        import minidl
        minidl.seed(seed)


def train(name, model_name, data, seed, epochs):
    """Validation accuracy per epoch, or None when ``name`` cannot be imported."""
    if name == 'keras':
        os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
        try:
            import keras  # noqa: F401
        except ImportError:
            return None
    script, build, make_optimizer, loss, batch_size = MODELS[model_name]
    with framework(importlib.import_module(script), name) as module:
        seed_framework(name, seed)
        model = build(module)
        model.compile(optimizer=make_optimizer(module), loss=loss, metrics=['accuracy'])
    x, y, xv, yv = data
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=(xv, yv), verbose=0)
    return history.history['val_accuracy']


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', choices=sorted(MODELS), required=True)
    p.add_argument('--train', type=int, default=10000, help='training images (the first N)')
    p.add_argument('--val', type=int, default=5000, help='validation images (the first N of the test set)')
    p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--frameworks', nargs='+', default=['minidl', 'keras'], choices=['minidl', 'keras'])
    args = p.parse_args()
    data = load(args.train, args.val)
    print(f'# parity_cifar {args.model}  {time.strftime("%Y-%m-%d")}  train {len(data[0])}, '
          f'validation {len(data[2])}, {args.epochs} epochs, batch {MODELS[args.model][4]}\n')
    print('| framework | seed | val accuracy per epoch | final | s |')
    print('|---|---:|---|---:|---:|')
    for name in args.frameworks:
        for seed in args.seeds:
            start = time.perf_counter()
            accs = train(name, args.model, data, seed, args.epochs)
            if accs is None:
                print(f'| {name} | {seed} | n/a (not installed) | n/a | |')
                continue
            print(f'| {name} | {seed} | {", ".join(f"{a:.3f}" for a in accs)} | {accs[-1]:.3f} | '
                  f'{time.perf_counter() - start:.0f} |', flush=True)


if __name__ == '__main__':
    main()
