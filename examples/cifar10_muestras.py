"""CIFAR-10 "Muestras" 1-12 (cifar10_m): twelve incremental versions of one classifier, from a
one-conv network (Muestra 1, 60.48 %) to a VGG-like network with BN everywhere and augmentation
(Muestra 12, 87.29 %). Validation is the test set, batch 64, categorical cross-entropy, as in the
Keras CIFAR-10 baseline template the report follows.

Optimizers: 1 Adam; 2-5 SGD with the template's lr 0.001 / momentum 0.9 (values n/s); 6 SGD(0.1,
0.9) as stated; 7, 8, 10, 11 keep lr 0.1 (n/s: "0.1 was set in Muestra 6"); 12 SGD(0.001, 0.9).
Epochs: 30 (1-4), 50 with EarlyStopping(patience 5) (5), 100 with EarlyStopping(5) (6-12).
Dropout rates the report leaves open are assumed as noted in the builders. Muestra 9 (ImageNet
VGG16 transfer) needs Keras' VGG16 no-top ImageNet weights: found in ~/.minidl/models/ or
~/.keras/models/ (or downloaded), or given with ``--weights`` (see imagenet_weights.py).

    python examples/cifar10_muestras.py --muestra 6 --backend cupy
"""
import sys

from minidl import applications, callbacks, layers, models, optimizers, regularizers
from minidl.preprocessing.image import ImageDataGenerator
from minidl.utils import to_categorical

import common
import imagenet_weights

REPORTED = {1: 60.48, 2: 61.79, 3: 63.81, 4: 62.95, 5: 69.06, 6: 75.76, 7: 70.83, 8: 82.82,
            9: 10.00, 10: 83.84, 11: 82.67, 12: 87.29}


def _conv(filters, l2=None, init='glorot_uniform'):
    reg = regularizers.l2(l2) if l2 else None
    return layers.Conv2D(filters, 3, padding='same', activation='relu', kernel_initializer=init,
                         kernel_regularizer=reg)


def build_small(muestra):
    """Muestras 1-5: one or two Conv(32) blocks and a small dense head."""
    stack = [layers.Input(shape=(32, 32, 3)), _conv(32), layers.MaxPooling2D(2)]
    if muestra >= 4:
        stack += [_conv(32), layers.MaxPooling2D(2), layers.Dropout(0.3)]
    stack += [layers.Flatten(), layers.Dense(32, activation='relu')]
    if muestra == 3:
        stack += [layers.Dense(64, activation='relu'), layers.Dropout(0.2)]
    elif muestra >= 4:
        stack += [layers.Dense(64, activation='relu'), layers.Dropout(0.3)]
    stack.append(layers.Dense(10, activation='softmax'))
    return models.Sequential(stack, name=f'muestra{muestra:02d}')


def build_three_blocks(muestra):
    """Muestras 6 and 7: Conv 32-64-128 each with a pool, Dense 512 head. Muestra 7 adds
    he_uniform + L2(1e-3), a dropout after every pool, BN in the head and a third Dense(512).
    Dropout rates n/s: 0.3 (Muestra 4's) except the stated final 0.1."""
    m7 = muestra == 7
    l2, init = (1e-3, 'he_uniform') if m7 else (None, 'glorot_uniform')
    stack = [layers.Input(shape=(32, 32, 3))]
    for filters in (32, 64, 128):
        stack += [_conv(filters, l2, init), layers.MaxPooling2D(2)]
        if m7 or filters == 128:
            stack.append(layers.Dropout(0.3))
    stack.append(layers.Flatten())
    reg = regularizers.l2(l2) if l2 else None
    dense = [layers.Dense(512, activation='relu', kernel_initializer=init, kernel_regularizer=reg)
             for _ in range(3 if m7 else 2)]
    if m7:
        stack += [dense[0], layers.BatchNormalization(), dense[1], layers.Dropout(0.3),
                  layers.BatchNormalization(), dense[2], layers.Dropout(0.1)]
    else:
        stack += [dense[0], layers.Dropout(0.3), dense[1], layers.Dropout(0.3)]
    stack.append(layers.Dense(10, activation='softmax'))
    return models.Sequential(stack, name=f'muestra{muestra:02d}')


