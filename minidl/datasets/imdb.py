"""IMDB movie reviews (Maas et al., ACL 2011): 25,000 training and 25,000 test reviews labelled
positive (1) or negative (0), as sequences of word indices with Keras' conventions.

Built from the official raw release ``aclImdb_v1.tar.gz`` (the ``train|test/pos|neg`` folders).
Each review is tokenized (lower case, ``<br />`` tags and punctuation removed, apostrophes
inside words kept: ``text_to_word_sequence``); words are ranked by their frequency in the
training reviews (rank 1 = most frequent; ties broken alphabetically), words seen only in test
reviews are ranked after them by their test frequency. The tokenized corpus is cached next to
the archive (``aclImdb_v1.minidl.npz``) so only the first load reads the 50,000 text files.
Cite: A. L. Maas et al., *Learning Word Vectors for Sentiment Analysis*, ACL 2011.
"""
import collections
import os
import re
import tarfile

import numpy as np

from ..preprocessing.text import text_to_word_sequence
from ..atomic import atomic_path
from ._files import DatasetError, fetch, hash_file
from ._formats import reading

DATASET = 'imdb'
ARCHIVE = 'aclImdb_v1.tar.gz'
ORIGIN = 'https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz'
SHA256 = 'c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe'
CACHE = 'aclImdb_v1.minidl.npz'
_CACHE_FORMAT = 1
_REVIEW = re.compile(r'^aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$')


def load_data(path=None, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3):
    """``(x_train, y_train), (x_test, y_test)``: object arrays of 25,000 lists of int word
    indices each, and int64 labels (1 = positive), exactly as Keras' ``imdb.load_data``.

    Each split is shuffled with ``RandomState(seed)``. A word of rank ``r`` becomes
    ``r + index_from``; each sequence starts with ``start_char``. With ``maxlen``, sequences
    (start character included) of ``maxlen`` words or more are dropped. Indices outside
    ``[skip_top, num_words)`` (``num_words`` defaults to the largest index, which Keras also
    excludes) become ``oov_char``, or are removed when ``oov_char`` is None; the start
    character is filtered like any word. ``path`` is a directory searched first for the archive.
    """
    corpus = _corpus(path)
    rng = np.random.RandomState(seed)
    parts = []
    for split in ('train', 'test'):
        words, offsets = corpus[f'{split}_words'], corpus[f'{split}_offsets']
        labels = corpus[f'{split}_labels'].astype(np.int64)
        order = np.arange(len(labels))
        rng.shuffle(order)
        flat, lengths = _take_segments(words.astype(np.int64) + index_from, np.diff(offsets), order)
        if start_char is not None:
            flat = np.insert(flat, _starts(lengths), start_char)
            lengths = lengths + 1
        labels = labels[order]
        if maxlen:
            keep = np.flatnonzero(lengths < maxlen)  # Keras' remove_long_seq
            flat, lengths = _take_segments(flat, lengths, keep)
            labels = labels[keep]
            if not len(keep):
                raise ValueError(f'After filtering for sequences shorter than maxlen={maxlen}, no sequence was '
                                 f'kept in the {"training" if split == "train" else "test"} set. Increase maxlen.')
        parts.append([flat, lengths, labels])
    if not num_words:
        num_words = max(int(flat.max()) for flat, _, _ in parts if flat.size)
    for part in parts:
        flat, lengths, _ = part
        inside = (flat >= skip_top) & (flat < num_words)
        if oov_char is not None:
            part[0] = np.where(inside, flat, oov_char)
        else:
            counts = np.concatenate([[0], np.cumsum(inside)])
            part[0], part[1] = flat[inside], counts[_starts(lengths) + lengths] - counts[_starts(lengths)]
    (x_train, lengths_train, y_train), (x_test, lengths_test, y_test) = parts
    return (_as_lists(x_train, lengths_train), y_train), (_as_lists(x_test, lengths_test), y_test)


def _starts(lengths):
    return np.cumsum(lengths) - lengths


def _take_segments(flat, lengths, selected):
    """The segments ``selected`` (indices) of a flat array cut into ``lengths``, concatenated."""
    new_lengths = lengths[selected]
    total = int(new_lengths.sum())
    within = np.arange(total) - np.repeat(_starts(new_lengths), new_lengths)
    return flat[np.repeat(_starts(lengths)[selected], new_lengths) + within], new_lengths


