"""CIFAR-10 two-layer MLP of TP2 redone in Keras (TP4, Ejercicio 2a/2b): 3072 -> Dense(100,
sigmoid) -> Dense(10), L2 on both layers, SGD(lr=0.1), 308,310 params, with three losses.

``--loss mse|hinge|cce`` picks ``tp4b.ej2a_cifar10_<loss>_l2`` (L2 1e-3; the report's MSE reaches
45 %, hinge and CCE less); ``--model`` reaches the other ids: ``tp4a.ej2a_cifar10_mse_l2`` and
``tp4a.ej2b_cifar10_cce_l2`` (L2 0.05, plots only) and ``tp4b.ej2b_cifar10_cce_l2`` (softmax +
CCE, L2 1e-4, max 40 %). The CCE variants use a softmax output; MSE and hinge a linear one
(hinge turns the one-hot 0/1 targets into -1/+1, as Keras' ``hinge`` does).

    python examples/ej2_cifar10_dense.py --loss hinge --epochs 20
"""
import sys

from minidl import layers, models, optimizers, regularizers
from minidl.utils import to_categorical

import common

# model id -> (loss, L2 factor)
VARIANTS = {
    'tp4b.ej2a_cifar10_mse_l2': ('mse', 1e-3),
    'tp4b.ej2a_cifar10_hinge_l2': ('hinge', 1e-3),
    'tp4b.ej2a_cifar10_cce_l2': ('cce', 1e-3),
    'tp4b.ej2b_cifar10_cce_l2': ('cce', 1e-4),
    'tp4a.ej2a_cifar10_mse_l2': ('mse', 0.05),
    'tp4a.ej2b_cifar10_cce_l2': ('cce', 0.05),
}
LOSSES = {'mse': 'mse', 'hinge': 'hinge', 'cce': 'categorical_crossentropy'}


def build(loss, l2):
    """3072-100-10 MLP; softmax output for cross-entropy, linear otherwise."""
    output = 'softmax' if loss == 'cce' else None
    return models.Sequential([
        layers.Input(shape=(3072,)),
        layers.Dense(100, activation='sigmoid', kernel_regularizer=regularizers.l2(l2)),
        layers.Dense(10, activation=output, kernel_regularizer=regularizers.l2(l2)),
    ], name='ej2_cifar10_dense')


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=20, batch_size=32)
    p.add_argument('--loss', choices=list(LOSSES), default=None,
                   help='shorthand for --model tp4b.ej2a_cifar10_<loss>_l2 (default mse)')
    p.add_argument('--model', choices=list(VARIANTS), default=None)
    args = p.parse_args()
    if args.loss and args.model:
        sys.exit('error: give --loss or --model, not both')
    model_id = args.model or f'tp4b.ej2a_cifar10_{args.loss or "mse"}_l2'
    loss, l2 = VARIANTS[model_id]
    common.setup(args)
    (x_train, y_train), (x_test, y_test) = common.load_data('cifar10', args)
    x_train = x_train.reshape(len(x_train), -1).astype('float32') / 255.0
    x_test = x_test.reshape(len(x_test), -1).astype('float32') / 255.0
    y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)

    model = build(loss, l2)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss=LOSSES[loss],
                  metrics=['categorical_accuracy'])
    common.fit_and_report(args, model, model_id, (x_train, y_train), (x_test, y_test),
                          metric='categorical_accuracy')


if __name__ == '__main__':
    main()
