"""``keras.random`` on minidl: random tensors drawn from minidl's seeded generator.

``seed`` may be None (minidl's global generator, reseeded by ``minidl.utils.set_random_seed``),
an int (a private generator: the same numbers every call, as Keras' integer seeds give), or a
``SeedGenerator`` (a private generator that advances with each draw, so repeated calls differ
but a whole program is reproducible).
"""
import numpy as np

from . import backend
from .autograd import Tensor


class SeedGenerator:
    """A source of reproducible randomness: each draw advances it."""

    def __init__(self, seed=None, name=None, **kwargs):
        self.seed = seed
        self.name = name
        self._rng = np.random.default_rng(seed)

    def next(self):
        return self._rng

    def get_config(self):
        return {'seed': self.seed}


def _generator(seed):
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)):
        return np.random.default_rng(int(seed))
    raise ValueError(f'seed must be None, an int or a minidl.random.SeedGenerator, got {seed!r}.')


def _tensor(values, dtype):
    return Tensor(backend.as_array(np.asarray(values).astype(dtype or backend.floatx)))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return _tensor(_generator(seed).normal(mean, stddev, size=shape), dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return _tensor(_generator(seed).uniform(minval, maxval, size=shape), dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples redrawn until within two standard deviations of the mean."""
    rng = _generator(seed)
    z = rng.standard_normal(int(np.prod(shape)))
    outside = np.flatnonzero(np.abs(z) > 2)
    while outside.size:
        z[outside] = rng.standard_normal(outside.size)
        outside = outside[np.abs(z[outside]) > 2]
    return _tensor((z * stddev + mean).reshape(shape), dtype)


def randint(shape, minval, maxval, dtype='int32', seed=None):
    return _tensor(_generator(seed).integers(minval, maxval, size=shape), dtype)


def categorical(logits, num_samples, dtype='int32', seed=None):
    """Samples of class indices from unnormalised log-probabilities (batch, classes)."""
    z = backend.to_numpy(logits.data if isinstance(logits, Tensor) else logits).astype(np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    rng = _generator(seed)
    out = np.stack([rng.choice(p.shape[-1], size=num_samples, p=row) for row in p])
    return _tensor(out, dtype)


def shuffle(x, axis=0, seed=None):
    """``x`` permuted along ``axis`` (a gather: gradients flow back)."""
    from . import functional as F
    from .functional import indexing
    x = x if isinstance(x, Tensor) else Tensor(backend.as_array(x))
    order = _generator(seed).permutation(x.shape[axis])
    del F
    return indexing.take(x, order, axis=axis)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Inverted dropout in training mode (``minidl.functional.dropout``)."""
    from . import functional as F
    if noise_shape is not None:
        return F.dropout(inputs, rate, True, noise_shape=noise_shape)
    return F.dropout(inputs, rate, True)