def _as_lists(flat, lengths):
    """An object array of Python int lists, one per segment."""
    values = flat.tolist()
    ends = np.cumsum(lengths).tolist()
    out = np.empty(len(ends), dtype=object)
    out[:] = [values[end - n:end] for end, n in zip(ends, lengths.tolist())]
    return out


def get_word_index(path=None):
    """``{word: rank}`` of the vocabulary (rank 1 = most frequent in the training reviews)."""
    words = _corpus(path)['vocabulary'].tobytes().decode('utf-8').split('\n')
    return {word: rank for rank, word in enumerate(words, start=1)}


# ---------------------------------------------------------------------- tokenized corpus

def _corpus(path):
    """The tokenized corpus as arrays: ``<split>_words`` (all ranks, concatenated),
    ``<split>_offsets`` (sequence boundaries), ``<split>_labels``, ``vocabulary`` (utf-8 words
    joined by newlines, in rank order). Read from the cache file when it belongs to the archive."""
    archive = fetch(ARCHIVE, ORIGIN, SHA256, DATASET, path)
    signature = hash_file(archive)
    cache = os.path.join(os.path.dirname(archive), CACHE)
    if os.path.isfile(cache):
        try:
            with np.load(cache, allow_pickle=False) as stored:
                if int(stored['format']) == _CACHE_FORMAT and str(stored['source_sha256']) == signature:
                    return {key: stored[key] for key in stored.files}
        except (OSError, ValueError, KeyError):
            pass  # an unreadable cache is rebuilt below
    corpus = _tokenize_archive(archive)
    _save_cache(cache, corpus, signature)
    return corpus


def _save_cache(cache, corpus, signature):
    """Write the cache atomically; a read-only folder just means no cache."""
    try:
        with atomic_path(cache, suffix='.npz') as tmp, open(tmp, 'wb') as f:
            np.savez(f, format=_CACHE_FORMAT, source_sha256=signature, **corpus)
    except OSError:
        pass


def _read_reviews(archive):
    """``{split: [(label, id, text), ...]}`` from the archive's ``train|test/pos|neg`` files."""
    reviews = {'train': [], 'test': []}
    with reading(archive), tarfile.open(archive, 'r:*') as tar:
        for member in tar:
            match = _REVIEW.match(member.name)
            if match and member.isfile():
                split, polarity, review_id, _ = match.groups()
                text = tar.extractfile(member).read().decode('utf-8')
                reviews[split].append((int(polarity == 'pos'), int(review_id), text))
    for split, items in reviews.items():
        if not items:
            raise DatasetError(f'{archive} holds no {split} reviews (aclImdb/{split}/pos|neg/*.txt): '
                               'it is not the IMDB archive or it is incomplete. Delete it and load again.')
        items.sort(key=lambda item: item[:2])  # negatives then positives, by review id
    return reviews


def _tokenize_archive(archive):
    reviews = _read_reviews(archive)
    tokens = {split: [text_to_word_sequence(text) for _, _, text in items] for split, items in reviews.items()}
    vocabulary = _rank_words(tokens['train'], tokens['test'])
    rank = {word: i for i, word in enumerate(vocabulary, start=1)}
    corpus = {'vocabulary': np.frombuffer('\n'.join(vocabulary).encode('utf-8'), dtype=np.uint8)}
    for split, docs in tokens.items():
        lengths = np.array([len(doc) for doc in docs], dtype=np.int64)
        corpus[f'{split}_words'] = np.fromiter((rank[w] for doc in docs for w in doc), dtype=np.int32,
                                               count=int(lengths.sum()))
        corpus[f'{split}_offsets'] = np.concatenate([[0], np.cumsum(lengths)])
        corpus[f'{split}_labels'] = np.array([label for label, _, _ in reviews[split]], dtype=np.int8)
    return corpus


def _rank_words(train_docs, test_docs):
    """Training words by decreasing training frequency, then test-only words by test frequency
    (ties alphabetical)."""
    def by_frequency(counts):
        return [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]

    train_counts = collections.Counter(w for doc in train_docs for w in doc)
    test_only = collections.Counter(w for doc in test_docs for w in doc if w not in train_counts)
    return by_frequency(train_counts) + by_frequency(test_only)
