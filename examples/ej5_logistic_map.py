"""Learning the logistic map y = 4x(1 - x) (TP4, Ejercicio 5): Dense(5, tanh) ->
Concatenate([x, hidden]) -> Dense(1, linear), 17 params, on 1,000 random x in [0, 1]
(90 % train / 10 % test, tp4b's numbers; tp4a gives none).

``tp4a`` (tp4a.ej5_logistic_map): mean absolute error, Adam, no regularization (plots only;
train and test loss coincide). ``tp4b`` (tp4b.ej5_logistic_map): MSE, L2(0.01), Adadelta(0.1),
50 epochs (plot only; the error keeps decreasing). tp4a's epochs are n/s (200 assumed).

    python examples/ej5_logistic_map.py --model tp4b
"""
import numpy as np

from minidl import layers, models, optimizers, regularizers

import common

# variant -> (model id, loss, L2, optimizer factory, default epochs)
VARIANTS = {
    'tp4a': ('tp4a.ej5_logistic_map', 'mae', None, optimizers.Adam, 200),
    'tp4b': ('tp4b.ej5_logistic_map', 'mse', 0.01, lambda: optimizers.Adadelta(learning_rate=0.1), 50),
}


def logistic_map_data(rng, n=1000, test_fraction=0.1):
    x = rng.uniform(0.0, 1.0, (n, 1)).astype('float32')
    y = 4.0 * x * (1.0 - x)
    cut = int(round(n * (1 - test_fraction)))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def build(l2=None):
    reg = regularizers.l2(l2) if l2 else None
    x = layers.Input(shape=(1,))
    hidden = layers.Dense(5, activation='tanh', kernel_regularizer=reg)(x)
    y = layers.Dense(1, kernel_regularizer=reg)(layers.Concatenate()([x, hidden]))
    return models.Model(x, y, name='ej5_logistic_map')


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=32)
    p.add_argument('--model', choices=list(VARIANTS), default='tp4a')
    p.add_argument('--points', type=int, default=1000, help='number of sampled x (default 1000)')
    args = p.parse_args()
    rng = common.setup(args)
    model_id, loss, l2, make_optimizer, epochs = VARIANTS[args.model]
    args.epochs = args.epochs or epochs
    args.dataset_name = 'logistic_map'
    train, test = logistic_map_data(rng, args.limit or args.points)

    model = build(l2)
    model.compile(optimizer=make_optimizer(), loss=loss, metrics=['mae' if loss == 'mse' else 'mse'])
    common.fit_and_report(args, model, model_id, train, test, metric='loss', label=loss)


if __name__ == '__main__':
    main()
