"""CIFAR-10 from folders of JPEGs: ``image_dataset_from_directory`` feeds a small convolutional
network that augments its own inputs with the ``Random*`` layers (active in training only).

The images are the offline CIFAR-10 JPEGs laid out as class folders by ``cifar10_to_folders.py``
(done here first if the folders are missing). 10 % of the training folder (a seeded split, as
Keras makes it) validates each epoch; the test folder gives the result.

Model (``cifar10_folders.augmented_cnn``, 113,738 parameters; small enough for a shared 2-core
CPU): Rescaling(1/255) -> RandomFlip('horizontal') -> RandomTranslation(0.1, 0.1) ->
RandomContrast((0.2, 0.2), value_range=(0, 1)) -> [Conv 32 -> MaxPool] -> [Conv 64 -> MaxPool]
-> [Conv 128 -> MaxPool] -> Flatten -> Dropout(0.3) -> Dense(10, softmax) (3x3 ReLU convolutions,
'same' padding); Adam(1e-3), sparse categorical cross-entropy.

    python examples/cifar10_to_folders.py              # once
    python examples/cifar10_folders.py --epochs 30 --time-limit 60
"""
import os
import tempfile

import numpy as np

from minidl import layers, models, optimizers
from minidl.utils import image_dataset_from_directory

import cifar10_to_folders
import common

MODEL_ID = 'cifar10_folders.augmented_cnn'


def build(seed=0):
    """The augmenting CNN (its augmentation layers seeded from ``seed``)."""
    def conv(filters):
        return layers.Conv2D(filters, 3, padding='same', activation='relu')
    return models.Sequential([
        layers.Input(shape=(32, 32, 3)),
        layers.Rescaling(1 / 255),
        layers.RandomFlip('horizontal', seed=seed),
        layers.RandomTranslation(0.1, 0.1, seed=seed + 1),
        layers.RandomContrast((0.2, 0.2), value_range=(0, 1), seed=seed + 2),
        conv(32), layers.MaxPooling2D(),
        conv(64), layers.MaxPooling2D(),
        conv(128), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.3), layers.Dense(10, activation='softmax'),
    ], name='cifar10_folders')


def synthetic_folders(args, root):
    """A tiny folder of random JPEGs in the CIFAR-10 layout under ``root`` (``--synthetic`` smoke runs)."""
    from PIL import Image
    rng = np.random.default_rng(args.seed)
    per_class = max(2, (args.limit or 40) // 10)
    for split in ('train', 'test'):
        for name in cifar10_to_folders.CLASSES:
            os.makedirs(os.path.join(root, split, name))
            for i in range(per_class):
                pixels = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
                Image.fromarray(pixels).save(os.path.join(root, split, name, f'{i:04d}.jpg'))
    return root


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=30, batch_size=128)
    p.add_argument('--folders', default=None, help='the class folders (default: laid out from the offline '
                                                   'archive into $MINIDL_DATA/cifar10-folders)')
    p.add_argument('--src', default=cifar10_to_folders.DEFAULT_SRC, help='cifar10-jpeg.tar.gz to lay out')
    args = p.parse_args()
    common.setup(args)
    if args.synthetic:
        with tempfile.TemporaryDirectory(prefix='cifar10-synthetic-') as root:
            args.dataset_name = 'cifar10-folders-synthetic'
            run(args, synthetic_folders(args, root))
        return
    per_class = None if args.limit is None else max(1, args.limit // 10)
    out = args.folders or (cifar10_to_folders.default_out() + (f'-{per_class}' if per_class else ''))
    root = cifar10_to_folders.layout(args.src, out, per_class, verbose=not args.quiet)
    args.dataset_name = 'cifar10-folders' if per_class is None else f'cifar10-folders[{per_class}/class]'
    run(args, root)


def run(args, root):
    """Load the folders under ``root``, train, evaluate on the test folder and report."""
    verbose = not args.quiet
    train, val = image_dataset_from_directory(os.path.join(root, 'train'), validation_split=0.1, subset='both',
                                              seed=args.seed, image_size=(32, 32), batch_size=args.batch_size,
                                              verbose=verbose)
    test = image_dataset_from_directory(os.path.join(root, 'test'), image_size=(32, 32), shuffle=False,
                                        batch_size=args.batch_size, verbose=verbose)
    if verbose:
        print(f'classes: {train.class_names}')

    model = build(args.seed)
    model.compile(optimizer=optimizers.Adam(1e-3), loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    common.summary(model, args)
    history, seconds = common.timed_fit(model, train, validation_data=val, epochs=args.epochs,
                                        verbose=args.verbose, time_limit=args.time_limit)
    results = model.evaluate(test, verbose=0, return_dict=True)
    print('test ' + ', '.join(f'{k}={v:.4f}' for k, v in results.items()))
    common.finish(args, model, history, MODEL_ID, 'test_accuracy', results['accuracy'], seconds)


if __name__ == '__main__':
    main()
