"""MNIST denoising with a convolutional autoencoder whose decoder is made of Conv2DTranspose
layers (issue 17), the model of the Keras example "Convolutional autoencoder for image
denoising": noisy input clip(x + 0.4 N(0, 1), 0, 1), clean target, binary cross-entropy, Adam.

Encoder: Conv2D 32 3x3 relu 'same' -> MaxPooling2D 2 'same' -> Conv2D 32 3x3 relu 'same' ->
MaxPooling2D 2 'same' (a 7x7x32 code). Decoder: Conv2DTranspose 32 3x3 stride 2 relu 'same'
(7 -> 14) -> Conv2DTranspose 32 3x3 stride 2 relu 'same' (14 -> 28) -> Conv2D 1 3x3 sigmoid
'same'. 28,353 parameters. The Keras example trains 50 epochs on the full 60,000 images; the
offline data here may be the 5,000-image sample (the RESULT line says which).

The RESULT value is the test MSE between the denoised output and the clean image; the script
also prints the MSE of the noisy input itself (what doing nothing scores) and the PSNRs, and
saves a grid of original / noisy / denoised test digits next to the history plot.

    python examples/mnist_denoising_conv_ae.py --epochs 10 --time-limit 4
"""
import numpy as np

from minidl import layers, models, optimizers

import common

MODEL_ID = 'keras_io.conv_denoising_ae'
NOISE_FACTOR = 0.4


def build():
    inputs = layers.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation='relu', padding='same')(inputs)
    x = layers.MaxPooling2D(2, padding='same')(x)
    x = layers.Conv2D(32, 3, activation='relu', padding='same')(x)
    x = layers.MaxPooling2D(2, padding='same')(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, activation='relu', padding='same')(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, activation='relu', padding='same')(x)
    outputs = layers.Conv2D(1, 3, activation='sigmoid', padding='same')(x)
    return models.Model(inputs, outputs, name='conv_denoising_autoencoder')


def add_noise(x, rng, factor=NOISE_FACTOR):
    """clip(x + factor N(0, 1), 0, 1), as the Keras example."""
    return np.clip(x + factor * rng.standard_normal(x.shape), 0.0, 1.0).astype('float32')


def psnr(mse):
    """Peak signal-to-noise ratio of images in [0, 1]: 10 log10(1 / MSE)."""
    return 10 * np.log10(1.0 / mse)


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=50, batch_size=128)
    p.add_argument('--dataset', choices=['mnist', 'fashion_mnist'], default='mnist')
    p.add_argument('--lr', type=float, default=1e-3, help='Adam learning rate (default: %(default)s, as Keras and its example)')
    args = p.parse_args()
    rng = common.setup(args)
    x_train, _, x_test, _, _ = common.load_digits(args, args.dataset)
    print(f'data: {len(x_train)} training and {len(x_test)} test images ({args.dataset_name})')
    noisy_train, noisy_test = add_noise(x_train, rng), add_noise(x_test, rng)

    model = build()
    model.compile(optimizer=optimizers.Adam(learning_rate=args.lr), loss='binary_crossentropy', metrics=['mse'])
    noisy_mse = float(np.mean((noisy_test - x_test) ** 2))
    print(f'noisy input vs clean: test MSE {noisy_mse:.4f} (PSNR {psnr(noisy_mse):.2f} dB)')
    _, results = common.fit_and_report(args, model, MODEL_ID, (noisy_train, x_train), (noisy_test, x_test),
                                       metric='mse')
    print(f'denoised vs clean: test MSE {results["mse"]:.4f} (PSNR {psnr(results["mse"]):.2f} dB), against '
          f'{noisy_mse:.4f} ({psnr(noisy_mse):.2f} dB) for the noisy input')
    shown = min(10, len(x_test))
    denoised = model.predict(noisy_test[:shown], verbose=0)
    rows = [r.reshape(shown, 28, 28) for r in (x_test[:shown], noisy_test[:shown], denoised)]
    common.save_image_grid(rows, args, f'{MODEL_ID}_samples.png', titles=['original', 'noisy', 'denoised'])


if __name__ == '__main__':
    main()