def build_vgg_like(muestra):
    """Muestras 8, 10, 11, 12: VGG16-like (blocks 64x2, 128x2, 256x3, 512x4 each pooled, then
    512x2 unpooled), he_uniform, L2 on the convs; 512-512 head with BN.
    8/10: L2 1e-3, conv dropouts descending 0.4, 0.3, 0.2, 0.2 (n/s) to the stated final 0.1.
    11/12: L2 5e-4, ascending conv dropouts 0.2, 0.3, 0.4, 0.4 (n/s) and 0.5 in the head;
    12 adds BatchNormalization after every conv (conv -> ReLU -> BN)."""
    late = muestra in (11, 12)
    l2 = 5e-4 if late else 1e-3
    conv_rates = (0.2, 0.3, 0.4, 0.4) if late else (0.4, 0.3, 0.2, 0.2)
    stack = [layers.Input(shape=(32, 32, 3))]

    def convs(filters, count):
        for _ in range(count):
            stack.append(_conv(filters, l2, 'he_uniform'))
            if muestra == 12:
                stack.append(layers.BatchNormalization())

    for (filters, count), rate in zip(((64, 2), (128, 2), (256, 3)), conv_rates):
        convs(filters, count)
        stack += [layers.MaxPooling2D(2), layers.Dropout(rate)]
    convs(512, 4)
    stack.append(layers.MaxPooling2D(2))
    convs(512, 2)
    stack += [layers.Dropout(conv_rates[3]), layers.Flatten()]
    if late:
        for _ in range(2):
            stack += [layers.Dense(512, activation='relu'), layers.BatchNormalization(), layers.Dropout(0.5)]
    else:
        stack += [layers.Dense(512, activation='relu'), layers.BatchNormalization(),
                  layers.Dense(512, activation='relu'), layers.Dropout(0.1), layers.BatchNormalization()]
    stack.append(layers.Dense(10, activation='softmax'))
    return models.Sequential(stack, name=f'muestra{muestra:02d}')


def build(muestra):
    if muestra <= 5:
        return build_small(muestra)
    if muestra <= 7:
        return build_three_blocks(muestra)
    return build_vgg_like(muestra)


def build_muestra09(weights):
    """cifar10_m.muestra09: the ImageNet VGG16 base (``VGG16(include_top=False)``, 14,714,688
    parameters, frozen: n/s in the report) on 32x32 inputs + Flatten + a 512-512 head with BN and
    dropout (rate n/s: 0.5). The report's head ends in Dense(1) for ten classes, which is why it
    scored 10.00 %; Dense(10, softmax) is used here instead."""
    base = imagenet_weights.freeze(applications.VGG16(include_top=False, weights=weights, input_shape=(32, 32, 3)))
    stack = [layers.Input(shape=(32, 32, 3)), base, layers.Flatten()]
    for _ in range(2):
        stack += [layers.Dense(512, activation='relu'), layers.BatchNormalization(), layers.Dropout(0.5)]
    stack.append(layers.Dense(10, activation='softmax'))
    return models.Sequential(stack, name='muestra09')


def muestra09(args):
    """Muestra 9 with SGD(0.001, 0.9) (n/s), or what is missing (exit status 2)."""
    weights, problem = imagenet_weights.find_weights('VGG16', args.weights)
    if problem:
        return imagenet_weights.missing_inputs('cifar10_muestras.py --muestra 9', {'--weights': problem})
    common.setup(args)
    args.epochs = args.epochs or 100
    (x_train, y_train), (x_test, y_test) = common.load_cifar(args, 'cifar10')
    y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)
    model = build_muestra09(weights)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.001, momentum=0.9), loss='categorical_crossentropy',
                  metrics=['accuracy'])
    print(f'Muestra 9: reported accuracy {REPORTED[9]} % (a Dense(1) head; Dense(10) here)')
    common.fit_and_report(args, model, 'cifar10_m.muestra09', (x_train, y_train), (x_test, y_test))
    return 0


def training_config(muestra):
    """(optimizer, epochs, early-stopping patience or None, augment)."""
    if muestra == 1:
        return optimizers.Adam(), 30, None, False
    if muestra <= 5:
        return optimizers.SGD(learning_rate=0.001, momentum=0.9), (50 if muestra == 5 else 30), \
            (5 if muestra == 5 else None), False
    lr = 0.001 if muestra == 12 else 0.1
    return optimizers.SGD(learning_rate=lr, momentum=0.9), 100, 5, muestra in (10, 12)


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=64)
    p.add_argument('--muestra', type=int, choices=range(1, 13), default=1, metavar='1..12')
    p.add_argument('--weights', default=None,
                   help="Muestra 9 only: Keras' VGG16 no-top ImageNet weights, or any Keras HDF5 weights file "
                        'of that network (default: the official file from ~/.minidl/models or ~/.keras/models)')
    args = p.parse_args()
    if args.muestra == 9:
        sys.exit(muestra09(args))
    common.setup(args)
    model_id = f'cifar10_m.muestra{args.muestra:02d}'
    optimizer, epochs, patience, augment = training_config(args.muestra)
    args.epochs = args.epochs or epochs
    (x_train, y_train), (x_test, y_test) = common.load_cifar(args, 'cifar10')
    y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)

    model = build(args.muestra)
    model.compile(optimizer=optimizer, loss='categorical_crossentropy', metrics=['accuracy'])
    fit_kwargs = {}
    if patience:
        fit_kwargs['callbacks'] = [callbacks.EarlyStopping(monitor='val_loss', patience=patience)]
    fit_data = (x_train, y_train)
    if augment:
        generator = ImageDataGenerator(horizontal_flip=True, width_shift_range=0.1, height_shift_range=0.1)
        fit_data = (generator.flow(x_train, y_train, batch_size=args.batch_size, seed=args.seed),)
        fit_kwargs['steps_per_epoch'] = max(1, len(x_train) // args.batch_size)
    print(f'Muestra {args.muestra}: reported accuracy {REPORTED[args.muestra]} %')
    common.fit_and_report(args, model, model_id, fit_data, (x_test, y_test), **fit_kwargs)


if __name__ == '__main__':
    main()
