"""IMDB sentiment with an LSTM (issue 16): Embedding -> LSTM -> Dense, Keras' imdb_lstm example.

Keras' example (keras-team/keras examples/imdb_lstm.py): the 20,000 most frequent words, reviews
cut to their last 80 words, Embedding(20000, 128) -> LSTM(128, dropout=0.2, recurrent_dropout=0.2)
-> Dense(1, sigmoid), Adam, binary cross-entropy, batch 32, 15 epochs; it reports about 0.81-0.83
test accuracy. Here recurrent_dropout is left out (it forces the step-by-step path, in Keras
too) and the default is 3 epochs (the validation accuracy peaks after 2-3); everything else is
the example's. ``--framework keras`` runs the same code on Keras 3 (TensorFlow).

    python examples/imdb_lstm.py [--epochs 3] [--framework keras]
"""
import common
import sequence_common

MODEL_ID = 'issue16.imdb_lstm'


def build(lib, maxlen, num_words, units=128, dropout=0.2):
    L = lib.layers
    tokens = L.Input(shape=(maxlen,), dtype='int32')
    x = L.Embedding(num_words, 128)(tokens)
    x = L.LSTM(units, dropout=dropout)(x)
    out = L.Dense(1, activation='sigmoid')(x)
    return lib.models.Model(tokens, out, name='imdb_lstm')


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=3, batch_size=32)
    sequence_common.add_flags(p, maxlen=80, num_words=20000)
    args = p.parse_args()
    common.setup(args)
    lib = sequence_common.library(args)
    train, test = sequence_common.load_imdb(args)
    model = build(lib, args.maxlen, args.num_words)
    sequence_common.train_and_report(args, lib, model, MODEL_ID, train, test)


if __name__ == '__main__':
    main()
