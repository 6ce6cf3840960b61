"""Keras' ``keras.activations``: every activation function by its Keras name, and ``get``,
``serialize``, ``deserialize``.

Each function takes a Tensor (or an array) and returns a Tensor; the math and the derivative of
each are the reference ``Function``s in ``minidl/functional/activation.py``. Layers take any of
these by name (``Dense(64, activation='gelu')``) or as the function itself
(``activation=minidl.activations.gelu``); ``get`` resolves both, and ``None`` means ``linear``.

Defaults are Keras 3's. One of them differs from the ``LeakyReLU`` *layer*: the function
``leaky_relu`` uses ``negative_slope=0.2``, the layer 0.3, as in Keras.
"""
import types

from . import functional as F
from .saving.serialization_lib import deserialize_keras_object, in_safe_mode, serialize_keras_object
from .saving.object_registration import get_registered_name


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0) by default; ``x`` between ``threshold`` and ``max_value``, ``max_value`` above it,
    ``negative_slope * (x - threshold)`` below the threshold."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return F.relu(x)
    return F.general_relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, ``negative_slope * x`` otherwise (Keras 3's default slope is 0.2)."""
    return F.leaky_relu(x, negative_slope)


def relu6(x):
    """min(max(x, 0), 6)."""
    return F.relu6(x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``."""
    return F.softmax(x, axis)


def elu(x, alpha=1.0):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""
    return F.elu(x, alpha)


def selu(x):
    """scale * elu(x, alpha) with Klambauer et al.'s alpha = 1.67326324 and scale = 1.05070098."""
    return F.selu(x)


def softplus(x):
    """log(exp(x) + 1)."""
    return F.softplus(x)


def softsign(x):
    """x / (|x| + 1)."""
    return F.softsign(x)


def soft_shrink(x, threshold=0.5):
    """x - threshold above ``threshold``, x + threshold below ``-threshold``, 0 between."""
    return F.soft_shrink(x, threshold)


def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1."""
    return F.sparse_plus(x)


def silu(x):
    """Swish: x * sigmoid(x)."""
    return F.silu(x)


swish = silu  # Keras' alias: the same function (saved as 'silu')


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2."""
    return F.squareplus(x, b)


def gelu(x, approximate=False):
    """x * P(X <= x) for X ~ N(0, 1): exact with erf, or the tanh approximation."""
    return F.gelu(x, approximate)


def celu(x, alpha=1.0):
    """x for x >= 0, ``alpha * (exp(x / alpha) - 1)`` otherwise."""
    return F.celu(x, alpha)


def glu(x, axis=-1):
    """a * sigmoid(b), where a and b are the two halves of x along ``axis``."""
    return F.glu(x, axis)


def tanh(x):
    return F.tanh(x)


def tanh_shrink(x):
    """x - tanh(x)."""
    return F.tanh_shrink(x)


def hard_tanh(x):
    """clip(x, -1, 1)."""
    return F.hard_tanh(x)


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return F.hard_shrink(x, threshold)


def threshold(x, threshold, default_value):
    """x where x > threshold, else ``default_value``."""
    return F.threshold(x, threshold, default_value)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return F.sigmoid(x)


def exponential(x):
    """exp(x)."""
    return F.exp(x)


def hard_sigmoid(x):
    """clip(x / 6 + 1/2, 0, 1): 0 for x <= -3, 1 for x >= 3."""
    return F.hard_sigmoid(x)


def log_sigmoid(x):
    """log(1 / (1 + exp(-x)))."""
    return F.log_sigmoid(x)


def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1."""
    return F.sparse_sigmoid(x)


def hard_silu(x):
    """Hard swish: x * hard_sigmoid(x)."""
    return F.hard_silu(x)


hard_swish = hard_silu  # Keras' alias (saved as 'hard_silu')


def linear(x):
    """The identity: returns ``x`` unchanged."""
    return x


def mish(x):
    """x * tanh(softplus(x))."""
    return F.mish(x)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``."""
    return F.log_softmax(x, axis)


def sparsemax(x, axis=-1):
    """The projection of x onto the probability simplex along ``axis`` (sparse probabilities)."""
    return F.sparsemax(x, axis)


ALL_OBJECTS = (relu, leaky_relu, relu6, softmax, celu, elu, selu, softplus, softsign, squareplus, soft_shrink,
               sparse_plus, silu, gelu, glu, tanh, tanh_shrink, threshold, sigmoid, sparse_sigmoid, exponential,
               hard_sigmoid, hard_silu, hard_tanh, hard_shrink, linear, mish, log_softmax, log_sigmoid, sparsemax)
ALL_OBJECTS_DICT = {fn.__name__: fn for fn in ALL_OBJECTS}
ALL_OBJECTS_DICT['swish'] = silu
ALL_OBJECTS_DICT['hard_swish'] = hard_silu


def serialize(activation):
    """A minidl/Keras activation as its name ('relu'); one of your own as Keras' config dict
    (a registered function under its registered name, see ``register_keras_serializable``)."""
    config = serialize_keras_object(activation)
    if not isinstance(config, dict) or 'config' not in config:
        raise ValueError(f'Cannot serialize the activation {activation!r}: use a name from minidl.activations, '
                         'or decorate your function with @minidl.saving.register_keras_serializable().')
    if not isinstance(activation, types.FunctionType):
        return config                                  # an object with get_config
    if isinstance(config['config'], str):
        if ALL_OBJECTS_DICT.get(config['config']) is activation:
            return config['config']                    # a built-in: just its name
        config['config'] = get_registered_name(activation)
    return config                                      # a function of your own (or a lambda)


def deserialize(config, custom_objects=None):
    """The activation function that ``config`` (a name or a config dict) describes."""
    return deserialize_keras_object(config, module_objects=ALL_OBJECTS_DICT,
                                                      custom_objects=custom_objects,
                                                      printable_module_name='activation function')


def get(identifier):
    """An activation function from a name ('relu'), a config dict, a callable, or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        found = deserialize(identifier)
    elif isinstance(identifier, str):
        found = ALL_OBJECTS_DICT.get(identifier, ALL_OBJECTS_DICT.get(identifier.lower()))
        if found is None:
            raise ValueError(f'Unknown activation {identifier!r}. Known: {", ".join(sorted(ALL_OBJECTS_DICT))}; '
                             'or pass a callable.')
    else:
        found = identifier
    if callable(found):
        return found
    raise ValueError(f'Could not interpret the activation {identifier!r}: pass a name such as "relu", a config '
                     'dict, or a callable.')
