"""CIFAR-10 "Arquitecturas" study (cifar10_k): three convolutional families, trained with Adam,
batch 512, up to 200 epochs, two EarlyStopping callbacks (val_loss and val_accuracy, patience 10,
restore_best_weights), validation on a held-out part of the training set; test accuracy reported.

``--arch``: ``1`` (arch1, 2,394,826 params, 80.53 %), ``1m`` (arch1_improved: Conv -> BN -> ReLU,
L2 1e-4, 81.89 %), ``2`` (arch2, 802,506 params, 81.77 %), ``2leaky`` (arch2_leakyrelu as printed:
LeakyReLU(0.1), no BN in the dense head, < 80 %), ``3`` (arch3, 1,118,154 params, 86.39 %),
``3aug`` (arch3_aug_strong: rotation 5, flips, shifts 0.1, brightness 0.9-1.2; 80 steps of 512 per
epoch; 86.1 %), ``3aug_soft`` (arch3_aug_mild: the same without shifts; 87.17 %).
The report's validation-set size is n/s: the last 5,000 training images are held out here.
With augmentation a grid of augmented training images is saved.

    python examples/cifar10_arquitecturas.py --arch 3aug --backend cupy
"""
import math

import numpy as np

from minidl import backend, callbacks, initializers, layers, models, optimizers, regularizers
from minidl.preprocessing.image import ImageDataGenerator

import common

VALIDATION_SIZE = 5000


def _conv_block(filters, init, l2, activation):
    """Conv (no activation) -> BN -> activation layer."""
    reg = regularizers.l2(l2) if l2 else None
    return [layers.Conv2D(filters, 3, padding='same', kernel_initializer=init, kernel_regularizer=reg),
            layers.BatchNormalization(), activation()]


def _dense_block(units, init, l2, activation, batch_norm=True):
    reg = regularizers.l2(l2) if l2 else None
    block = [layers.Dense(units, kernel_initializer=init, kernel_regularizer=reg)]
    return block + ([layers.BatchNormalization()] if batch_norm else []) + [activation()]


def build_arch1():
    """Conv/Dense with built-in ReLU, BN after the activation, HeNormal."""
    init = initializers.HeNormal()
    stack = [layers.Input(shape=(32, 32, 3))]
    for filters in (64, 128):
        for _ in range(2):
            stack += [layers.Conv2D(filters, 3, padding='same', activation='relu', kernel_initializer=init),
                      layers.BatchNormalization()]
        stack += [layers.MaxPooling2D(2), layers.Dropout(0.3)]
    stack.append(layers.Flatten())
    for units in (256, 128):
        stack += [layers.Dense(units, activation='relu', kernel_initializer=init),
                  layers.BatchNormalization(), layers.Dropout(0.4)]
    stack.append(layers.Dense(10, activation='softmax'))
    return models.Sequential(stack, name='arch1')


def build_arch1_improved():
    init, l2 = initializers.HeNormal(), 1e-4
    stack = [layers.Input(shape=(32, 32, 3))]
    stack += _conv_block(64, init, l2, layers.ReLU) + [layers.Dropout(0.3)]
    stack += _conv_block(64, init, l2, layers.ReLU) + [layers.MaxPooling2D(2), layers.Dropout(0.3)]
    stack += _conv_block(128, init, l2, layers.ReLU)
    stack += _conv_block(128, init, l2, layers.ReLU) + [layers.MaxPooling2D(2), layers.Dropout(0.4)]
    stack.append(layers.Flatten())
    for units in (256, 128):
        stack += _dense_block(units, init, l2, layers.ReLU) + [layers.Dropout(0.5)]
    stack.append(layers.Dense(10, activation='softmax'))
    return models.Sequential(stack, name='arch1_improved')


def build_arch2(leaky=False):
    """32-64-128 conv blocks with pooling, a fourth 128 conv without, 256-128 head."""
    init = initializers.HeNormal()
    activation = (lambda: layers.LeakyReLU(alpha=0.1)) if leaky else layers.ReLU
    stack = [layers.Input(shape=(32, 32, 3))]
    for filters, rate in ((32, 0.25), (64, 0.3), (128, 0.3)):
        stack += _conv_block(filters, init, None, activation) + [layers.MaxPooling2D(2), layers.Dropout(rate)]
    stack += _conv_block(128, init, None, activation) + [layers.Dropout(0.4), layers.Flatten()]
    for units in (256, 128):
        stack += _dense_block(units, init, None, activation, batch_norm=not leaky) + [layers.Dropout(0.4)]
    stack.append(layers.Dense(10, activation='softmax'))
    return models.Sequential(stack, name='arch2_leakyrelu' if leaky else 'arch2')


