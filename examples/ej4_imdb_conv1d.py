"""IMDB sentiment with Embedding + Conv1D (TP4, Ejercicio 4, convolutional model).

``tp4a`` (tp4a.ej4_imdb_conv1d, 329,489 params): 500 words, Embedding(10000, 32) -> BN ->
Conv1D(16, 5, same) -> MaxPool1D(2) -> BN -> Conv1D(32, 5, same) -> MaxPool1D(2) -> BN ->
Dropout -> Flatten -> Dense(1, sigmoid, L2); Adam; "similar" to the dense model (0.88-0.89).
(The text says 32/64 filters; the printed summary and counts say 16/32, used here.)
``tp4b`` (tp4b.ej4_imdb_conv1d, 160,241 params): 100 words, Embedding(10000, 15) ->
Conv1D(128, 2) -> Dropout(0.5) -> MaxPool1D(2) -> Flatten -> Dense(1, sigmoid); Adadelta(lr=1);
"~84 %". Conv activations ReLU (assumed), tp4a dropout 0.5 and L2 1e-3 assumed, 5 epochs.

    python examples/ej4_imdb_conv1d.py --model tp4b
"""
from minidl import layers, models, regularizers

import common
from ej4_imdb_embedding import MAXLEN, NUM_WORDS, run


def build_tp4a(l2=1e-3, dropout=0.5):
    return models.Sequential([
        layers.Input(shape=(MAXLEN['tp4a'],)),
        layers.Embedding(NUM_WORDS, 32),
        layers.BatchNormalization(),
        layers.Conv1D(16, 5, padding='same', activation='relu'),
        layers.MaxPooling1D(2),
        layers.BatchNormalization(),
        layers.Conv1D(32, 5, padding='same', activation='relu'),
        layers.MaxPooling1D(2),
        layers.BatchNormalization(),
        layers.Dropout(dropout),
        layers.Flatten(),
        layers.Dense(1, activation='sigmoid', kernel_regularizer=regularizers.l2(l2)),
    ], name='ej4_imdb_conv1d')


def build_tp4b():
    return models.Sequential([
        layers.Input(shape=(MAXLEN['tp4b'],)),
        layers.Embedding(NUM_WORDS, 15),
        layers.Conv1D(128, 2, activation='relu'),
        layers.Dropout(0.5),
        layers.MaxPooling1D(2),
        layers.Flatten(),
        layers.Dense(1, activation='sigmoid'),
    ], name='tp4b_ej4_imdb_conv1d')


VARIANTS = {'tp4a': ('tp4a.ej4_imdb_conv1d', build_tp4a),
            'tp4b': ('tp4b.ej4_imdb_conv1d', build_tp4b)}


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=32)
    p.add_argument('--model', choices=list(VARIANTS), default='tp4a')
    args = p.parse_args()
    common.setup(args)
    run(args, VARIANTS)


if __name__ == '__main__':
    main()
