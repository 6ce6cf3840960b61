"""Argument checks and config helpers shared by the layers: one message for each kind of
invalid argument, and the serialized form of nested objects (initializers, regularizers,
constraints) in ``get_config``."""
import numpy as np

from ..functional import geometry


def positive_int(layer, what, value):
    """``value`` as an int >= 1, or a ValueError naming the layer and the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or int(value) != value or int(value) < 1:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {what} must be a positive integer, "
                         f'got {value!r}.')
    return int(value)


def int_tuple(layer, what, value, n):
    """An int or a sequence of ``n`` positive ints (kernel sizes, strides, pool sizes), as a tuple;
    the one check is ``functional/geometry.normalize_tuple``, the error names the layer."""
    return geometry.normalize_tuple(value, n, what, f"Layer '{layer.name}' ({type(layer).__name__})")


def channels_last(layer, data_format):
    """minidl is channels-last: None or 'channels_last' pass, 'channels_first' is refused clearly."""
    if data_format in (None, 'channels_last'):
        return 'channels_last'
    if data_format == 'channels_first':
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): data_format='channels_first' is not "
                         "supported; minidl is channels-last (N, ..., C). Transpose the data and use the default.")
    raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): data_format must be 'channels_last' or "
                     f"'channels_first', got {data_format!r}.")


def reject_unsupported(layer, **values):
    """Keras arguments minidl does not implement must stay at their neutral value."""
    for name, value in values.items():
        if value not in (None, False, 0, 1, (1,), (1, 1), (1, 1, 1)):
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {name}={value!r} is not supported "
                             'by minidl; leave it at its default.')


def serialized(layer, *attributes):
    """{name: serialized value} of nested config objects, in the order given."""
    from ..saving.serialization_lib import serialize_keras_object
    return {name: serialize_keras_object(getattr(layer, name)) for name in attributes}


def weight_options(layer, **weights):
    """For each weight name, ``(initializer, regularizer, constraint)`` as the user gave them:
    sets ``layer.<name>_initializer``, ``<name>_regularizer`` and ``<name>_constraint`` to the
    objects Keras' ``get`` functions make of them (names, configs, callables or None)."""
    from .. import constraints, initializers, regularizers
    for name, (initializer, regularizer, constraint) in weights.items():
        setattr(layer, f'{name}_initializer', initializers.get(initializer))
        setattr(layer, f'{name}_regularizer', regularizers.get(regularizer))
        setattr(layer, f'{name}_constraint', constraints.get(constraint))


def option_weight(layer, option, shape, name=None):
    """``layer.add_weight`` with the initializer, regularizer and constraint that
    ``weight_options`` set for ``option`` (the weight is named ``name``, or ``option``)."""
    return layer.add_weight(shape=shape, initializer=getattr(layer, f'{option}_initializer'),
                            regularizer=getattr(layer, f'{option}_regularizer'),
                            constraint=getattr(layer, f'{option}_constraint'), name=name or option)
