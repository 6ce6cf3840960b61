"""Weight initializers with Keras names, defaults and fan computations.

An initializer is called as ``init(shape, dtype=None)`` and returns an array of the active
backend. Random ones draw through ``minidl.backend`` so that ``minidl.seed(n)`` makes them
reproducible; one built with ``seed=...`` draws from its own generator instead, giving the
same values on every call (as Keras' seeded initializers do).

Variance scaling (Glorot, He, LeCun): with ``n`` = fan_in, fan_out or their mean,
uniform samples lie in ``[-sqrt(3 scale / n), sqrt(3 scale / n)]``; normal samples come from a
normal truncated at two standard deviations, whose stddev is ``sqrt(scale / n) / .8796...``
so that the truncated distribution has variance ``scale / n`` (Keras' convention).
"""
import math

import numpy as np

from . import backend
from .saving.serialization_lib import Configurable

# Standard deviation of a unit normal truncated to [-2, 2].
_TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape, input_axes=None, output_axes=None):
    """Keras' (fan_in, fan_out): a conv kernel (..., c_in, c_out) counts its receptive field;
    ``input_axes``/``output_axes`` (both given) name the axes whose sizes multiply into each fan."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return int(np.prod([shape[a] for a in input_axes])), int(np.prod([shape[a] for a in output_axes]))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer(Configurable):
    """Base class: subclasses implement ``__call__(shape, dtype=None)``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError


class _Random(Initializer):
    """Shared sampling: the global minidl generator, or a private one when seeded."""

    def __init__(self, seed=None):
        self.seed = seed

    def _generator(self):
        return None if self.seed is None else np.random.default_rng(self.seed)

    def _uniform(self, shape, low, high, dtype):
        gen = self._generator()
        if gen is None:
            return backend.random_uniform(shape, low, high, dtype)
        return backend.as_array(gen.uniform(low, high, size=shape).astype(dtype or backend.floatx))

    def _normal(self, shape, mean, stddev, dtype):
        gen = self._generator()
        if gen is None:
            return backend.random_normal(shape, mean, stddev, dtype)
        return backend.as_array(gen.normal(mean, stddev, size=shape).astype(dtype or backend.floatx))

    def _truncated_normal(self, shape, mean, stddev, dtype):
        """Normal samples redrawn until every one lies within two stddevs of the mean."""
        gen = self._generator()
        draw = (lambda n: backend.random_normal((n,), 0.0, 1.0, dtype)) if gen is None else \
            (lambda n: backend.as_array(gen.standard_normal(n).astype(dtype or backend.floatx)))
        size = int(np.prod(shape))
        z = draw(size)
        outside = backend.get_array_module(z).flatnonzero(abs(z) > 2)
        while outside.size:
            z[outside] = draw(int(outside.size))
            outside = outside[abs(z[outside]) > 2]
        return (z * stddev + mean).reshape(shape)

    def get_config(self):
        return {'seed': self.seed}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return backend.xp().zeros(shape, dtype or backend.floatx)


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return backend.xp().ones(shape, dtype or backend.floatx)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return backend.xp().full(shape, self.value, dtype or backend.floatx)

    def get_config(self):
        return {'value': self.value}


class RandomUniform(_Random):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self._uniform(shape, self.minval, self.maxval, dtype)

    def get_config(self):
        return {'seed': self.seed, 'minval': self.minval, 'maxval': self.maxval}


class RandomNormal(_Random):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return self._normal(shape, self.mean, self.stddev, dtype)

    def get_config(self):
        return {'seed': self.seed, 'mean': self.mean, 'stddev': self.stddev}


class TruncatedNormal(RandomNormal):
    """Normal samples, redrawn when more than two stddevs from the mean."""

    def __call__(self, shape, dtype=None):
        return self._truncated_normal(shape, self.mean, self.stddev, dtype)


