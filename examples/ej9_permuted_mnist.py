"""Permuted MNIST (TP4, Ejercicio 9): the Ejercicio 8 networks on images whose 784 pixel
positions are shuffled by one fixed random permutation (the same for every image).

A dense network does not care about pixel order; a CNN loses its spatial prior. Variants:
``tp4a_dense`` (= tp4a.ej8_mnist_dense_dropout, reported 98 %), ``tp4a_conv`` (= tp4a.ej8_mnist_conv,
95 %), ``tp4b_dense`` (98 %), ``tp4b_conv`` (92 %). Saves one digit before and after permutation.

    python examples/ej9_permuted_mnist.py --model tp4a_conv --epochs 5
"""
import numpy as np

import common
import ej8_mnist_conv as conv
import ej8_mnist_dense as dense

# variant -> (model id, ej8 variant table, ej8 variant, flat input)
VARIANTS = {
    'tp4a_dense': ('tp4a.ej9_perm_mnist_dense', dense.VARIANTS, 'tp4a_dropout', True),
    'tp4a_conv': ('tp4a.ej9_perm_mnist_conv', conv.VARIANTS, 'tp4a', False),
    'tp4b_dense': ('tp4b.ej9_perm_mnist_dense', dense.VARIANTS, 'tp4b', True),
    'tp4b_conv': ('tp4b.ej9_perm_mnist_conv', conv.VARIANTS, 'tp4b', False),
}


def permuter(permutation):
    """A function that applies one pixel permutation to a batch of images of any layout."""
    def apply(x):
        flat = x.reshape(len(x), -1)
        return flat[:, permutation].reshape(x.shape)
    return apply


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=64)
    p.add_argument('--model', choices=list(VARIANTS), default='tp4a_dense')
    p.add_argument('--dataset', choices=['mnist', 'fashion_mnist'], default='mnist')
    args = p.parse_args()
    rng = common.setup(args)
    model_id, table, ej8_variant, flat = VARIANTS[args.model]
    _, build, compile_fn, standardize, epochs = table[ej8_variant]
    args.epochs = args.epochs or epochs
    permutation = rng.permutation(784)
    permute = permuter(permutation)

    x_train, y_train, x_test, y_test, labels = common.load_digits(args, args.dataset, flat=flat,
                                                                   standardize=standardize)
    x_train, x_test = permute(x_train), permute(x_test)
    original = permuter(np.argsort(permutation))(x_test[:1])
    common.save_image_grid(np.concatenate([original, x_test[:1]]).reshape(2, 28, 28), args,
                           f'{model_id}_permutation.png', titles=['original', 'permuted'])
    conv.train_digits(args, model_id, build, compile_fn, (x_train, y_train, x_test, y_test, labels))


if __name__ == '__main__':
    main()
