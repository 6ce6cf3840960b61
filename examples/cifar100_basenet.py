"""CIFAR-100 reduced to 25 classes (cifar100_b): the course template's BaseNet (LeNet-like) and
the "MiRed" networks built on it, all trained with SGD(lr=0.01, decay=1e-6, momentum=0.9,
nesterov=True), batch 32, 20 epochs, categorical cross-entropy, 10 % of the training images
held out by ImageDataGenerator(validation_split=0.1); test accuracy by argmax of predict.

``--model``: ``basenet`` (24,197 params, 0.3724 on ``split``, best 0.4396 on ``norm+flip``),
``mired_v1`` .. ``mired_v5`` (0.412, 0.4248, 0.5268, 0.472, 0.5444), ``mired_bn_v1`` ..
``mired_bn_v3`` (0.5716, 0.6056, 0.6124), ``mired_bn_v3_es`` (40 epochs, EarlyStopping on
val_accuracy, patience 4, restore; 0.672 on ``norm+flip+zoom0.2``).
``--data``: ``split`` (no normalization), ``norm`` (featurewise center + std from the training
images), ``norm+flip``, ``norm+zoom0.2``, ``norm+zoom0.5``, ``norm+flip+zoom0.2``,
``norm+flip+zoom0.5``. Classes are the first 25 fine labels (n/s in the report); pixels are
divided by 255 first (n/s). CIFAR-100 is not among the offline data sets; its loader downloads it.

    python examples/cifar100_basenet.py --model mired_bn_v3 --backend cupy
"""
import numpy as np

from minidl import callbacks, layers, models, optimizers
from minidl.preprocessing.image import ImageDataGenerator
from minidl.utils import to_categorical

import common

CLASSES = 25


def build_basenet():
    return models.Sequential([
        layers.Input(shape=(32, 32, 3)),
        layers.Conv2D(6, 5, activation='relu'), layers.MaxPooling2D(2),
        layers.Conv2D(16, 5, activation='relu'), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(50, activation='relu'),
        layers.Dense(CLASSES, activation='softmax'),
    ], name='basenet')


# MiRed v1-v5: (conv filters, kernel, dropout after convs 1 and 3, dense units, dense dropout)
MIRED = {
    'mired_v1': ((16, 26, 36, 46), 5, None, (50,), None),
    'mired_v2': ((32, 64, 128, 256), 5, None, (512,), None),
    'mired_v3': ((32, 64, 128, 256), 3, None, (512,), None),
    'mired_v4': ((32, 64, 64, 128), 3, 0.5, (512,), None),
    'mired_v5': ((32, 64, 64, 128), 3, 0.25, (512, 256), 0.5),
}


def build_mired(name):
    """Four valid convs with a pool after the 2nd and 4th, then the dense head."""
    filters, kernel, conv_dropout, units, dense_dropout = MIRED[name]
    stack = [layers.Input(shape=(32, 32, 3))]
    for i, f in enumerate(filters):
        stack.append(layers.Conv2D(f, kernel, activation='relu'))
        if conv_dropout and i in (0, 2):
            stack.append(layers.Dropout(conv_dropout))
        if i in (1, 3):
            stack.append(layers.MaxPooling2D(2))
    stack.append(layers.Flatten())
    for u in units:
        stack.append(layers.Dense(u, activation='relu'))
        if dense_dropout:
            stack.append(layers.Dropout(dense_dropout))
    stack.append(layers.Dense(CLASSES, activation='softmax'))
    return models.Sequential(stack, name=name)


def build_mired_bn(version):
    """MiRed v5 with separate Activation('relu') layers and BatchNormalization:
    v1 after each conv's ReLU, v2 after every ReLU (dense too), v3 before every ReLU."""
    stack = [layers.Input(shape=(32, 32, 3))]

    def unit(layer, with_bn):
        stack.append(layer)
        if with_bn and version == 3:
            stack.extend([layers.BatchNormalization(), layers.Activation('relu')])
        elif with_bn:
            stack.extend([layers.Activation('relu'), layers.BatchNormalization()])
        else:
            stack.append(layers.Activation('relu'))

    for i, f in enumerate((32, 64, 64, 128)):
        unit(layers.Conv2D(f, 3), True)
        stack.append(layers.Dropout(0.25) if i in (0, 2) else layers.MaxPooling2D(2))
    stack.append(layers.Flatten())
    for u in (512, 256):
        unit(layers.Dense(u), version >= 2)
        stack.append(layers.Dropout(0.5))
    stack.append(layers.Dense(CLASSES, activation='softmax'))
    return models.Sequential(stack, name=f'mired_bn_v{version}')


