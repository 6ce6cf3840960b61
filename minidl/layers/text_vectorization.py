"""From raw text to numbers: ``TextVectorization``, ``StringLookup`` and ``IntegerLookup``.

Keras 3's preprocessing layers, on NumPy string arrays (no TensorFlow). The pipeline of
``TextVectorization`` for every string of a batch:

1. standardize: lower-case and/or strip ASCII punctuation (or a callable on the NumPy array),
2. split into tokens: on whitespace, into characters, or with a callable,
3. optionally join neighbouring tokens into n-grams ("the cat", "cat sat", ...),
4. look every token up in the vocabulary (``StringLookup``): index 0 is the mask/padding
   token '', index 1 the out-of-vocabulary token '[UNK]', then the terms, most frequent first,
5. encode: the index sequence (``output_mode='int'``, padded with 0 to the longest string or
   to ``output_sequence_length``), or one vector per string over the vocabulary: 'multi_hot'
   (1 where a term occurs), 'count' (how often) or 'tf_idf' (count * idf).

``adapt(data)`` learns the vocabulary as Keras does: terms sorted by count, ties broken by the
term itself in descending order, cut at ``max_tokens``; for 'tf_idf' also the inverse
document frequencies idf = log(1 + documents / (1 + documents containing the term)).

The layers run on the host (strings never go to the GPU); their outputs are Tensors of the
active backend: int64 indices, or floatx vectors. They have no weights and no gradient.
"""
import collections
import os
import re

import numpy as np

from .. import backend
from ..autograd import Tensor
from .base import Layer, is_symbolic

_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_OUTPUT_MODES = ('int', 'one_hot', 'multi_hot', 'count', 'tf_idf')


def _output_mode(layer, output_mode):
    mode = {'binary': 'multi_hot', 'tf-idf': 'tf_idf'}.get(output_mode, output_mode)
    if mode not in _OUTPUT_MODES:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): output_mode must be one of "
                         f'{list(_OUTPUT_MODES)}, got {output_mode!r}.')
    return mode


def _host(x):
    """The input as a NumPy array (lists, Tensors and CuPy arrays alike)."""
    if isinstance(x, Tensor):
        x = x.data
    if backend.is_cupy(x):
        x = backend.to_numpy(x)
    return np.asarray(x)


def _strings(x, encoding='utf-8'):
    """A NumPy array of Python str (bytes decoded with ``encoding``)."""
    a = _host(x)
    if a.dtype.kind == 'S':
        return np.char.decode(a, encoding)
    if a.dtype.kind == 'O':
        return np.array([v.decode(encoding) if isinstance(v, bytes) else str(v) for v in a.ravel()],
                        dtype=str).reshape(a.shape) if a.size else a.astype(str)
    if a.dtype.kind != 'U':
        raise ValueError(f'Expected strings, got an array of dtype {a.dtype}.')
    return a


