"""Weight constraints with Keras names: after each optimizer step, a constrained weight is
replaced by ``constraint(weight)`` (a projection), as Keras 3 does.

    MaxNorm(max_value=2, axis=0):   w * clip(n, 0, max_value) / (eps + n)
    NonNeg():                        max(w, 0)
    UnitNorm(axis=0):                w / (eps + n)
    MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0):
                                     w * (rate clip(n, min, max) + (1 - rate) n) / (eps + n)

with ``n = sqrt(sum(w^2, axis, keepdims=True))`` (the norm of each unit's incoming weights:
``axis=0`` for a Dense kernel, ``[0, 1, 2]`` for a Conv2D kernel) and eps = 1e-7.
A constraint works on raw arrays (NumPy or CuPy) and returns a new array.
"""
from .backend import get_array_module
from .saving.serialization_lib import Configurable

EPSILON = 1e-7


class Constraint(Configurable):
    """Base class: subclasses implement ``__call__(w) -> projected w``."""

    def __call__(self, w):
        return w


def _norms(w, axis):
    xp = get_array_module(w)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return xp.sqrt(xp.sum(w * w, axis=axis, keepdims=True))


class MaxNorm(Constraint):
    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = get_array_module(w).clip(norms, 0, self.max_value)
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {'max_value': self.max_value, 'axis': self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return get_array_module(w).maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return (w / (EPSILON + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {'axis': self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        clipped = get_array_module(w).clip(norms, self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * norms
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {'min_value': self.min_value, 'max_value': self.max_value, 'rate': self.rate, 'axis': self.axis}


# Keras' lower-case aliases.
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_BY_NAME = {'max_norm': MaxNorm, 'non_neg': NonNeg, 'unit_norm': UnitNorm, 'min_max_norm': MinMaxNorm,
            'MaxNorm': MaxNorm, 'NonNeg': NonNeg, 'UnitNorm': UnitNorm, 'MinMaxNorm': MinMaxNorm}


def serialize(constraint):
    from .saving.serialization_lib import serialize_keras_object
    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    from .saving.serialization_lib import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects, module_objects=_BY_NAME,
                                    printable_module_name='constraint')


def get(identifier):
    """A constraint from None, a name ('max_norm'), a config dict, an instance or a callable."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f'Unknown constraint {identifier!r}; known names: {sorted(_BY_NAME)}.')
        return _BY_NAME[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f'Could not interpret constraint {identifier!r}: pass a name such as "max_norm", a '
                     'Constraint, or a callable w -> projected w.')
