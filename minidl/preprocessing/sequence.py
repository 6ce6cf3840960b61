"""Sequence padding, as Keras' ``pad_sequences``."""
import numpy as np


def pad_sequences(sequences, maxlen=None, dtype='int32', padding='pre', truncating='pre', value=0.0):
    """A ``(len(sequences), maxlen)`` array of the sequences, cut and padded to ``maxlen``.

    ``maxlen`` defaults to the longest sequence. Longer sequences lose their beginning
    (``truncating='pre'``) or end (``'post'``); shorter ones get ``value`` before (``padding='pre'``)
    or after (``'post'``) them. Elements may themselves be arrays (all of one shape), which
    gives ``(n, maxlen) + element_shape``.
    """
    for name, option in (('padding', padding), ('truncating', truncating)):
        if option not in ('pre', 'post'):
            raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post', got {option!r}.")
    if not hasattr(sequences, '__len__'):
        raise ValueError('pad_sequences needs a list (or array) of sequences.')
    lengths = []
    sample_shape = ()
    for i, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError:
            raise ValueError(f'pad_sequences: element {i} is {seq!r}, not a sequence; pass a list of lists.') from None
        if len(seq) and not sample_shape:
            sample_shape = np.asarray(seq).shape[1:]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if maxlen < 0:
        raise ValueError(f'pad_sequences: maxlen must be >= 0, got {maxlen}.')
    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.object_)
    if isinstance(value, str) and not is_text:
        raise ValueError(f'pad_sequences: dtype {dtype!r} cannot hold the padding value {value!r}; '
                         'use dtype=object or a number.')
    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    for i, seq in enumerate(sequences):
        if not lengths[i] or not maxlen:
            continue
        trunc = np.asarray(seq, dtype=dtype)
        trunc = trunc[-maxlen:] if truncating == 'pre' else trunc[:maxlen]
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f'pad_sequences: element {i} has items of shape {trunc.shape[1:]}, '
                             f'expected {sample_shape} like the first non-empty sequence.')
        if padding == 'post':
            out[i, :len(trunc)] = trunc
        else:
            out[i, maxlen - len(trunc):] = trunc
    return out
