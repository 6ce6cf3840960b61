"""Input, Dense, Flatten, Reshape and the activation layers."""
import numpy as np

from .. import constraints, initializers, regularizers
from .. import functional as F
from . import activations
from .base import Layer, InputSpec, KerasTensor, Node, _Spec, format_shape, unique_name
from .options import channels_last, positive_int, reject_unsupported, serialized


class InputLayer(Layer):
    """The entry point of a graph: holds the batch shape and creates the symbolic input."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, input_shape=None, **kwargs):
        if kwargs.pop('batch_input_shape', None) is not None and batch_shape is None:
            batch_shape = kwargs.get('batch_input_shape')
        unknown = set(kwargs) - {'trainable'}
        if unknown:
            raise TypeError(f'InputLayer got unexpected keyword argument(s): {", ".join(sorted(unknown))}.')
        for flag, value in (('sparse', sparse), ('ragged', ragged)):
            if value:
                raise ValueError(f'InputLayer: {flag} tensors are not supported by minidl; pass dense arrays.')
        if input_tensor is not None:
            raise ValueError('InputLayer: input_tensor= is not supported; use the tensor itself as the input.')
        Layer.__init__(self, name=name or unique_name('input', zero_based=False), dtype=dtype)
        if batch_shape is None:
            shape = shape if shape is not None else input_shape
            if shape is None:
                raise ValueError('InputLayer needs a shape (without the batch dimension), '
                                 'e.g. InputLayer((28, 28, 1)).')
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.optional = bool(optional)
        self.built = True
        self._build_input_shape = self.batch_shape
        self._output_shape = [self.batch_shape]  # Keras 2 prints InputLayer shapes as a list
        Node(self, (), {}, _Spec((self.batch_shape, self._dtype)))

    @property
    def output(self):
        return self._inbound_nodes[0].outputs[0]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {'batch_shape': list(self.batch_shape), 'dtype': self.dtype, 'sparse': False, 'ragged': False,
                'name': self.name, 'optional': self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic input tensor of ``shape`` (without the batch dimension), as ``keras.Input``."""
    return InputLayer(shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                      batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name).output


class Dense(Layer):
    """y = activation(x @ kernel + bias), applied to the last axis of x."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = positive_int(self, 'units', units)
        reject_unsupported(self, lora_rank=lora_rank, quantization_config=quantization_config)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Layer '{self.name}' (Dense) needs inputs of at least 2 dimensions with a known last "
                             f'dimension, but got input shape {format_shape(input_shape)}.')
        n_in = input_shape[-1]
        self.kernel = self.add_weight(shape=(n_in, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name='kernel')
        self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                    name='bias') if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: n_in})

    def call(self, inputs, training=False):
        x = inputs
        if x.ndim > 2:
            lead = x.shape[:-1]
            y = F.matmul(F.reshape(x, (-1, x.shape[-1])), self.kernel)
            if self.bias is not None:
                y = y + self.bias
            y = F.reshape(y, lead + (self.units,))
        else:
            y = F.matmul(x, self.kernel)
            if self.bias is not None:
                y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), 'units': self.units, 'activation': activations.serialize(self.activation),
                'use_bias': self.use_bias, **serialized(self, 'kernel_initializer', 'bias_initializer',
                                                        'kernel_regularizer', 'bias_regularizer',
                                                        'kernel_constraint', 'bias_constraint'),
                'quantization_config': None}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last(self, data_format)

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format}

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"Layer '{self.name}' (Flatten) needs inputs with a batch and at least one more "
                             f'dimension, but got input shape {format_shape(input_shape)}.')
        if any(d is None for d in input_shape[1:]):
            raise ValueError(f"Layer '{self.name}' (Flatten) needs every non-batch dimension known, but got input "
                             f'shape {format_shape(input_shape)}.')

    def call(self, inputs, training=False):
        return F.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); one entry of target_shape may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(f"Layer '{self.name}' (Reshape): target_shape {self.target_shape} may hold positive "
                             'sizes and at most one -1.')

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        known = [d for d in input_shape[1:]]
        if any(d is None for d in known):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        size = int(np.prod(known))
        fixed = int(np.prod([d for d in self.target_shape if d != -1]))
        if -1 in self.target_shape:
            if size % fixed:
                raise self._mismatch(input_shape, size)
            target = tuple(size // fixed if d == -1 else d for d in self.target_shape)
        else:
            if size != fixed:
                raise self._mismatch(input_shape, size)
            target = self.target_shape
        return (input_shape[0],) + target

    def _mismatch(self, input_shape, size):
        return ValueError(f"Layer '{self.name}' (Reshape) cannot reshape input of shape {format_shape(input_shape)} "
                          f'({size} values per sample) to target shape {self.target_shape}.')

    def call(self, inputs, training=False):
        return F.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), 'target_shape': list(self.target_shape)}


class Activation(Layer):
    """Applies an activation given by name ('relu', 'softmax', ...) or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, training=False):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


class ReLU(Layer):
    """y = max(x, 0), or x * negative_slope below 0, capped at max_value when given."""

    def __init__(self, max_value=None, negative_slope=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"Layer '{self.name}' (ReLU): max_value must be >= 0, got {max_value}.")
        if negative_slope < 0:
            raise ValueError(f"Layer '{self.name}' (ReLU): negative_slope must be >= 0, got {negative_slope}.")
        self.max_value, self.negative_slope = max_value, float(negative_slope)

    def call(self, inputs, training=False):
        y = F.leaky_relu(inputs, self.negative_slope) if self.negative_slope else F.relu(inputs)
        if self.max_value is not None:
            y = F.minimum(y, self.max_value)
        return y

    def compute_output_shape(self, input_shape):
        return input_shape


class LeakyReLU(Layer):
    """y = x for x > 0, alpha x otherwise (Keras 2 ``alpha`` or Keras 3 ``negative_slope``)."""

    def __init__(self, alpha=None, negative_slope=None, **kwargs):
        super().__init__(**kwargs)
        if alpha is not None and negative_slope is not None and alpha != negative_slope:
            raise ValueError(f"Layer '{self.name}' (LeakyReLU): give alpha or negative_slope, not both.")
        slope = alpha if alpha is not None else negative_slope
        self.alpha = 0.3 if slope is None else float(slope)

    def call(self, inputs, training=False):
        return F.leaky_relu(inputs, self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape


class Softmax(Layer):
    """y = exp(x) / sum(exp(x)) along ``axis``."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, training=False):
        return F.softmax(inputs, self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape


__all__ = ['InputLayer', 'Input', 'Dense', 'Flatten', 'Reshape', 'Activation', 'ReLU', 'LeakyReLU', 'Softmax',
           'KerasTensor']
