"""Text to numbers: tokenizing and bag-of-words vectors."""
import re

import numpy as np

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_HTML_BREAK = re.compile(r'<br\s*/?>', re.IGNORECASE)


def text_to_word_sequence(text, lower=True):
    """Words of ``text``: HTML line breaks and punctuation removed, apostrophes inside words kept
    (``"Don't stop.<br />Great!"`` -> ``["don't", 'stop', 'great']``)."""
    text = _HTML_BREAK.sub(' ', text)
    if lower:
        text = text.lower()
    return _WORD.findall(text)


def vectorize_sequences(sequences, dim=10000, mode='binary', dtype='float32'):
    """A ``(len(sequences), dim)`` matrix of word-index sequences.

    ``mode='binary'``: ``out[i, w] = 1`` if word ``w`` occurs in sequence ``i`` (multi-hot);
    ``mode='count'``: ``out[i, w]`` = number of occurrences. Indices must lie in ``[0, dim)``
    (load IMDB with ``num_words=dim``).
    """
    if mode not in ('binary', 'count'):
        raise ValueError(f"vectorize_sequences: mode must be 'binary' or 'count', got {mode!r}.")
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    out = np.zeros((len(lengths), dim), dtype=dtype)
    if not lengths.sum():
        return out
    words = np.concatenate([np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences])
    if words.min() < 0 or words.max() >= dim:
        bad = words.min() if words.min() < 0 else words.max()
        raise ValueError(f'vectorize_sequences: word index {bad} is outside [0, {dim}); load the data with '
                         f'num_words={dim} or raise dim.')
    rows = np.repeat(np.arange(len(lengths)), lengths)
    if mode == 'binary':
        out[rows, words] = 1
    else:
        cells, counts = np.unique(rows * dim + words, return_counts=True)
        out.reshape(-1)[cells] = counts
    return out
