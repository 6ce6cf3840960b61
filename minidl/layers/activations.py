"""Activation functions by Keras name, for the ``activation=`` argument of layers."""
from .. import functional as F


def _linear(x):
    return x


_BY_NAME = {
    'relu': F.relu,
    'sigmoid': F.sigmoid,
    'tanh': F.tanh,
    'softmax': F.softmax,
    'elu': F.elu,
    'softplus': F.softplus,
    'linear': _linear,
    'leaky_relu': F.leaky_relu,
    'log_softmax': F.log_softmax,
}


def get(identifier):
    """A function Tensor -> Tensor from a name ('relu'), None (linear) or a callable."""
    if identifier is None:
        return _linear
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f'Unknown activation {identifier!r}. Known: {", ".join(sorted(_BY_NAME))}, '
                             'or pass a callable.')
        return _BY_NAME[key]
    if isinstance(identifier, dict):
        from ..saving.serialization_lib import deserialize_keras_object
        return get(deserialize_keras_object(identifier, module_objects=_BY_NAME,
                                            printable_module_name='activation'))
    if callable(identifier):
        return identifier
    raise ValueError(f'Could not interpret activation {identifier!r}: pass a name or a callable.')


def name_of(fn):
    """The Keras name of an activation function (for repr and summaries)."""
    for key, value in _BY_NAME.items():
        if value is fn:
            return key
    return getattr(fn, '__name__', repr(fn))


def serialize(fn):
    """Keras' form of an activation in a config: the name of a built-in ('relu', 'linear'), else
    the registered function's config."""
    for key, value in _BY_NAME.items():
        if value is fn:
            return key
    from ..saving.serialization_lib import serialize_keras_object
    return serialize_keras_object(fn)
