"""MNIST dense networks of TP4, Ejercicio 8.

``tp4a`` (``tp4a.ej8_mnist_dense``, 698,486 params): Dense(784, relu) -> BN -> Dense(100, relu)
-> BN -> Dense(10, linear), L2 on every layer, BinaryCrossentropy(from_logits) on one-hot labels
(the report's loss; its 0.98 is a per-output binary accuracy), Adam. ``tp4a_dropout``
(``tp4a.ej8_mnist_dense_dropout``) adds Dropout after each BN.
``tp4b`` (``tp4b.ej8_mnist_dense``, 79,510 params): standardized input, Dense(100, relu) ->
Dropout(0.15) -> Dense(10, sigmoid), categorical cross-entropy, Adagrad(0.01); reported 90 %.

    python examples/ej8_mnist_dense.py --model tp4a_dropout --epochs 5
"""
from minidl import layers, models, optimizers, regularizers

import common
from ej8_mnist_conv import compile_tp4a, train_digits

L2_TP4A = 1e-4       # factor n/s in the report (assumed)
DROPOUT_TP4A = 0.25  # rate n/s in the report (assumed)


def build_tp4a(input_shape=(784,), dropout=None, l2=L2_TP4A):
    """784-784-100-10 MLP with BatchNormalization after each hidden layer (and optional dropout)."""
    stack = [layers.Input(shape=input_shape)]
    for units in (784, 100):
        stack += [layers.Dense(units, activation='relu', kernel_regularizer=regularizers.l2(l2)),
                  layers.BatchNormalization()]
        if dropout:
            stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(10, kernel_regularizer=regularizers.l2(l2)))
    return models.Sequential(stack, name='ej8_mnist_dense')


def build_tp4a_dropout(input_shape=(784,)):
    return build_tp4a(input_shape, dropout=DROPOUT_TP4A)


def build_tp4b(input_shape=(784,)):
    """784-100-10 with Dropout(0.15) and sigmoid outputs."""
    return models.Sequential([
        layers.Input(shape=input_shape),
        layers.Dense(100, activation='relu'),
        layers.Dropout(0.15),
        layers.Dense(10, activation='sigmoid'),
    ], name='tp4b_ej8_mnist_dense')


def compile_tp4b(model):
    model.compile(optimizer=optimizers.Adagrad(learning_rate=0.01),
                  loss='categorical_crossentropy', metrics=['accuracy'])


# variant -> (model id, builder, compile, standardize input, default epochs)
VARIANTS = {
    'tp4a': ('tp4a.ej8_mnist_dense', build_tp4a, compile_tp4a, False, 10),
    'tp4a_dropout': ('tp4a.ej8_mnist_dense_dropout', build_tp4a_dropout, compile_tp4a, False, 10),
    'tp4b': ('tp4b.ej8_mnist_dense', build_tp4b, compile_tp4b, True, 20),
}


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=32)
    p.add_argument('--model', choices=list(VARIANTS), default='tp4a')
    p.add_argument('--dataset', choices=['mnist', 'fashion_mnist'], default='mnist')
    args = p.parse_args()
    common.setup(args)
    model_id, build, compile_fn, standardize, epochs = VARIANTS[args.model]
    args.epochs = args.epochs or epochs
    data = common.load_digits(args, args.dataset, flat=True, standardize=standardize)
    train_digits(args, model_id, build, compile_fn, data)


if __name__ == '__main__':
    main()
