"""Linear regression on Boston housing (TP4, Ejercicio 1): one Dense(1) unit, 14 params, MSE.

``tp4a`` (``tp4a.ej1_boston_linear``): Keras' 404/102 split, Adam, 200 epochs; the report's
minimum test MSE is 24.04. ``tp4b`` (``tp4b.ej1_boston_linear``): 75 % / 25 % split, R² = 0,669
on the held-out quarter. Both standardize the 13 features with the training statistics.

The learning rate is n/s in both reports. With Keras' default (1e-3) Adam moves the bias by about
1e-3 per step, and 200 epochs x 13 steps cannot bring it from 0 to the mean price (~22.5), so
``--lr`` defaults to 0.1.

    python examples/ej1_boston_linear.py --model tp4b
"""
import numpy as np

from minidl import layers, models, optimizers
from minidl.utils import train_test_split

import common

VARIANTS = {'tp4a': 'tp4a.ej1_boston_linear', 'tp4b': 'tp4b.ej1_boston_linear'}


def build():
    """price = w·x + b."""
    return models.Sequential([layers.Input(shape=(13,)), layers.Dense(1)], name='ej1_boston_linear')


def standardize(x_train, x_test):
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, (x_test - mean) / std


def r2_score(y_true, y_pred):
    """Coefficient of determination 1 - SS_res / SS_tot."""
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    return 1.0 - np.sum((y_true - y_pred) ** 2) / np.sum((y_true - y_true.mean()) ** 2)


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=200, batch_size=32)
    p.add_argument('--model', choices=list(VARIANTS), default='tp4a')
    p.add_argument('--lr', type=float, default=0.1, help='Adam learning rate (n/s in the reports)')
    args = p.parse_args()
    common.setup(args)
    (x_train, y_train), (x_test, y_test) = common.load_data('boston_housing', args)
    if args.model == 'tp4b':
        x = np.concatenate([x_train, x_test])
        y = np.concatenate([y_train, y_test])
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=args.seed)
    x_train, x_test = standardize(x_train.astype('float32'), x_test.astype('float32'))
    y_train = y_train.astype('float32').reshape(-1, 1)
    y_test = y_test.astype('float32').reshape(-1, 1)

    model = build()
    model.compile(optimizer=optimizers.Adam(learning_rate=args.lr), loss='mse')
    common.summary(model, args)
    history, seconds = common.timed_fit(model, x_train, y_train, epochs=args.epochs,
                                        batch_size=args.batch_size, validation_data=(x_test, y_test),
                                        verbose=args.verbose, time_limit=args.time_limit)
    mse = common.evaluate(model, x_test, y_test, args)['loss']
    r2 = r2_score(y_test, model.predict(x_test, verbose=0))
    print(f'test MSE {mse:.3f} (minimum over epochs {min(history.history["val_loss"]):.3f}), R² {r2:.3f}')
    if args.model == 'tp4a':
        common.finish(args, model, history, VARIANTS['tp4a'], 'test_mse', mse, seconds)
    else:
        common.finish(args, model, history, VARIANTS['tp4b'], 'test_r2', r2, seconds)


if __name__ == '__main__':
    main()