class _LayerWithConfig(Layer):
    """Shared by the three: Keras' base config keys and eager calls on raw data."""

    def _base_config(self):
        parent = getattr(super(), 'get_config', None)
        if parent is not None:
            return dict(parent())
        return {'name': self.name, 'trainable': self.trainable, 'dtype': self.dtype or 'float32'}

    def __call__(self, inputs, *args, **kwargs):
        if is_symbolic(inputs):
            return super().__call__(inputs, *args, **kwargs)
        return self.call(inputs)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class IndexLookup(_LayerWithConfig):
    """A vocabulary of terms (strings or integers) and the maps term -> index -> term.

    Index layout (Keras'): [mask token (only in 'int' mode, when set)] [num_oov_indices OOV
    slots] [terms...]. With one OOV slot every unknown term maps to it; with several, an
    unknown term picks a slot by ``hash(term) % num_oov_indices`` (integers: ``term %
    num_oov_indices``, Keras' 'floormod'); with none, an unknown term is an error.
    """
    _vocabulary_kind = 'string'

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None, vocabulary=None,
                 idf_weights=None, invert=False, output_mode='int', sparse=False, pad_to_max_tokens=False,
                 oov_method='floormod', salt=None, vocabulary_size=None, has_input_vocabulary=None, **kwargs):
        super().__init__(**kwargs)
        who = f"Layer '{self.name}' ({type(self).__name__})"
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f'{who}: max_tokens must be greater than 1 when set, got {max_tokens}.')
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f'{who}: pad_to_max_tokens=True needs max_tokens.')
        if num_oov_indices < 0:
            raise ValueError(f'{who}: num_oov_indices must be >= 0, got {num_oov_indices}.')
        if oov_method not in ('floormod', 'farmhash'):
            raise ValueError(f"{who}: oov_method must be 'floormod' or 'farmhash', got {oov_method!r}.")
        output_mode = _output_mode(self, output_mode)
        if invert and output_mode != 'int':
            raise ValueError(f"{who}: invert=True needs output_mode='int', got {output_mode!r}.")
        if sparse:
            raise ValueError(f'{who}: sparse=True needs sparse tensors, which minidl (like Keras off TensorFlow) '
                             'does not have; use sparse=False.')
        if idf_weights is not None and output_mode != 'tf_idf':
            raise ValueError(f"{who}: idf_weights is only used with output_mode='tf_idf', got {output_mode!r}.")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode, self.sparse = bool(invert), output_mode, False
        self.pad_to_max_tokens, self.oov_method, self.salt = bool(pad_to_max_tokens), oov_method, salt
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = vocabulary is not None if has_input_vocabulary is None else has_input_vocabulary
        self._frozen_vocab_size = vocabulary_size
        self._terms = []              # the learned or given terms, without special tokens
        self._index = {}
        self.idf_weights = None
        self.reset_state()
        if output_mode == 'tf_idf' and self._has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{who}: with a vocabulary and output_mode='tf_idf', give idf_weights too.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    # --- vocabulary --------------------------------------------------------------------------
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == 'int' else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def _as_terms(self, values):
        return [str(v) for v in values] if self._vocabulary_kind == 'string' else [int(v) for v in values]

    def vocabulary_size(self):
        """The number of indices: special tokens plus terms."""
        return self._token_start_index() + len(self._terms)

    def get_vocabulary(self, include_special_tokens=True):
        vocab = [self.oov_token] * self._token_start_index() + list(self._terms)
        if self.mask_token is not None and self.output_mode == 'int':
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start_index():]

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (a list/array of terms, or a path to a text file with one term a
        line); the special tokens may be included at its start, in Keras' order."""
        who = f"Layer '{self.name}' ({type(self).__name__})"
        if self.output_mode == 'tf_idf' and idf_weights is None:
            raise ValueError(f"{who}: output_mode='tf_idf' needs idf_weights with the vocabulary.")
        if self.output_mode != 'tf_idf' and idf_weights is not None:
            raise ValueError(f"{who}: idf_weights is only used with output_mode='tf_idf'.")
        if isinstance(vocabulary, (str, os.PathLike)):
            if not os.path.exists(vocabulary):
                raise ValueError(f'{who}: vocabulary file {vocabulary} does not exist.')
            if self.output_mode == 'tf_idf':
                raise ValueError(f"{who}: output_mode='tf_idf' cannot read its vocabulary from a file.")
            with open(vocabulary, encoding=getattr(self, 'encoding', 'utf-8')) as f:
                vocabulary = [line.rstrip('\r\n') for line in f]
        vocabulary = self._as_terms(_host(vocabulary).ravel().tolist() if not isinstance(vocabulary, list)
                                    else vocabulary)
        if not vocabulary:
            raise ValueError(f'{who}: cannot set an empty vocabulary.')
        start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices
        found_special = vocabulary[:start] == special
        terms = vocabulary[start:] if found_special else vocabulary
        repeated = [t for t, n in collections.Counter(terms).items() if n > 1]
        if repeated:
            raise ValueError(f'{who}: the vocabulary repeats the terms {repeated}; make its terms unique.')
        if self.mask_token is not None and self.mask_token in terms:
            raise ValueError(f'{who}: the mask token {self.mask_token!r} appears inside the vocabulary; remove it, or '
                             f'give the special tokens only at the start in this order: {special}.')
        if self.oov_token is not None and self.invert and self.oov_token in terms:
            raise ValueError(f'{who}: the OOV token {self.oov_token!r} appears inside the vocabulary; remove it, or '
                             f'give the special tokens only at the start in this order: {special}.')
        if self.max_tokens is not None and start + len(terms) > self.max_tokens:
            raise ValueError(f'{who}: a vocabulary of {start + len(terms)} entries is larger than max_tokens='
                             f'{self.max_tokens}.')
        self._set_terms(terms)
        if self.output_mode == 'tf_idf':
            idf = np.asarray(_host(idf_weights), dtype=np.float64).ravel()
            if len(idf) != len(vocabulary):
                raise ValueError(f'{who}: idf_weights has {len(idf)} entries for a vocabulary of {len(vocabulary)}.')
            front = 0 if found_special else start
            front_value = 0.0 if found_special else float(idf.mean())
            self._set_idf(np.concatenate([np.full(front, front_value), idf]))
        self._frozen_vocab_size = self.vocabulary_size()

    def _set_terms(self, terms):
        self._terms = list(terms)
        start = self._token_start_index()
        self._index = {t: start + i for i, t in enumerate(self._terms)}

    def _set_idf(self, idf):
        if self.pad_to_max_tokens and self.max_tokens is not None:
            idf = np.concatenate([idf, np.zeros(self.max_tokens - len(idf))])
        self.idf_weights = idf.astype(backend.floatx)

    # --- adapt --------------------------------------------------------------------------------
    def reset_state(self):
        self._counts = collections.Counter()
        self._document_counts = collections.Counter()
        self._documents = 0

    def update_state(self, data):
        """Count the terms of one batch (rows are documents, for tf-idf)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static vocabulary via the "
                             '`vocabulary` argument or `set_vocabulary()`.')
        rows = self._rows(data)
        for row in rows:
            self._counts.update(row)
            if self.output_mode == 'tf_idf':
                self._document_counts.update(set(row))
        self._documents += len(rows)

    def _rows(self, data):
        """A batch as a list of term lists (one per document)."""
        if isinstance(data, list) and data and isinstance(data[0], (list, tuple)):
            return [self._as_terms(r) for r in data]
        a = _strings(data, getattr(self, 'encoding', 'utf-8')) if self._vocabulary_kind == 'string' else _host(data)
        if a.ndim == 0:
            a = a.reshape(1, 1)
        elif a.ndim == 1:
            a = a.reshape(1, -1)
        return [self._as_terms(r) for r in a.reshape(a.shape[0], -1)]

    def finalize_state(self):
        if self._has_input_vocabulary or not self._counts:
            self._frozen_vocab_size = self.vocabulary_size()
            return
        counts = dict(self._counts)
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        # most frequent first; ties by the term itself, largest first (Keras' lexsort reversed)
        terms = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            terms = terms[:self.max_tokens - self._token_start_index()]
        self._set_terms(terms)
        if self.output_mode == 'tf_idf':
            df = np.array([self._document_counts[t] for t in terms], dtype=np.float64)
            idf = np.log(1 + self._documents / (1 + df))
            mean = idf.mean() if idf.size else 0.0
            self._set_idf(np.concatenate([np.full(self._token_start_index(), mean), idf]))
        self.reset_state()
        self._frozen_vocab_size = self.vocabulary_size()

    def adapt(self, data, steps=None, batch_size=None):
        """Learn the vocabulary from ``data``: an array or list (one batch), or an iterable of
        batches (a generator), of which at most ``steps`` are read."""
        self.reset_state()
        if isinstance(data, (list, tuple, np.ndarray, Tensor)) or backend.is_cupy(data):
            a = data if isinstance(data, list) and data and isinstance(data[0], (list, tuple)) else _host(data)
            if not isinstance(a, list) and a.ndim == 1:
                a = a.reshape(-1, 1)
            self.update_state(a)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        self.finalize_state()

    # --- lookup -------------------------------------------------------------------------------
    def _lookup_index(self, term):
        index = self._index.get(term)
        if index is not None:
            return index
        if self.mask_token is not None and term == self.mask_token:
            return 0 if self.output_mode == 'int' else -1        # ignored by the vector encodings
        if self.num_oov_indices == 0:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): {term!r} is not in the vocabulary and "
                             'num_oov_indices=0; set num_oov_indices=1 to map unknown terms to an OOV index.')
        if self.num_oov_indices == 1:
            return self._oov_start_index()
        return self._oov_start_index() + self._oov_bucket(term)

    def _oov_bucket(self, term):
        if isinstance(term, int) and self.oov_method == 'floormod':
            return term % self.num_oov_indices
        import zlib
        data = (str(term) if not isinstance(term, str) else term).encode('utf-8')
        salt = 0 if self.salt is None else int(np.sum(self.salt))
        return zlib.crc32(data, salt & 0xffffffff) % self.num_oov_indices

    def lookup(self, terms):
        """Indices (int64 NumPy array) for a NumPy array of terms, any shape."""
        flat = [self._lookup_index(t) for t in self._as_terms(terms.ravel().tolist())]
        return np.array(flat, dtype=np.int64).reshape(terms.shape)

    def invert_lookup(self, indices):
        vocab = self.get_vocabulary()
        out = [vocab[i] if 0 <= i < len(vocab) else self.oov_token for i in indices.ravel().tolist()]
        if self.mask_token is not None:
            out = [self.mask_token if i == 0 else t for i, t in zip(indices.ravel().tolist(), out)]
        return np.array(out, dtype=object if self._vocabulary_kind != 'string' else str).reshape(indices.shape)

    def _depth(self):
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if depth is None:
            raise RuntimeError(f"Layer '{self.name}': with output_mode={self.output_mode!r} and "
                               'pad_to_max_tokens=False, set the vocabulary before calling the layer: pass '
                               '`vocabulary` or call `adapt` on sample data.')
        return depth

    def encode(self, rows_of_indices, shape_for_one_hot=None):
        """Vectors (floatx NumPy) from index rows: multi_hot, count, tf_idf (or one_hot)."""
        depth = self._depth()
        if self.output_mode == 'one_hot':
            idx = rows_of_indices
            out = np.zeros(idx.shape + (depth,), backend.floatx)
            valid = (idx >= 0) & (idx < depth)
            out[valid, idx[valid]] = 1
            if idx.ndim > 1 and idx.shape[-1] == 1:
                out = out[..., 0, :]
            return out
        out = np.zeros((len(rows_of_indices), depth), backend.floatx)
        for r, idx in enumerate(rows_of_indices):
            idx = np.asarray(idx, dtype=np.int64).ravel()
            idx = idx[(idx >= 0) & (idx < depth)]
            if self.output_mode == 'multi_hot':
                out[r, idx] = 1
            else:
                np.add.at(out[r], idx, 1)
        if self.output_mode == 'tf_idf':
            if self.idf_weights is None:
                raise ValueError(f"Layer '{self.name}': output_mode='tf_idf' needs idf weights: adapt the layer or "
                                 'pass idf_weights.')
            out *= self.idf_weights[:depth]
        return out

    def call(self, inputs):
        kind = self._vocabulary_kind
        if self.invert:
            idx = _host(inputs).astype(np.int64)
            return self.invert_lookup(idx)
        terms = _strings(inputs, getattr(self, 'encoding', 'utf-8')) if kind == 'string' else _host(inputs)
        scalar = terms.ndim == 0
        if scalar:
            terms = terms.reshape(1)
        idx = self.lookup(terms)
        if self.output_mode == 'int':
            return Tensor(backend.as_array(idx[0] if scalar else idx))
        if self.output_mode == 'one_hot':
            return Tensor(backend.as_array(self.encode(idx)))
        rows = idx.reshape(1, -1) if idx.ndim == 1 else idx.reshape(idx.shape[0], -1)
        return Tensor(backend.as_array(self.encode(list(rows))))

    # --- shapes and config --------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        if self.output_mode == 'int':
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        input_shape = tuple(input_shape)
        if self.output_mode == 'one_hot':
            if len(input_shape) > 1 and input_shape[-1] == 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)

    def _output_dtype(self, inputs):
        if self.invert:
            return np.dtype(object)
        return np.dtype('int64') if self.output_mode == 'int' else backend.floatx

    def get_config(self):
        def listify(x):
            return x.tolist() if isinstance(x, np.ndarray) else x
        config = {
            'invert': self.invert, 'max_tokens': self.max_tokens, 'num_oov_indices': self.num_oov_indices,
            'oov_token': self.oov_token, 'mask_token': self.mask_token, 'output_mode': self.output_mode,
            'sparse': self.sparse, 'pad_to_max_tokens': self.pad_to_max_tokens,
            'idf_weights': listify(self.input_idf_weights), 'vocabulary': listify(self.input_vocabulary),
            'vocabulary_size': self._frozen_vocab_size, 'oov_method': self.oov_method, 'salt': self.salt,
        }
        return {**self._base_config(), **config}


class StringLookup(IndexLookup):
    """Keras' StringLookup: strings -> indices (or ``invert=True``: indices -> strings).

    ``num_oov_indices > 1`` spreads unknown strings over the OOV slots with CRC-32, not
    TensorFlow's FarmHash: the slot of a given unknown string differs from Keras'."""
    _vocabulary_kind = 'string'

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token='[UNK]', vocabulary=None,
                 idf_weights=None, invert=False, output_mode='int', pad_to_max_tokens=False, sparse=False,
                 encoding='utf-8', name=None, salt=None, **kwargs):
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, **kwargs)

    def get_config(self):
        return {**super().get_config(), 'encoding': self.encoding}


class IntegerLookup(IndexLookup):
    """Keras' IntegerLookup: integer ids -> indices (or ``invert=True``: indices -> ids)."""
    _vocabulary_kind = 'int'

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype='int64', idf_weights=None, invert=False, output_mode='int', sparse=False,
                 pad_to_max_tokens=False, oov_method='floormod', salt=None, name=None, **kwargs):
        if vocabulary_dtype != 'int64':
            raise ValueError(f"IntegerLookup: only vocabulary_dtype='int64' is supported, got {vocabulary_dtype!r}.")
        if oov_method == 'floormod' and salt is not None:
            raise ValueError("IntegerLookup: salt can only be used with oov_method='farmhash'.")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse, pad_to_max_tokens=pad_to_max_tokens,
                         oov_method=oov_method, salt=salt, name=name, **kwargs)

    def invert_lookup(self, indices):
        return super().invert_lookup(indices).astype(np.int64)

    def get_config(self):
        config = super().get_config()
        config['vocabulary_dtype'] = self.vocabulary_dtype
        for key in ('oov_token', 'mask_token'):
            if config[key] is not None:
                config[key] = int(config[key])
        if config['vocabulary'] is not None:
            config['vocabulary'] = [int(v) for v in config['vocabulary']]
        order = ['name', 'trainable', 'dtype', 'invert', 'max_tokens', 'num_oov_indices', 'oov_token', 'mask_token',
                 'output_mode', 'sparse', 'pad_to_max_tokens', 'vocabulary_dtype']
        return {**{k: config[k] for k in order if k in config}, **config}


