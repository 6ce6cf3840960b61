"""TextVectorization, StringLookup and IntegerLookup on NumPy strings: vocabularies, indices
and vectors equal to Keras 3's (which runs them on TensorFlow), configs with Keras' keys, and
the errors."""
import numpy as np
import pytest

from minidl import layers
from minidl.layers.text_vectorization import IntegerLookup, StringLookup, TextVectorization

DOCS = np.array(['The cat sat on the mat.', 'The dog ate my homework!', 'A cat, a dog; a bird?', 'dog dog DOG', ''])
QUERIES = np.array(['the bird sat', 'unknown words here cat', 'Dog'])
TOKENS = np.array([['a', 'b', 'c'], ['d', 'a', 'a'], ['c', '', 'b']])
IDS = np.array([[12, 1138, 42], [42, 1000, 36], [42, 12, 36]])


@pytest.fixture(scope='module')
def keras_tf(keras):
    pytest.importorskip('tensorflow')     # Keras' preprocessing layers run on TensorFlow
    return keras


def _np(keras, x):
    return np.array(x) if isinstance(x, list) else keras.ops.convert_to_numpy(x)


def _same_config(theirs, mine):
    assert list(theirs) == list(mine)
    for key in theirs:
        if key not in ('name', 'dtype'):
            assert theirs[key] == mine[key], key


@pytest.mark.slow
@pytest.mark.parametrize('kw', [dict(), dict(max_tokens=6), dict(ngrams=2), dict(ngrams=(1, 3)),
                                dict(output_mode='multi_hot'), dict(output_mode='count', max_tokens=5),
                                dict(output_mode='tf_idf'), dict(split='character', output_sequence_length=8),
                                dict(output_sequence_length=3), dict(standardize='lower', split=None),
                                dict(output_mode='multi_hot', pad_to_max_tokens=True, max_tokens=20),
                                dict(standardize='strip_punctuation')])
def test_text_vectorization_equals_keras(keras_tf, kw):
    theirs, mine = keras_tf.layers.TextVectorization(**kw), TextVectorization(**kw)
    theirs.adapt(DOCS)
    mine.adapt(DOCS)
    assert mine.get_vocabulary() == theirs.get_vocabulary()
    assert mine.vocabulary_size() == theirs.vocabulary_size()
    np.testing.assert_allclose(mine(QUERIES).numpy(), _np(keras_tf, theirs(QUERIES)), rtol=1e-6)
    _same_config(theirs.get_config(), mine.get_config())


@pytest.mark.slow
@pytest.mark.parametrize('kw', [dict(), dict(mask_token=''), dict(max_tokens=4), dict(output_mode='multi_hot'),
                                dict(output_mode='count'), dict(output_mode='tf_idf'),
                                dict(vocabulary=['[UNK]', 'a', 'b']), dict(num_oov_indices=0, vocabulary=list('abcd'))])
def test_string_lookup_equals_keras(keras_tf, kw):
    theirs, mine = keras_tf.layers.StringLookup(**kw), StringLookup(**kw)
    if 'vocabulary' not in kw:
        theirs.adapt(TOKENS)
        mine.adapt(TOKENS)
    query = np.array([['a', 'd', 'b']]) if kw.get('num_oov_indices') == 0 else np.array([['a', 'z', ''], ['b', 'c', 'd']])
    assert mine.get_vocabulary() == theirs.get_vocabulary()
    np.testing.assert_allclose(mine(query).numpy(), _np(keras_tf, theirs(query)), rtol=1e-6)
    _same_config(theirs.get_config(), mine.get_config())


@pytest.mark.slow
def test_string_lookup_one_hot_and_invert_equal_keras(keras_tf):
    theirs, mine = keras_tf.layers.StringLookup(output_mode='one_hot'), StringLookup(output_mode='one_hot')
    theirs.adapt(TOKENS)
    mine.adapt(TOKENS)
    np.testing.assert_array_equal(mine(np.array(['a', 'q', 'c'])).numpy(), _np(keras_tf, theirs(np.array(['a', 'q', 'c']))))
    for mask in (None, ''):
        theirs = keras_tf.layers.StringLookup(vocabulary=['a', 'b', 'c'], invert=True, mask_token=mask)
        mine = StringLookup(vocabulary=['a', 'b', 'c'], invert=True, mask_token=mask)
        idx = np.array([0, 1, 2, 3, 4, 1])
        assert mine(idx).tolist() == [str(s) for s in _np(keras_tf, theirs(idx)).tolist()]


@pytest.mark.slow
@pytest.mark.parametrize('kw', [dict(), dict(mask_token=0), dict(num_oov_indices=3), dict(output_mode='multi_hot'),
                                dict(max_tokens=3)])
def test_integer_lookup_equals_keras(keras_tf, kw):
    theirs, mine = keras_tf.layers.IntegerLookup(**kw), IntegerLookup(**kw)
    theirs.adapt(IDS)
    mine.adapt(IDS)
    query = np.array([[12, 1000, 7], [5, 42, 36]])
    assert mine.get_vocabulary() == [int(v) for v in theirs.get_vocabulary()]
    np.testing.assert_allclose(mine(query).numpy(), _np(keras_tf, theirs(query)))
    _same_config(theirs.get_config(), mine.get_config())
    inverse_theirs = keras_tf.layers.IntegerLookup(vocabulary=[12, 36, 42], invert=True)
    inverse_mine = IntegerLookup(vocabulary=[12, 36, 42], invert=True)
    idx = np.array([0, 1, 2, 3, 9])
    np.testing.assert_array_equal(inverse_mine(idx), _np(keras_tf, inverse_theirs(idx)))


