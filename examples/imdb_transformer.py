"""IMDB sentiment with a one-block Transformer (issue 16), Keras' text_classification_with_transformer.

Keras' example (keras.io/examples/nlp/text_classification_with_transformer): the 20,000 most
frequent words, reviews cut to 200 words, token + position embeddings (32 dims), one Transformer
block (MultiHeadAttention with 2 heads of key_dim 32, dropout 0.1, residuals,
LayerNormalization(epsilon=1e-6), a ReLU feed-forward of 32 units), GlobalAveragePooling1D,
Dropout(0.1), Dense(20, relu), Dropout(0.1), Dense(2, softmax); Adam, sparse categorical
cross-entropy, batch 32, 2 epochs (about 0.84-0.88 validation accuracy). The defaults here are
the example's. ``--framework keras`` runs the same code on Keras 3 (TensorFlow).

    python examples/imdb_transformer.py [--epochs 2] [--framework keras]
"""
import numpy as np

import common
import sequence_common

MODEL_ID = 'issue16.imdb_transformer'


def token_and_position_embedding(lib):
    """The example's TokenAndPositionEmbedding layer, for the library ``lib``."""
    L = lib.layers

    class TokenAndPositionEmbedding(lib.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_emb = L.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = L.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            positions = lib.ops.arange(0, x.shape[-1], 1)
            return self.token_emb(x) + self.pos_emb(positions)
    return TokenAndPositionEmbedding


def transformer_block(lib, x, embed_dim, num_heads, ff_dim, rate=0.1):
    L = lib.layers
    attention = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)(x, x)
    out1 = L.LayerNormalization(epsilon=1e-6)(x + L.Dropout(rate)(attention))
    ffn = L.Dense(embed_dim)(L.Dense(ff_dim, activation='relu')(out1))
    return L.LayerNormalization(epsilon=1e-6)(out1 + L.Dropout(rate)(ffn))


def build(lib, maxlen, num_words, embed_dim=32, num_heads=2, ff_dim=32):
    L = lib.layers
    tokens = L.Input(shape=(maxlen,), dtype='int32')
    x = token_and_position_embedding(lib)(maxlen, num_words, embed_dim)(tokens)
    x = transformer_block(lib, x, embed_dim, num_heads, ff_dim)
    x = L.GlobalAveragePooling1D()(x)
    x = L.Dropout(0.1)(x)
    x = L.Dense(20, activation='relu')(x)
    x = L.Dropout(0.1)(x)
    out = L.Dense(2, activation='softmax')(x)
    return lib.models.Model(tokens, out, name='imdb_transformer')


def main():
    p = common.parser(__doc__.splitlines()[0], epochs=2, batch_size=32)
    sequence_common.add_flags(p, maxlen=200, num_words=20000)
    args = p.parse_args()
    common.setup(args)
    lib = sequence_common.library(args)
    (x_train, y_train), (x_test, y_test) = sequence_common.load_imdb(args)
    train, test = (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))
    model = build(lib, args.maxlen, args.num_words)
    sequence_common.train_and_report(args, lib, model, MODEL_ID, train, test, loss='sparse_categorical_crossentropy')


if __name__ == '__main__':
    main()
