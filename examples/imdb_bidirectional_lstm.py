"""IMDB sentiment with two stacked bidirectional LSTMs (issue 16), Keras' bidirectional_lstm_imdb.

Keras' example (keras.io/examples/nlp/bidirectional_lstm_imdb): the 20,000 most frequent words,
reviews cut to 200 words, Embedding(20000, 128) -> Bidirectional(LSTM(64, return_sequences=True))
-> Bidirectional(LSTM(64)) -> Dense(1, sigmoid), Adam, binary cross-entropy, batch 32, 2 epochs
(it reaches about 0.85-0.87 validation accuracy). Defaults here: the same model, 2 epochs, but
reviews cut to 100 words (four 200-step LSTM passes per batch take too long on the shared 2-core
CPU; ``--maxlen 200`` gives the example's). ``--framework keras`` runs the same code on Keras 3.

    python examples/imdb_bidirectional_lstm.py [--maxlen 200] [--framework keras]
"""
import common
import sequence_common

MODEL_ID = 'issue16.imdb_bidirectional_lstm'


def build(lib, maxlen, num_words, units=64):
    L = lib.layers
    tokens = L.Input(shape=(maxlen,), dtype='int32')
    x = L.Embedding(num_words, 128)(tokens)
    x = L.Bidirectional(L.LSTM(units, return_sequences=True))(x)
    x = L.Bidirectional(L.LSTM(units))(x)
    out = L.Dense(1, activation='sigmoid')(x)
    return lib.models.Model(tokens, out, name='imdb_bidirectional_lstm')


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=2, batch_size=32)
    sequence_common.add_flags(p, maxlen=100, num_words=20000)
    args = p.parse_args()
    common.setup(args)
    lib = sequence_common.library(args)
    train, test = sequence_common.load_imdb(args)
    model = build(lib, args.maxlen, args.num_words)
    sequence_common.train_and_report(args, lib, model, MODEL_ID, train, test)


if __name__ == '__main__':
    main()
