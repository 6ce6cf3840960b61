"""Pima Indians diabetes with 5-fold cross-validation (TP4, Ejercicio 6), on the raw features
and with zero-coded missing values replaced by the column mean (``--data raw|imputed|both``).

``tp4a`` (tp4a.ej6_pima_kfold, 673 params): Dense(24, relu) -> BN -> Dropout -> Dense(12, relu)
-> BN -> Dropout -> Dense(1, linear), L2(0.1) everywhere, Adam(1e-3), BinaryCrossentropy(from
logits); imputation skips pregnancies and age; plots only ("(b) similar, with less noise").
``tp4b`` (tp4b.ej6_pima_kfold, 37,551 params): 250-100-50-50-50 ReLU -> Dense(1, sigmoid), L2(0.01),
Adam(1e-4), 50 epochs; imputation skips pregnancies; accuracy 68 % raw -> 72 % imputed.
Features are standardized with each training fold's statistics (the reports do not say how they
scaled them); the imputation means come from the training fold too. tp4a's dropout rate and epochs
are n/s (0.2 and 100 assumed). The RESULT value is the mean of the 5 final validation accuracies.

    python examples/ej6_pima_kfold.py --model tp4b --data imputed
"""
import types

import numpy as np

from minidl import layers, losses, metrics, models, optimizers, regularizers
from minidl.utils import KFold

import common

PREGNANCIES, AGE = 0, 7


def build_tp4a(dropout=0.2, l2=0.1):
    stack = [layers.Input(shape=(8,))]
    for units in (24, 12):
        stack += [layers.Dense(units, activation='relu', kernel_regularizer=regularizers.l2(l2)),
                  layers.BatchNormalization(), layers.Dropout(dropout)]
    stack.append(layers.Dense(1, kernel_regularizer=regularizers.l2(l2)))
    return models.Sequential(stack, name='ej6_pima_kfold')


def build_tp4b(l2=0.01):
    stack = [layers.Input(shape=(8,))]
    stack += [layers.Dense(units, activation='relu', kernel_regularizer=regularizers.l2(l2))
              for units in (250, 100, 50, 50, 50)]
    stack.append(layers.Dense(1, activation='sigmoid', kernel_regularizer=regularizers.l2(l2)))
    return models.Sequential(stack, name='tp4b_ej6_pima_kfold')


def compile_tp4a(model):
    model.compile(optimizer=optimizers.Adam(learning_rate=1e-3),
                  loss=losses.BinaryCrossentropy(from_logits=True),
                  metrics=[metrics.BinaryAccuracy(name='accuracy', threshold=0.0)])


def compile_tp4b(model):
    model.compile(optimizer=optimizers.Adam(learning_rate=1e-4), loss='binary_crossentropy',
                  metrics=['accuracy'])


# variant -> (model id, builder, compile, columns never imputed, default epochs)
VARIANTS = {
    'tp4a': ('tp4a.ej6_pima_kfold', build_tp4a, compile_tp4a, (PREGNANCIES, AGE), 100),
    'tp4b': ('tp4b.ej6_pima_kfold', build_tp4b, compile_tp4b, (PREGNANCIES,), 50),
}


def impute_zeros(x_train, x_val, keep_columns):
    """Replace 0 by the mean of the training fold's non-zero values, column by column."""
    x_train, x_val = x_train.copy(), x_val.copy()
    for column in range(x_train.shape[1]):
        if column in keep_columns:
            continue
        present = x_train[:, column] != 0
        if present.any():
            mean = x_train[present, column].mean()
            x_train[~present, column] = mean
            x_val[x_val[:, column] == 0, column] = mean
    return x_train, x_val


def standardize(x_train, x_val):
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, (x_val - mean) / std


def cross_validate(args, x, y, variant, impute):
    """Train one fresh model per fold; returns the final validation accuracies, the mean
    history over folds and the seconds per epoch."""
    _, build, compile_fn, keep_columns, _ = VARIANTS[variant]
    accuracies, histories, seconds = [], [], []
    folds = KFold(n_splits=5, shuffle=True, random_state=args.seed).split(x)
    for fold, (train_idx, val_idx) in enumerate(folds, start=1):
        x_train, x_val = x[train_idx], x[val_idx]
        if impute:
            x_train, x_val = impute_zeros(x_train, x_val, keep_columns)
        x_train, x_val = standardize(x_train, x_val)
        model = build()
        compile_fn(model)
        if fold == 1:
            common.summary(model, args)
        history, fold_seconds = common.timed_fit(
            model, x_train, y[train_idx], epochs=args.epochs, batch_size=args.batch_size,
            validation_data=(x_val, y[val_idx]), verbose=args.verbose, time_limit=args.time_limit)
        accuracies.append(history.history['val_accuracy'][-1])
        histories.append(history.history)
        seconds.append(fold_seconds)
        print(f'fold {fold}: validation accuracy {accuracies[-1]:.4f}')
    mean_history = {key: list(np.mean([h[key] for h in histories], axis=0)) for key in histories[0]}
    return accuracies, types.SimpleNamespace(history=mean_history), float(np.mean(seconds)), model


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=32)
    p.add_argument('--model', choices=list(VARIANTS), default='tp4a')
    p.add_argument('--data', choices=['raw', 'imputed', 'both'], default='both')
    args = p.parse_args()
    common.setup(args)
    model_id, *_, epochs = VARIANTS[args.model]
    args.epochs = args.epochs or epochs
    (x_train, y_train), (x_test, y_test) = common.load_data('pima_diabetes', args)
    x = np.concatenate([x_train, x_test]).astype('float32')
    y = np.concatenate([y_train, y_test]).astype('float32').reshape(-1, 1)
    dataset = args.dataset_name
    for data in (['raw', 'imputed'] if args.data == 'both' else [args.data]):
        run = common.for_run(args, data) if args.data == 'both' else args
        run.dataset_name = dataset + ('+imputed' if data == 'imputed' else '')
        accuracies, history, seconds, model = cross_validate(run, x, y, args.model, data == 'imputed')
        print(f'{data}: 5-fold validation accuracy {np.mean(accuracies):.4f} ± {np.std(accuracies):.4f}')
        common.finish(run, model, history, model_id, 'kfold5_mean_val_accuracy',
                      float(np.mean(accuracies)), seconds)


if __name__ == '__main__':
    main()
