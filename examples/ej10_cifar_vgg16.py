"""VGG16 adapted to 32x32 CIFAR images (TP4, Ejercicio 10), trained with augmentation.

``tp4a`` (tp4a.ej10_vgg16_cifar100, 12,906,372 params): conv widths halved (32-32 | 64-64 |
128x3 | 256x3 | 256x3, BN after each conv, pool after each block), head Flatten -> Dropout -> BN
-> Dense 6272 -> Dropout -> BN -> Dense 1024 -> Dropout -> BN -> Dense 1024 -> Dense 100; Adam
(assumed); "not converged" (plot only). ``tp4b`` (tp4b.ej10_vgg16_cifar10 / _cifar100): no
architecture printed, the same layout with 10 or 100 outputs; Adagrad(0.01), batch 128, 20 epochs;
test up to 75 % (CIFAR-10), 40 % (CIFAR-100). Assumptions as in ej10_cifar_alexnet.py.

    python examples/ej10_cifar_vgg16.py --model tp4b --dataset cifar10 --backend cupy
"""
from minidl import layers, models

from ej10_cifar_alexnet import parse, run


def build_vgg16(classes, dropout=0.5):
    stack = [layers.Input(shape=(32, 32, 3))]
    for filters, count in ((32, 2), (64, 2), (128, 3), (256, 3), (256, 3)):
        for _ in range(count):
            stack += [layers.Conv2D(filters, 3, padding='same', activation='relu'),
                      layers.BatchNormalization()]
        stack.append(layers.MaxPooling2D(2))
    stack.append(layers.Flatten())
    for units in (6272, 1024, 1024):
        stack += [layers.Dropout(dropout), layers.BatchNormalization(), layers.Dense(units, activation='relu')]
    stack.append(layers.Dense(classes, activation='softmax'))
    return models.Sequential(stack, name=f'vgg16_{classes}')


def main():
    run(parse(__doc__.splitlines()[0]), 'vgg16', build_vgg16)


if __name__ == '__main__':
    main()
