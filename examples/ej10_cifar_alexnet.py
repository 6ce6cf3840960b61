"""AlexNet adapted to 32x32 CIFAR images (TP4, Ejercicio 10), trained with augmentation.

``tp4a`` (tp4a.ej10_alexnet_cifar100, 3,987,836 params): CIFAR-100, Conv 96 3x3/stride 4 -> BN
-> pool -> Conv 256 5x5 -> BN -> pool -> Conv 384 -> BN -> Conv 184 -> BN -> Conv 256 -> BN ->
pool -> Flatten -> Dropout -> BN -> Dense 1024 -> Dropout -> BN -> Dense 1024 -> Dense 100; Adam;
"gran overfitting" (plot only). ``tp4b`` (tp4b.ej10_alexnet_cifar10 / _cifar100 with
``--dataset``): the report prints no architecture, so the same layout is used with 10 or 100
outputs; Adagrad(0.01), batch 128, 20 epochs; test 40 % (CIFAR-10), 25 % (CIFAR-100).
Augmentation arguments, dropout rates, epochs and batch for tp4a are n/s: horizontal flips and
0.1 shifts, dropout 0.5, 20 epochs, batch 128 assumed. CIFAR-100 is not among the offline data
sets; its loader downloads it when online.

    python examples/ej10_cifar_alexnet.py --model tp4b --dataset cifar10 --backend cupy
"""
from minidl import layers, models, optimizers
from minidl.preprocessing.image import ImageDataGenerator
from minidl.utils import to_categorical

import common


def build_alexnet(classes, dropout=0.5):
    def conv(filters, kernel, **kwargs):
        return [layers.Conv2D(filters, kernel, padding='same', activation='relu', **kwargs),
                layers.BatchNormalization()]
    stack = [layers.Input(shape=(32, 32, 3))]
    stack += conv(96, 3, strides=4) + [layers.MaxPooling2D(2)]
    stack += conv(256, 5) + [layers.MaxPooling2D(2)]
    stack += conv(384, 3) + conv(184, 3) + conv(256, 3) + [layers.MaxPooling2D(2), layers.Flatten()]
    stack += [layers.Dropout(dropout), layers.BatchNormalization(), layers.Dense(1024, activation='relu'),
              layers.Dropout(dropout), layers.BatchNormalization(), layers.Dense(1024, activation='relu'),
              layers.Dense(classes, activation='softmax')]
    return models.Sequential(stack, name=f'alexnet_{classes}')


def optimizer_for(source):
    return optimizers.Adam() if source == 'tp4a' else optimizers.Adagrad(learning_rate=0.01)


def run(args, family, build):
    """Shared with ej10_cifar_vgg16: augmented training, validation on the test set."""
    if args.model == 'tp4a' and args.dataset != 'cifar100':
        raise SystemExit('error: tp4a trained on CIFAR-100 only; use --model tp4b for CIFAR-10')
    model_id = f'{args.model}.ej10_{family}_{args.dataset}'
    classes = 100 if args.dataset == 'cifar100' else 10
    (x_train, y_train), (x_test, y_test) = common.load_cifar(args, args.dataset)
    y_train, y_test = to_categorical(y_train, classes), to_categorical(y_test, classes)
    generator = ImageDataGenerator(horizontal_flip=True, width_shift_range=0.1, height_shift_range=0.1)
    flow = generator.flow(x_train, y_train, batch_size=args.batch_size, seed=args.seed)
    model = build(classes)
    model.compile(optimizer=optimizer_for(args.model), loss='categorical_crossentropy',
                  metrics=['accuracy'])
    common.fit_and_report(args, model, model_id, (flow,), (x_test, y_test),
                          steps_per_epoch=max(1, len(x_train) // args.batch_size))


def parse(description):
    p = common.parser(description, epochs=20, batch_size=128)
    p.add_argument('--model', choices=['tp4a', 'tp4b'], default='tp4a')
    p.add_argument('--dataset', choices=['cifar10', 'cifar100'], default=None,
                   help='default: cifar100 (tp4a) / cifar10 (tp4b)')
    args = p.parse_args()
    args.dataset = args.dataset or ('cifar100' if args.model == 'tp4a' else 'cifar10')
    common.setup(args)
    return args


def main():
    run(parse(__doc__.splitlines()[0]), 'alexnet', build_alexnet)


if __name__ == '__main__':
    main()
