"""IMDB sentiment from bag-of-words vectors over the 10,000 most frequent words (TP4, Ejercicio 3).

tp4a variants (word-count vectors; Dense(100) -> Dense(10) -> Concatenate([input, hidden]) ->
Dense(1, sigmoid); ReLU; L2 everywhere; Adam; binary cross-entropy; reported test acc 0.88/0.87/0.88):
  ``l2`` (tp4a.ej3_imdb_bow_l2, 1,011,121 params), ``bn`` (+BatchNormalization after each hidden
  layer, tp4a.ej3_imdb_bow_l2_bn, 1,011,561), ``dropout`` (tp4a.ej3_imdb_bow_l2_dropout).
tp4b variants (multi-hot vectors; Dense(100) -> Dense(50) -> Dense(1, sigmoid); Adadelta(0.1);
20 epochs; "85 %"): ``dense``, ``dense_l2`` (L2 0.01), ``dense_bn``, ``dense_dropout`` (0.5).

The L2 factors, dropout rate and epochs of tp4a are n/s: L2 1e-3 (1e-2 for ``bn``, which "needed a
larger factor"), dropout 0.5, 10 epochs are assumed.

    python examples/ej3_imdb_bow.py --variant dropout --epochs 5
"""
from minidl import layers, models, optimizers, regularizers
from minidl.preprocessing.text import vectorize_sequences

import common

NUM_WORDS = 10000

# variant -> (model id, source, extra layer after each hidden Dense, L2 factor)
VARIANTS = {
    'l2': ('tp4a.ej3_imdb_bow_l2', 'tp4a', None, 1e-3),
    'bn': ('tp4a.ej3_imdb_bow_l2_bn', 'tp4a', 'bn', 1e-2),
    'dropout': ('tp4a.ej3_imdb_bow_l2_dropout', 'tp4a', 'dropout', 1e-3),
    'dense': ('tp4b.ej3_imdb_dense', 'tp4b', None, None),
    'dense_l2': ('tp4b.ej3_imdb_dense_l2', 'tp4b', None, 0.01),
    'dense_bn': ('tp4b.ej3_imdb_dense_bn', 'tp4b', 'bn', None),
    'dense_dropout': ('tp4b.ej3_imdb_dense_dropout', 'tp4b', 'dropout', None),
}


def _after_hidden(x, extra):
    if extra == 'bn':
        return layers.BatchNormalization()(x)
    if extra == 'dropout':
        return layers.Dropout(0.5)(x)
    return x


def build(source, extra, l2):
    """tp4a: 100-10 ReLU MLP whose last hidden layer is concatenated with the input;
    tp4b: plain 100-50 ReLU MLP. Sigmoid output in both."""
    reg = regularizers.l2(l2) if l2 else None
    inputs = layers.Input(shape=(NUM_WORDS,))
    x = inputs
    for units in ((100, 10) if source == 'tp4a' else (100, 50)):
        x = _after_hidden(layers.Dense(units, activation='relu', kernel_regularizer=reg)(x), extra)
    if source == 'tp4a':
        x = layers.Concatenate()([inputs, x])
    outputs = layers.Dense(1, activation='sigmoid', kernel_regularizer=reg)(x)
    return models.Model(inputs, outputs, name=f'ej3_imdb_{source}')


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=None, batch_size=32)
    p.add_argument('--variant', choices=list(VARIANTS), default='l2')
    args = p.parse_args()
    common.setup(args)
    model_id, source, extra, l2 = VARIANTS[args.variant]
    args.epochs = args.epochs or (10 if source == 'tp4a' else 20)
    (x_train, y_train), (x_test, y_test) = common.load_data('imdb', args, num_words=NUM_WORDS)
    mode = 'count' if source == 'tp4a' else 'binary'
    x_train = vectorize_sequences(x_train, NUM_WORDS, mode=mode)
    x_test = vectorize_sequences(x_test, NUM_WORDS, mode=mode)
    y_train, y_test = y_train.astype('float32'), y_test.astype('float32')

    model = build(source, extra, l2)
    optimizer = optimizers.Adam() if source == 'tp4a' else optimizers.Adadelta(learning_rate=0.1)
    model.compile(optimizer=optimizer, loss='binary_crossentropy', metrics=['accuracy'])
    common.fit_and_report(args, model, model_id, (x_train, y_train), (x_test, y_test))


if __name__ == '__main__':
    main()