def build_arch3():
    """Three conv pairs (64, 128, 128) with dropout inside each pair, HeUniform, L2 1e-4."""
    init, l2 = initializers.HeUniform(), 1e-4
    stack = [layers.Input(shape=(32, 32, 3))]
    for filters, pool_rate in ((64, 0.3), (128, 0.4), (128, 0.4)):
        stack += _conv_block(filters, init, l2, layers.ReLU) + [layers.Dropout(0.3)]
        stack += _conv_block(filters, init, l2, layers.ReLU) + [layers.MaxPooling2D(2), layers.Dropout(pool_rate)]
    stack.append(layers.Flatten())
    for units in (256, 128):
        stack += _dense_block(units, init, l2, layers.ReLU) + [layers.Dropout(0.5)]
    stack.append(layers.Dense(10, activation='softmax'))
    return models.Sequential(stack, name='arch3')


AUGMENT_STRONG = dict(rotation_range=5, horizontal_flip=True, width_shift_range=0.1,
                      height_shift_range=0.1, brightness_range=(0.9, 1.2))
AUGMENT_MILD = dict(rotation_range=5, horizontal_flip=True, brightness_range=(0.9, 1.2))

# --arch -> (model id, builder, augmentation or None)
VARIANTS = {
    '1': ('cifar10_k.arch1', build_arch1, None),
    '1m': ('cifar10_k.arch1_improved', build_arch1_improved, None),
    '2': ('cifar10_k.arch2', build_arch2, None),
    '2leaky': ('cifar10_k.arch2_leakyrelu', lambda: build_arch2(leaky=True), None),
    '3': ('cifar10_k.arch3', build_arch3, None),
    '3aug': ('cifar10_k.arch3_aug_strong', build_arch3, AUGMENT_STRONG),
    '3aug_soft': ('cifar10_k.arch3_aug_mild', build_arch3, AUGMENT_MILD),
}


def early_stopping(patience=10):
    return [callbacks.EarlyStopping(monitor='val_loss', patience=patience, restore_best_weights=True),
            callbacks.EarlyStopping(monitor='val_accuracy', patience=patience, restore_best_weights=True)]


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=200, batch_size=512)
    p.add_argument('--arch', choices=list(VARIANTS), default='3')
    p.add_argument('--steps-per-epoch', type=int, default=80,
                   help='batches per epoch with augmentation (report: 80)')
    p.add_argument('--patience', type=int, default=10, help='EarlyStopping patience (report: 10)')
    args = p.parse_args()
    common.setup(args)
    model_id, build, augmentation = VARIANTS[args.arch]
    (x_raw, y_all), test = common.load_cifar(args, 'cifar10', scale=False)
    n_val = min(VALIDATION_SIZE, len(x_raw) // 10 or 1)
    x_train_raw, y_train = x_raw[:-n_val], y_all[:-n_val]
    validation = (x_raw[-n_val:] / 255.0, y_all[-n_val:])
    test = (test[0] / 255.0, test[1])

    model = build()
    model.compile(optimizer=optimizers.Adam(), loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    fit_kwargs = dict(validation_data=validation, callbacks=early_stopping(args.patience))
    if augmentation is None:
        fit_data = (x_train_raw / 255.0, y_train)
    else:
        generator = ImageDataGenerator(rescale=1.0 / 255, **augmentation)
        flow = generator.flow(x_train_raw, y_train, batch_size=args.batch_size, seed=args.seed)
        preview = next(iter(generator.flow(x_train_raw[:16], y_train[:16], batch_size=16, shuffle=False)))[0]
        common.save_image_grid(np.clip(backend.to_numpy(preview), 0, 1), args, f'{model_id}_augmented.png')
        fit_data = (flow,)
        fit_kwargs['steps_per_epoch'] = min(args.steps_per_epoch, math.ceil(len(x_train_raw) / args.batch_size))
    common.fit_and_report(args, model, model_id, fit_data, test, **fit_kwargs)


if __name__ == '__main__':
    main()