def test_adapt_orders_by_count_then_term_descending():
    layer = StringLookup()
    layer.adapt(np.array(['b', 'a', 'c', 'a', 'b', 'd']))
    assert layer.get_vocabulary() == ['[UNK]', 'b', 'a', 'd', 'c']
    vectorizer = TextVectorization(max_tokens=4)
    vectorizer.adapt(DOCS)
    assert vectorizer.get_vocabulary() == ['', '[UNK]', 'dog', 'the']    # 'the' and 'a' both 3 times


def test_int_output_pads_with_zero_and_maps_unknown_to_one():
    layer = TextVectorization(vocabulary=['the', 'cat', 'sat'])
    out = layer(np.array(['The cat!', 'sat on the cat', 'dog'])).numpy()
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[2, 3, 0, 0], [4, 1, 2, 3], [1, 0, 0, 0]])
    np.testing.assert_array_equal(layer(np.array([['The cat!']])).numpy(), [[2, 3]])   # (batch, 1) input
    fixed = TextVectorization(vocabulary=['the', 'cat'], output_sequence_length=3)
    np.testing.assert_array_equal(fixed(['the the the the cat', 'cat']).numpy(), [[2, 2, 2], [3, 0, 0]])


def test_tf_idf_formula():
    layer = TextVectorization(output_mode='tf_idf')
    docs = np.array(['a b', 'a a c', 'b'])
    layer.adapt(docs)
    vocab = layer.get_vocabulary()
    assert vocab == ['[UNK]', 'a', 'b', 'c']
    idf = {t: np.log(1 + 3 / (1 + df)) for t, df in (('a', 2), ('b', 2), ('c', 1))}
    out = layer(np.array(['a a c zz'])).numpy()[0]
    mean = np.mean(list(idf.values()))
    np.testing.assert_allclose(out, [1 * mean, 2 * idf['a'], 0, idf['c']], rtol=1e-6)


def test_callables_and_generator_adapt():
    layer = TextVectorization(standardize=lambda s: np.char.upper(s), split=lambda s: [x.split('-') for x in s])
    layer.adapt(iter([np.array(['a-b', 'b-c']), np.array(['b'])]))
    assert layer.get_vocabulary() == ['', '[UNK]', 'B', 'C', 'A']
    np.testing.assert_array_equal(layer(['c-a-x']).numpy(), [[3, 4, 1]])


def test_config_round_trip_and_vocabulary_file(tmp_path):
    path = tmp_path / 'vocab.txt'
    path.write_text('the\ncat\n', encoding='utf-8')
    layer = TextVectorization(vocabulary=str(path), output_sequence_length=2)
    assert layer.get_vocabulary() == ['', '[UNK]', 'the', 'cat']
    layer = TextVectorization(vocabulary=['the', 'cat'], ngrams=2, output_mode='count')
    clone = TextVectorization.from_config(layer.get_config())
    np.testing.assert_array_equal(clone(['the cat']).numpy(), layer(['the cat']).numpy())
    lookup = IntegerLookup(vocabulary=[5, 7], mask_token=0)
    clone = IntegerLookup.from_config(lookup.get_config())
    np.testing.assert_array_equal(clone(np.array([7, 0, 3])).numpy(), [3, 0, 1])


def test_feeds_an_embedding_from_raw_text():
    vectorizer = TextVectorization(max_tokens=20, output_sequence_length=5)
    vectorizer.adapt(DOCS)
    emb = layers.Embedding(20, 4)
    out = emb(vectorizer(QUERIES))
    assert tuple(out.shape) == (3, 5, 4)


def test_symbolic_call_gives_keras_shapes():
    x = layers.Input(shape=(), dtype='str')
    assert TextVectorization(output_sequence_length=7)(x).shape == (None, 7)
    assert TextVectorization(max_tokens=9, pad_to_max_tokens=True, output_mode='multi_hot')(x).shape == (None, 9)
    assert TextVectorization(output_sequence_length=7)(x).dtype == np.int64


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match='output_mode must be one of'):
        TextVectorization(output_mode='words')
    with pytest.raises(ValueError, match="only used with output_mode='int'"):
        TextVectorization(output_mode='count', output_sequence_length=3)
    with pytest.raises(ValueError, match='ragged'):
        TextVectorization(ragged=True)
    with pytest.raises(ValueError, match='repeats the terms'):
        StringLookup(vocabulary=['a', 'b', 'a'])
    with pytest.raises(ValueError, match='num_oov_indices=0'):
        StringLookup(vocabulary=['a'], num_oov_indices=0)(np.array(['b']))
    with pytest.raises(RuntimeError, match='set the vocabulary before calling'):
        StringLookup(output_mode='multi_hot')(np.array(['b']))
    with pytest.raises(ValueError, match='after setting a static vocabulary'):
        StringLookup(vocabulary=['a']).adapt(np.array(['b']))
    with pytest.raises(ValueError, match=r'\(batch,\) or \(batch, 1\)'):
        TextVectorization(vocabulary=['a'])(np.array([['a b', 'c']]))