BUILDERS = {'basenet': build_basenet}
BUILDERS.update({name: (lambda n=name: build_mired(n)) for name in MIRED})
BUILDERS.update({f'mired_bn_v{v}': (lambda v=v: build_mired_bn(v)) for v in (1, 2, 3)})
BUILDERS['mired_bn_v3_es'] = BUILDERS['mired_bn_v3']

DATA_SETTINGS = {
    'split': {},
    'norm': dict(featurewise_center=True, featurewise_std_normalization=True),
    'norm+flip': dict(featurewise_center=True, featurewise_std_normalization=True, horizontal_flip=True),
    'norm+zoom0.2': dict(featurewise_center=True, featurewise_std_normalization=True, zoom_range=0.2),
    'norm+zoom0.5': dict(featurewise_center=True, featurewise_std_normalization=True, zoom_range=0.5),
    'norm+flip+zoom0.2': dict(featurewise_center=True, featurewise_std_normalization=True,
                              horizontal_flip=True, zoom_range=0.2),
    'norm+flip+zoom0.5': dict(featurewise_center=True, featurewise_std_normalization=True,
                              horizontal_flip=True, zoom_range=0.5),
}


def first_classes(x, y, classes=CLASSES):
    keep = y < classes
    return x[keep], y[keep]


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=32)
    p.add_argument('--model', choices=list(BUILDERS), default='basenet')
    p.add_argument('--data', choices=list(DATA_SETTINGS), default=None,
                   help='data setting (default: split for basenet, norm+flip+zoom0.2 for '
                        'mired_bn_v3_es, norm otherwise)')
    args = p.parse_args()
    common.setup(args)
    early = args.model == 'mired_bn_v3_es'
    args.epochs = args.epochs or (40 if early else 20)
    args.data = args.data or {'basenet': 'split', 'mired_bn_v3_es': 'norm+flip+zoom0.2'}.get(args.model, 'norm')
    model_id = f'cifar100_b.{args.model}'
    train, test = common.load_cifar(args, 'cifar100', label_mode='fine')
    (x_train, y_train), (x_test, y_test) = first_classes(*train), first_classes(*test)
    args.dataset_name = f'cifar100-25classes-{args.data}' + ('-synthetic' if args.synthetic else '')
    y_train_1h = to_categorical(y_train, CLASSES)

    setting = DATA_SETTINGS[args.data]
    train_gen = ImageDataGenerator(validation_split=0.1, **setting)
    test_gen = ImageDataGenerator(**{k: v for k, v in setting.items() if k.startswith('featurewise')})
    if setting:
        train_gen.fit(x_train)
        test_gen.fit(x_train)
    flow = train_gen.flow(x_train, y_train_1h, batch_size=args.batch_size, subset='training', seed=args.seed)
    val_flow = train_gen.flow(x_train, y_train_1h, batch_size=args.batch_size, subset='validation',
                              seed=args.seed)
    n_val = int(len(x_train) * 0.1)

    model = BUILDERS[args.model]()
    model.compile(optimizer=optimizers.SGD(learning_rate=0.01, decay=1e-6, momentum=0.9, nesterov=True),
                  loss='categorical_crossentropy', metrics=['accuracy'])
    common.summary(model, args)
    fit_kwargs = dict(epochs=args.epochs, verbose=args.verbose,
                      steps_per_epoch=max(1, -(-(len(x_train) - n_val) // args.batch_size)),
                      validation_data=val_flow, validation_steps=max(1, -(-n_val // args.batch_size)))
    if early:
        fit_kwargs['callbacks'] = [callbacks.EarlyStopping(monitor='val_accuracy', patience=4,
                                                           restore_best_weights=True)]
    history, seconds = common.timed_fit(model, flow, time_limit=args.time_limit, **fit_kwargs)
    x_test_std = test_gen.standardize(np.array(x_test, copy=True)) if setting else x_test
    predicted = np.argmax(model.predict(x_test_std, batch_size=args.batch_size, verbose=0), axis=1)
    accuracy = float(np.mean(predicted == y_test))
    print(f'test accuracy (argmax of predict) {accuracy:.4f}')
    common.finish(args, model, history, model_id, 'test_accuracy', accuracy, seconds)


if __name__ == '__main__':
    main()