class VarianceScaling(_Random):
    """Samples with variance ``scale / n``, n chosen by ``mode`` from the kernel's fans."""

    def __init__(self, scale=1.0, mode='fan_in', distribution='truncated_normal', seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        self.input_axes, self.output_axes = input_axes, output_axes
        if scale <= 0:
            raise ValueError(f'VarianceScaling needs a positive scale, got {scale}.')
        if mode not in ('fan_in', 'fan_out', 'fan_avg'):
            raise ValueError(f"VarianceScaling mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}.")
        distribution = str(distribution).lower()
        if distribution == 'normal':
            distribution = 'truncated_normal'
        if distribution not in ('truncated_normal', 'untruncated_normal', 'uniform'):
            raise ValueError("VarianceScaling distribution must be 'truncated_normal', 'untruncated_normal' "
                             f"or 'uniform', got {distribution!r}.")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {'fan_in': fan_in, 'fan_out': fan_out, 'fan_avg': (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == 'uniform':
            limit = math.sqrt(3.0 * variance)
            return self._uniform(shape, -limit, limit, dtype)
        if self.distribution == 'untruncated_normal':
            return self._normal(shape, 0.0, math.sqrt(variance), dtype)
        return self._truncated_normal(shape, 0.0, math.sqrt(variance) / _TRUNCATED_STDDEV, dtype)

    def get_config(self):
        return {'seed': self.seed, 'scale': self.scale, 'mode': self.mode, 'distribution': self.distribution,
                'input_axes': self.input_axes, 'output_axes': self.output_axes}


class _Preset(VarianceScaling):
    """A VarianceScaling whose only argument is the seed."""
    preset = {}

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(seed=seed, input_axes=input_axes, output_axes=output_axes, **self.preset)

    def get_config(self):
        return {'seed': self.seed, 'input_axes': self.input_axes, 'output_axes': self.output_axes}


class GlorotUniform(_Preset):
    preset = {'scale': 1.0, 'mode': 'fan_avg', 'distribution': 'uniform'}


class GlorotNormal(_Preset):
    preset = {'scale': 1.0, 'mode': 'fan_avg', 'distribution': 'truncated_normal'}


class HeNormal(_Preset):
    preset = {'scale': 2.0, 'mode': 'fan_in', 'distribution': 'truncated_normal'}


class HeUniform(_Preset):
    preset = {'scale': 2.0, 'mode': 'fan_in', 'distribution': 'uniform'}


class LecunNormal(_Preset):
    preset = {'scale': 1.0, 'mode': 'fan_in', 'distribution': 'truncated_normal'}


class LecunUniform(_Preset):
    preset = {'scale': 1.0, 'mode': 'fan_in', 'distribution': 'uniform'}


class Orthogonal(_Random):
    """A (semi-)orthogonal matrix times ``gain``: the Q of the QR decomposition of a normal matrix
    of shape (max(r, c), min(r, c)), signs fixed by diag(R), transposed when r < c; r is the
    product of all axes but the last and c the last (so conv kernels work)."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f'Orthogonal initializer needs a shape of rank 2 or more, got {tuple(shape)}.')
        rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
        a = backend.to_numpy(self._normal((max(rows, cols), min(rows, cols)), 0.0, 1.0, np.float64))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return backend.as_array((self.gain * q).reshape(shape).astype(dtype or backend.floatx))

    def get_config(self):
        return {'seed': self.seed, 'gain': self.gain}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f'Identity initializer needs a 2-D shape, got {tuple(shape)}.')
        return backend.xp().asarray(self.gain * np.eye(*shape), dtype=dtype or backend.floatx)

    def get_config(self):
        return {'gain': self.gain}


_BY_NAME = {
    'orthogonal': Orthogonal, 'identity': Identity,
    'zeros': Zeros, 'ones': Ones, 'constant': Constant,
    'random_uniform': RandomUniform, 'uniform': RandomUniform,
    'random_normal': RandomNormal, 'normal': RandomNormal,
    'truncated_normal': TruncatedNormal, 'variance_scaling': VarianceScaling,
    'glorot_uniform': GlorotUniform, 'glorot_normal': GlorotNormal,
    'he_normal': HeNormal, 'he_uniform': HeUniform,
    'lecun_normal': LecunNormal, 'lecun_uniform': LecunUniform,
}
for _cls in set(_BY_NAME.values()):
    _BY_NAME[_cls.__name__.lower()] = _cls

# Keras' lower-case function aliases: initializers.glorot_uniform(seed=None), ...
zeros, ones, constant = Zeros, Ones, Constant
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
orthogonal, identity = Orthogonal, Identity
OrthogonalInitializer, IdentityInitializer = Orthogonal, Identity


def serialize(initializer):
    from .saving.serialization_lib import serialize_keras_object
    return serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    from .saving.serialization_lib import deserialize_keras_object
    classes = {cls.__name__: cls for cls in _BY_NAME.values() if isinstance(cls, type)}
    return deserialize_keras_object(config, custom_objects, module_objects={**_BY_NAME, **classes},
                                    printable_module_name='initializer')


def get(identifier):
    """An initializer from a name ('he_normal'), a class, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            known = ', '.join(sorted(k for k in _BY_NAME if '_' in k or k in ('zeros', 'ones', 'constant')))
            raise ValueError(f'Unknown initializer {identifier!r}. Known names: {known}.')
        return _BY_NAME[key]()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f'Could not interpret initializer {identifier!r}: '
                     'pass a name, an Initializer, or a callable (shape, dtype) -> array.')
