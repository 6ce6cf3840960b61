"""Activation layers: ``Activation`` (any function of ``minidl.activations`` by name or as a
callable), ``ReLU``, ``LeakyReLU``, ``ELU``, ``PReLU`` (a learned slope) and ``Softmax`` (with
Keras' mask). Each is Keras 3's layer: same arguments, defaults, weights and ``get_config`` keys.
The functions themselves, and their derivatives, are in ``minidl.activations`` and
``minidl/functional/activation.py``.
"""
from .. import activations
from .. import constraints as constraints_module
from .. import functional as F
from .. import initializers as initializers_module
from .. import regularizers as regularizers_module
from ..autograd import Tensor
from ..backend import get_array_module
from ..saving.serialization_lib import serialize_keras_object
from .base import InputSpec, Layer, format_shape


class _Elementwise(Layer):
    """An activation layer: no weights (built from the start, as Keras' are), output shape = input
    shape, masks pass through."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask


class Activation(_Elementwise):
    """Applies ``activation``: a name from ``minidl.activations`` ('relu', 'gelu', ...) or a callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), 'activation': activations.serialize(self.activation)}


def _non_negative(layer, name, value):
    if value is None or value < 0:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {name} must be a number >= 0, "
                         f'got {value!r}.')
    return value


class ReLU(_Elementwise):
    """f(x) = max_value for x >= max_value, x for threshold <= x < max_value,
    negative_slope * (x - threshold) otherwise (``max_value=None``: no cap)."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None:
            _non_negative(self, 'max_value', max_value)
        self.max_value = max_value
        self.negative_slope = _non_negative(self, 'negative_slope', negative_slope)
        self.threshold = _non_negative(self, 'threshold', threshold)

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), 'max_value': self.max_value, 'negative_slope': self.negative_slope,
                'threshold': self.threshold}


class LeakyReLU(_Elementwise):
    """f(x) = x for x >= 0, negative_slope * x otherwise. The layer's default slope is 0.3 (the
    function ``minidl.activations.leaky_relu``'s is 0.2, as in Keras); Keras 2's ``alpha=`` is
    accepted for ``negative_slope``."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if 'alpha' in kwargs:
            alpha = kwargs.pop('alpha')
            negative_slope = 0.3 if alpha is None else alpha
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(self, 'negative_slope', negative_slope)

    @property
    def alpha(self):
        """Keras 2's name of ``negative_slope``."""
        return self.negative_slope

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), 'negative_slope': self.negative_slope}


class ELU(_Elementwise):
    """f(x) = x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), 'alpha': self.alpha}


def _large_negative(dtype):
    """The value masked logits take before a softmax (Keras': -1e9, or -3e4 in float16)."""
    return -3e4 if str(dtype) == 'float16' else -1e9


class Softmax(_Elementwise):
    """exp(x) / sum(exp(x)) along ``axis`` (an int or a list of ints).

    ``mask`` (broadcastable to the input, aligned at the last axis): positions where it is False
    (or <= 0.5) get a large negative logit before the softmax and 0 after it, so they take no
    probability, even when a whole row is masked."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        x = inputs
        if mask is not None:
            mask = self._boolean_mask(mask, x)
            x = F.where(mask, x, _large_negative(x.dtype))
        axis = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        y = F.softmax(x, axis)
        if mask is not None:
            y = F.where(mask, y, 0.0)
        return y

    def _boolean_mask(self, mask, x):
        m = mask.data if isinstance(mask, Tensor) else mask
        xp = get_array_module(x.data)
        m = xp.asarray(m)
        bad = m.ndim > x.ndim or any(a != 1 and a != b for a, b in zip(m.shape[::-1], x.shape[::-1]))
        if bad:
            raise ValueError(f"Layer '{self.name}' (Softmax): the mask must broadcast to the inputs (each of its "
                             f'trailing dimensions 1 or equal to the input\'s, no more dimensions than the input); '
                             f'got mask shape {tuple(m.shape)} for inputs of shape {tuple(x.shape)}.')
        return m if m.dtype == bool else m > 0.5

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis}


class PReLU(Layer):
    """f(x) = x for x >= 0, alpha * x otherwise, with ``alpha`` a learned weight shaped like one
    sample (``input_shape[1:]``), of size 1 along ``shared_axes`` (e.g. ``[1, 2]`` shares one slope
    per channel across an image)."""

    def __init__(self, alpha_initializer='Zeros', alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers_module.get(alpha_initializer)
        self.alpha_regularizer = regularizers_module.get(alpha_regularizer)
        self.alpha_constraint = constraints_module.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]

    def build(self, input_shape):
        rank = len(input_shape)
        shared = set(self.shared_axes or ())
        if any(a < 1 or a >= rank for a in shared):
            raise ValueError(f"Layer '{self.name}' (PReLU): shared_axes {self.shared_axes} must name axes 1 to "
                             f'{rank - 1} of the input of shape {format_shape(input_shape)} (axis 0 is the batch).')
        shape = [1 if i in shared else input_shape[i] for i in range(1, rank)]
        if any(d is None for d in shape):
            raise ValueError(f"Layer '{self.name}' (PReLU) needs every non-shared axis known to shape its alpha, got "
                             f'input shape {format_shape(input_shape)}; share the unknown axes with shared_axes=... '
                             'or give the input a full shape.')
        self.alpha = self.add_weight(shape=tuple(shape), name='alpha', initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self.input_spec = InputSpec(ndim=rank, axes={i: input_shape[i] for i in range(1, rank) if i not in shared})

    def call(self, inputs):
        return F.relu(inputs) - self.alpha * F.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(),
                'alpha_initializer': serialize_keras_object(self.alpha_initializer),
                'alpha_regularizer': serialize_keras_object(self.alpha_regularizer),
                'alpha_constraint': serialize_keras_object(self.alpha_constraint),
                'shared_axes': self.shared_axes}
