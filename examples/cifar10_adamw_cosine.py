"""CIFAR-10 with AdamW and a cosine learning-rate schedule with linear warmup, the recipe of
current image models (Loshchilov & Hutter's decoupled weight decay, SGDR's cosine), on a small
convolutional network that trains on a CPU.

Network (``--width w``, default 16: 24,570 parameters): Conv(w, 3x3) -> BN -> ReLU -> MaxPool ->
Conv(2w) -> BN -> ReLU -> MaxPool -> Conv(4w) -> BN -> ReLU -> GlobalAveragePooling -> Dropout(0.3)
-> Dense(10): small enough for a few epochs on two CPU cores.
Training: categorical cross-entropy from logits on one-hot labels with label smoothing 0.1, AdamW(weight_decay=0.05, global_clipnorm=1.0)
with ``CosineDecay(1e-4, decay_steps, warmup_target=3e-3, warmup_steps=one epoch)``, horizontal
flips. Biases and BatchNorm parameters are exempt from weight decay (``exclude_from_weight_decay``).
``--compare`` also trains the same network with a constant AdamW(1e-3).

    python examples/cifar10_adamw_cosine.py --train-size 10000 --epochs 10 --time-limit 25
"""
import minidl
from minidl import layers, losses, models, optimizers
from minidl.optimizers import schedules
from minidl.utils import to_categorical

import common


def build(width=16):
    def block(filters):
        return [layers.Conv2D(filters, 3, padding='same', use_bias=False), layers.BatchNormalization(),
                layers.Activation('relu')]
    stack = [layers.Input(shape=(32, 32, 3))]
    stack += block(width) + [layers.MaxPooling2D()] + block(2 * width) + [layers.MaxPooling2D()] + block(4 * width)
    stack += [layers.GlobalAveragePooling2D(), layers.Dropout(0.3), layers.Dense(10)]
    return models.Sequential(stack, name='cifar10_adamw_cosine')


def flip_batches(x, y, batch_size, rng):
    """An endless generator of shuffled batches, each image flipped left-right with probability 1/2."""
    while True:
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            xb = x[idx].copy()
            flip = rng.random(len(idx)) < 0.5
            xb[flip] = xb[flip, :, ::-1]
            yield xb, y[idx]


def make_optimizer(kind, steps_per_epoch, epochs):
    if kind == 'constant':
        opt = optimizers.AdamW(1e-3, weight_decay=0.05, global_clipnorm=1.0)
    else:
        total = steps_per_epoch * epochs
        lr = schedules.CosineDecay(1e-4, decay_steps=max(total - steps_per_epoch, 1), warmup_target=3e-3,
                                   warmup_steps=steps_per_epoch)
        opt = optimizers.AdamW(lr, weight_decay=0.05, global_clipnorm=1.0)
    opt.exclude_from_weight_decay(var_names=['bias', 'gamma', 'beta'])
    return opt


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=10, batch_size=128)
    p.add_argument('--train-size', type=int, default=10000, help='training images used, of the 50,000 (default %(default)s)')
    p.add_argument('--test-size', type=int, default=10000, help='test images used, of the 10,000 (default %(default)s)')
    p.add_argument('--width', type=int, default=16, help='channels of the first convolution (default 16)')
    p.add_argument('--compare', action='store_true', help='also train with a constant AdamW(1e-3)')
    args = p.parse_args()
    rng = common.setup(args)
    (x_train, y_train), (x_test, y_test) = common.load_cifar(args)
    x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    x_test, y_test = x_test[:args.test_size], y_test[:args.test_size]
    mean, std = x_train.mean(axis=(0, 1, 2)), x_train.std(axis=(0, 1, 2))
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    y_train_1h, y_test_1h = to_categorical(y_train, 10), to_categorical(y_test, 10)
    steps = -(-len(x_train) // args.batch_size)
    args.dataset_name += f'[train {len(x_train)}, test {len(x_test)}]'
    for kind in (['cosine', 'constant'] if args.compare else ['cosine']):
        run = common.for_run(args, kind) if args.compare else args
        minidl.seed(args.seed)
        model = build(args.width)
        model.compile(optimizer=make_optimizer(kind, steps, args.epochs),
                      loss=losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                      metrics=['accuracy'])
        common.fit_and_report(run, model, f'cifar10_adamw_{kind}', (flip_batches(x_train, y_train_1h, args.batch_size,
                                                                                 rng),),
                              (x_test, y_test_1h), steps_per_epoch=steps)


if __name__ == '__main__':
    main()