class TextVectorization(_LayerWithConfig):
    """Keras' TextVectorization: raw strings -> token indices or per-string vectors.

    Call on a (batch,) or (batch, 1) array of strings. ``output_mode='int'`` returns
    (batch, length) int64 indices, 0-padded to the longest string of the batch, or cut/padded to
    ``output_sequence_length``; the other modes return (batch, depth) floatx vectors.
    """

    def __init__(self, max_tokens=None, standardize='lower_and_strip_punctuation', split='whitespace', ngrams=None,
                 output_mode='int', output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding='utf-8', name=None, **kwargs):
        has_input_vocabulary = kwargs.pop('has_input_vocabulary', vocabulary is not None)
        vocabulary_size = kwargs.pop('vocabulary_size', None)
        super().__init__(name=name, **kwargs)
        who = f"Layer '{self.name}' (TextVectorization)"
        if not (standardize is None or callable(standardize)
                or standardize in ('lower_and_strip_punctuation', 'lower', 'strip_punctuation')):
            raise ValueError(f"{who}: standardize must be 'lower_and_strip_punctuation', 'lower', "
                             f"'strip_punctuation', None or a callable, got {standardize!r}.")
        if not (split is None or callable(split) or split in ('whitespace', 'character')):
            raise ValueError(f"{who}: split must be 'whitespace', 'character', None or a callable, got {split!r}.")
        output_mode = _output_mode(self, output_mode)
        if not (ngrams is None or isinstance(ngrams, int)
                or isinstance(ngrams, tuple) and all(isinstance(n, int) for n in ngrams)):
            raise ValueError(f'{who}: ngrams must be None, an integer or a tuple of integers, got {ngrams!r}.')
        if output_mode == 'int' and not (output_sequence_length is None or isinstance(output_sequence_length, int)):
            raise ValueError(f"{who}: output_sequence_length must be None or an integer, got "
                             f'{output_sequence_length!r}.')
        if output_mode != 'int' and output_sequence_length is not None:
            raise ValueError(f"{who}: output_sequence_length is only used with output_mode='int' (got "
                             f'output_mode={output_mode!r}).')
        if ragged or sparse:
            raise ValueError(f'{who}: ragged=True and sparse=True need ragged/sparse tensors, which minidl (like Keras '
                             'off TensorFlow) does not have; use output_sequence_length to pad instead.')
        self._max_tokens, self._standardize, self._split = max_tokens, standardize, split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode, self._output_sequence_length = output_mode, output_sequence_length
        self._ragged, self._encoding = False, encoding
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token='',
                                          output_mode=output_mode, encoding=encoding,
                                          name=f'{self.name}_string_lookup')
        self._lookup_layer._has_input_vocabulary = has_input_vocabulary
        if vocabulary_size is not None and vocabulary is None:
            self._lookup_layer._frozen_vocab_size = vocabulary_size
        self.built = True

    # --- the text pipeline --------------------------------------------------------------------
    def _standardized(self, strings):
        if callable(self._standardize):
            return np.asarray(self._standardize(strings))
        if self._standardize in ('lower', 'lower_and_strip_punctuation'):
            strings = np.char.lower(strings)
        if self._standardize in ('strip_punctuation', 'lower_and_strip_punctuation'):
            strings = np.array([_PUNCTUATION.sub('', s) for s in strings.ravel()], dtype=str).reshape(strings.shape)
        return strings

    def _tokens(self, inputs):
        """The list of token lists (one per string), or an array of tokens when split=None."""
        strings = _strings(inputs, self._encoding)
        if strings.ndim == 0:
            strings = strings.reshape(1)
        strings = self._standardized(strings)
        if self._split is None:
            rows = strings
        else:
            if strings.ndim > 1:
                if strings.shape[-1] != 1:
                    raise ValueError(f"Layer '{self.name}' (TextVectorization): to split strings into tokens, the "
                                     f'input must be (batch,) or (batch, 1); got shape {strings.shape}.')
                strings = strings[..., 0]
            if self._split == 'whitespace':
                rows = [s.split() for s in strings.tolist()]
            elif self._split == 'character':
                rows = [list(s) for s in strings.tolist()]
            else:
                rows = [[str(t) for t in _host(r).ravel().tolist()] for r in self._split(strings)]
        if self._ngrams is not None:
            rows = [self._ngram_row(list(np.asarray(r).ravel().tolist()) if not isinstance(r, list) else r)
                    for r in (rows if isinstance(rows, list) else list(rows))]
        return rows

    def _ngram_row(self, tokens):
        out = []
        for n in self._ngrams:
            out.extend(' '.join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        return out

    # --- adapt and vocabulary ------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and idf weights) from strings: an array/list, or an iterable of
        batches of strings."""
        self.reset_state()
        if isinstance(data, (list, tuple, np.ndarray, Tensor)):
            self.update_state(data)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        rows = self._tokens(data)
        if not isinstance(rows, list):
            rows = rows.reshape(rows.shape[0], -1).tolist() if rows.ndim > 1 else [[s] for s in rows.tolist()]
        self._lookup_layer.update_state(rows)

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # --- call ---------------------------------------------------------------------------------
    def call(self, inputs):
        rows = self._tokens(inputs)
        lookup = self._lookup_layer
        if not isinstance(rows, list):                   # split=None: every string is one token
            idx = lookup.lookup(rows)
            if self._output_mode == 'int':
                return Tensor(backend.as_array(idx))
            flat = idx.reshape(1, -1) if idx.ndim == 1 else idx.reshape(idx.shape[0], -1)
            return Tensor(backend.as_array(lookup.encode(list(flat))))
        indices = [lookup.lookup(np.array(r, dtype=str)) if r else np.zeros(0, np.int64) for r in rows]
        if self._output_mode != 'int':
            return Tensor(backend.as_array(lookup.encode(indices)))
        length = self._output_sequence_length
        if length is None:
            length = max((len(r) for r in indices), default=0)
        out = np.zeros((len(indices), length), np.int64)
        for i, r in enumerate(indices):
            r = r[:length]
            out[i, :len(r)] = r
        return Tensor(backend.as_array(out))

    def compute_output_shape(self, input_shape):
        if self._output_mode == 'int':
            return (input_shape[0], self._output_sequence_length)
        if self._split is None:
            if len(input_shape) <= 1:
                input_shape = tuple(input_shape) + (1,)
        else:
            input_shape = tuple(input_shape) + (None,)
        return self._lookup_layer.compute_output_shape(input_shape)

    def _output_dtype(self, inputs):
        return np.dtype('int64') if self._output_mode == 'int' else backend.floatx

    def get_config(self):
        lookup = self._lookup_layer

        def listify(x):
            return x.tolist() if isinstance(x, np.ndarray) else x
        config = {
            'max_tokens': lookup.max_tokens, 'standardize': self._standardize, 'split': self._split,
            'ngrams': self._ngrams_arg, 'output_mode': self._output_mode,
            'output_sequence_length': self._output_sequence_length, 'pad_to_max_tokens': lookup.pad_to_max_tokens,
            'sparse': False, 'ragged': False, 'vocabulary': listify(lookup.input_vocabulary),
            'idf_weights': listify(lookup.input_idf_weights), 'encoding': self._encoding,
            'vocabulary_size': self.vocabulary_size(),
        }
        if callable(config['standardize']) or callable(config['split']):
            from ..saving import serialize_keras_object
            for key in ('standardize', 'split'):
                if callable(config[key]):
                    config[key] = serialize_keras_object(config[key])
        return {**self._base_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ('standardize', 'split'):
            if isinstance(config.get(key), dict):
                from ..saving import deserialize_keras_object
                config[key] = deserialize_keras_object(config[key])
        if isinstance(config.get('ngrams'), list):
            config['ngrams'] = tuple(config['ngrams'])
        return cls(**config)
