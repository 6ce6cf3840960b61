"""MNIST denoising autoencoders (TP4, Ejercicio 7): noisy input clip(x + N(0, 0.5), 0, 1),
clean target. Saves a grid of original / noisy / denoised test digits.

``conv`` (tp4a.ej7_conv_denoise_ae, 10,188 params): the Keras blog's convolutional autoencoder
with a 4x4x1 code (Conv 32 -> pool -> Conv 16 -> pool -> Conv 1 -> pool(same) -> Conv 1 ->
up -> Conv 16 -> up -> Conv 32 valid -> up -> Conv 1 sigmoid), binary cross-entropy, Adadelta.
The blog's 'adadelta' meant learning rate 1.0 in the Keras of its day (Keras 3's default is
1e-3, far too slow here), so ``--lr`` defaults to 1.0. ``--task reconstruct`` trains clean ->
clean (the report's first training).
``dense`` (tp4b.ej7_dense_denoise_ae, 4,982,534 params): 784-1500-750-250-750-1500-784, ReLU,
L2(1e-3) on the hidden layers, sigmoid output, MSE, Adagrad(lr=1).
Both reports are visual only; the RESULT value is the test MSE between output and clean image.

    python examples/ej7_mnist_denoising_ae.py --model dense --epochs 5
"""
import numpy as np

from minidl import layers, models, optimizers, regularizers

import common

NOISE_STD = 0.5


def build_conv():
    return models.Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, padding='same', activation='relu'),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding='same', activation='relu'),
        layers.MaxPooling2D(2),
        layers.Conv2D(1, 3, padding='same', activation='relu'),
        layers.MaxPooling2D(2, padding='same'),  # 7 -> 4
        layers.Conv2D(1, 3, padding='same', activation='relu'),  # the 4x4x1 code
        layers.UpSampling2D(2),
        layers.Conv2D(16, 3, padding='same', activation='relu'),
        layers.UpSampling2D(2),
        layers.Conv2D(32, 3, activation='relu'),  # valid: 16 -> 14
        layers.UpSampling2D(2),
        layers.Conv2D(1, 3, padding='same', activation='sigmoid'),
    ], name='ej7_conv_denoise_ae')


def build_dense(l2=1e-3):
    reg = regularizers.l2(l2) if l2 else None
    stack = [layers.Input(shape=(784,))]
    stack += [layers.Dense(units, activation='relu', kernel_regularizer=reg) for units in (1500, 750, 250, 750, 1500)]
    stack.append(layers.Dense(784, activation='sigmoid'))
    return models.Sequential(stack, name='tp4b_ej7_dense_denoise_ae')


# variant -> (model id, builder, flat input, loss, optimizer factory, default epochs)
VARIANTS = {
    'conv': ('tp4a.ej7_conv_denoise_ae', build_conv, False, 'binary_crossentropy',
             lambda lr: optimizers.Adadelta(learning_rate=lr or 1.0), 20),
    'dense': ('tp4b.ej7_dense_denoise_ae', build_dense, True, 'mse',
              lambda lr: optimizers.Adagrad(learning_rate=lr or 1.0), 10),
}


def add_noise(x, rng, std=NOISE_STD):
    """clip(x + N(0, std), 0, 1)."""
    return np.clip(x + rng.normal(0.0, std, x.shape), 0.0, 1.0).astype('float32')


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=128)
    p.add_argument('--model', choices=list(VARIANTS), default='conv')
    p.add_argument('--task', choices=['denoise', 'reconstruct'], default='denoise')
    p.add_argument('--lr', type=float, default=None, help='learning rate (default 1.0 for both)')
    p.add_argument('--dataset', choices=['mnist', 'fashion_mnist'], default='mnist')
    p.add_argument('--l2', type=float, default=1e-3, help='dense model: L2 factor of the hidden layers (tp4b: 1e-3)')
    args = p.parse_args()
    rng = common.setup(args)
    model_id, build, flat, loss, make_optimizer, epochs = VARIANTS[args.model]
    args.epochs = args.epochs or epochs
    x_train, _, x_test, _, _ = common.load_digits(args, args.dataset, flat=flat)
    noisy_train, noisy_test = add_noise(x_train, rng), add_noise(x_test, rng)
    if args.task == 'reconstruct':
        noisy_train, noisy_test = x_train, x_test
        model_id += '_reconstruct'

    model = build(args.l2) if args.model == 'dense' else build()
    model.compile(optimizer=make_optimizer(args.lr), loss=loss, metrics=['mse'])
    common.fit_and_report(args, model, model_id, (noisy_train, x_train), (noisy_test, x_test),
                          metric='mse')
    shown = min(8, len(x_test))
    denoised = model.predict(noisy_test[:shown], verbose=0)
    rows = [r.reshape(shown, 28, 28) for r in (x_test[:shown], noisy_test[:shown], denoised)]
    common.save_image_grid(rows, args, f'{model_id}_samples.png', titles=['original', 'input', 'output'])


if __name__ == '__main__':
    main()
