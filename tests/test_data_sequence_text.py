"""pad_sequences (Keras' padding and truncating rules), text tokenizing and bag-of-words vectors."""
import numpy as np
import pytest

from minidl.preprocessing.sequence import pad_sequences
from minidl.preprocessing.text import text_to_word_sequence, vectorize_sequences

SEQS = [[1, 2, 3, 4], [5], [], [6, 7]]


def test_pad_sequences_defaults_pad_and_cut_at_the_front():
    out = pad_sequences(SEQS)
    assert out.dtype == np.int32 and out.shape == (4, 4)
    assert out.tolist() == [[1, 2, 3, 4], [0, 0, 0, 5], [0, 0, 0, 0], [0, 0, 6, 7]]
    assert pad_sequences(SEQS, maxlen=2).tolist() == [[3, 4], [0, 5], [0, 0], [6, 7]]


@pytest.mark.parametrize('padding, truncating, expected', [
    ('post', 'pre', [[2, 3, 4], [5, -1, -1], [-1, -1, -1], [6, 7, -1]]),
    ('pre', 'post', [[1, 2, 3], [-1, -1, 5], [-1, -1, -1], [-1, 6, 7]]),
    ('post', 'post', [[1, 2, 3], [5, -1, -1], [-1, -1, -1], [6, 7, -1]]),
])
def test_pad_sequences_options(padding, truncating, expected):
    out = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating, value=-1)
    assert out.tolist() == expected


def test_pad_sequences_dtypes_arrays_and_errors():
    out = pad_sequences([[0.5, 1.5], [2.5]], dtype='float32', value=0.25)
    assert out.dtype == np.float32 and out.tolist() == [[0.5, 1.5], [0.25, 2.5]]
    vectors = pad_sequences([np.ones((2, 3)), np.full((1, 3), 2.0)], maxlen=3, dtype='float32')
    assert vectors.shape == (2, 3, 3) and vectors[1].tolist() == [[0] * 3, [0] * 3, [2] * 3]
    assert pad_sequences(np.array([[1, 2], [3, 4]]), maxlen=0).shape == (2, 0)
    assert pad_sequences([]).shape == (0, 0)
    with pytest.raises(ValueError, match='padding'):
        pad_sequences(SEQS, padding='middle')
    with pytest.raises(ValueError, match='not a sequence'):
        pad_sequences([[1], 2])
    with pytest.raises(ValueError, match='dtype'):
        pad_sequences(SEQS, value='x')


def test_text_to_word_sequence():
    text = "Don't stop.<br /><br />Great, GREAT film! It's 10/10 -- naïve_fun"
    assert text_to_word_sequence(text) == ["don't", 'stop', 'great', 'great', 'film', "it's", '10', '10', 'naïve',
                                           'fun']


def test_vectorize_sequences_binary_and_count():
    seqs = [[1, 3, 3], [], [0, 4, 4, 4]]
    binary = vectorize_sequences(seqs, 5)
    assert binary.dtype == np.float32 and binary.shape == (3, 5)
    assert binary.tolist() == [[0, 1, 0, 1, 0], [0] * 5, [1, 0, 0, 0, 1]]
    counts = vectorize_sequences(seqs, 5, mode='count', dtype='float64')
    assert counts.dtype == np.float64 and counts.tolist() == [[0, 1, 0, 2, 0], [0] * 5, [1, 0, 0, 0, 3]]
    as_objects = np.empty(3, dtype=object)
    as_objects[:] = seqs
    np.testing.assert_array_equal(vectorize_sequences(as_objects, 5), binary)
    assert vectorize_sequences([[], []], 4).tolist() == [[0] * 4] * 2


def test_vectorize_sequences_rejects_out_of_range_indices():
    with pytest.raises(ValueError, match='word index 7 is outside'):
        vectorize_sequences([[1, 7]], 5)
    with pytest.raises(ValueError, match='mode'):
        vectorize_sequences([[1]], 5, mode='tfidf')
