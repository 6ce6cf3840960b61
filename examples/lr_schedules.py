"""A course model re-trained with a learning-rate schedule, beside its constant-rate run.

The model is TP4b's MNIST dense network (``tp4b.ej8_mnist_dense``, 79,510 parameters:
standardized input, Dense(100, relu) -> Dropout(0.15) -> Dense(10, sigmoid), categorical
cross-entropy, Adagrad(0.01), 20 epochs, batch 32; the report gives 90 %). It trains twice from
the same initial weights and the same shuffling: with the course's constant Adagrad(0.01), and
with Adagrad on the schedule ``--schedule``:

- ``cosine`` (default): ``CosineDecay(0.01, decay_steps, alpha=0.05, warmup_target=0.05,
  warmup_steps=one epoch)``: a one-epoch linear warmup to 5x the course's rate, then a cosine
  down to 5 % of it;
- ``exponential``: ``ExponentialDecay(0.05, decay_steps=one epoch, decay_rate=0.8)``;
- ``piecewise``: ``PiecewiseConstantDecay`` 0.05, then 0.01 after a third and 0.002 after two
  thirds of the steps.

    python examples/lr_schedules.py --schedule cosine
"""
import minidl
from minidl import optimizers
from minidl.optimizers import schedules

import common
from ej8_mnist_dense import build_tp4b


def schedule(name, steps_per_epoch, epochs):
    total = steps_per_epoch * epochs
    if name == 'cosine':
        return schedules.CosineDecay(0.01, decay_steps=total - steps_per_epoch, alpha=0.05, warmup_target=0.05,
                                     warmup_steps=steps_per_epoch)
    if name == 'exponential':
        return schedules.ExponentialDecay(0.05, decay_steps=steps_per_epoch, decay_rate=0.8)
    return schedules.PiecewiseConstantDecay([total // 3, 2 * total // 3], [0.05, 0.01, 0.002])


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=20, batch_size=32)
    p.add_argument('--schedule', choices=['cosine', 'exponential', 'piecewise'], default='cosine')
    p.add_argument('--dataset', choices=['mnist', 'fashion_mnist'], default='mnist')
    args = p.parse_args()
    common.setup(args)
    x_train, y_train, x_test, y_test, _ = common.load_digits(args, args.dataset, flat=True, standardize=True)
    steps = -(-len(x_train) // args.batch_size)
    for kind in ('constant', args.schedule):
        minidl.seed(args.seed)                               # same weights, dropout and shuffling in both runs
        model = build_tp4b(x_train.shape[1:])
        lr = 0.01 if kind == 'constant' else schedule(kind, steps, args.epochs)
        model.compile(optimizer=optimizers.Adagrad(learning_rate=lr), loss='categorical_crossentropy',
                      metrics=['accuracy'])
        common.fit_and_report(common.for_run(args, kind), model, f'tp4b.ej8_mnist_dense+{kind}',
                              (x_train, y_train), (x_test, y_test))


if __name__ == '__main__':
    main()
