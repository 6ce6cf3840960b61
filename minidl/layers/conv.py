"""Conv1D and Conv2D layers (channels-last, Keras kernel layout)."""
from .. import constraints, initializers, regularizers
from ..functional import geometry
from ..functional.conv import conv1d, conv2d
from . import activations
from .base import Layer, InputSpec, format_shape
from .options import channels_last, int_tuple, positive_int, reject_unsupported, serialized


def normalize_padding(padding, layer_name, allowed=('valid', 'same')):
    return geometry.normalize_padding(padding, f"Layer '{layer_name}'", allowed)


output_length = geometry.output_length  # Keras' rule, written once in functional/geometry.py


class _Conv(Layer):
    rank = None
    layout = None

    def __init__(self, filters, kernel_size, strides=1, padding='valid', data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer='glorot_uniform', bias_initializer='zeros',
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = positive_int(self, 'filters', filters)
        self.kernel_size = int_tuple(self, 'kernel_size', kernel_size, self.rank)
        self.strides = int_tuple(self, 'strides', strides, self.rank)
        self.padding = normalize_padding(padding, self.name)
        self.data_format = channels_last(self, data_format)
        self.dilation_rate = int_tuple(self, 'dilation_rate', dilation_rate, self.rank)
        self.groups = positive_int(self, 'groups', groups)
        reject_unsupported(self, dilation_rate=self.dilation_rate, groups=self.groups)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        name = type(self).__name__
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Layer '{self.name}' ({name}) expects a {self.rank + 2}-D input {self.layout}, but got "
                             f'input shape {format_shape(input_shape)}. Reshape the data (e.g. add a channel axis).')
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}' ({name}) needs a known channel dimension, got input shape "
                             f'{format_shape(input_shape)}.')
        out = self.compute_output_shape(input_shape)
        if any(d is not None and d <= 0 for d in out[1:-1]):
            raise ValueError(f"Layer '{self.name}' ({name}): kernel {self.kernel_size} with padding '{self.padding}' "
                             f'does not fit input shape {format_shape(input_shape)} (output would be '
                             f"{format_shape(out)}). Use padding='same' or a smaller kernel.")
        self.kernel = self.add_weight(shape=self.kernel_size + (channels, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name='kernel')
        self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                    name='bias') if self.use_bias else None
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels}, describe=f' {self.layout}')

    def compute_output_shape(self, input_shape):
        spatial = tuple(output_length(n, k, s, self.padding)
                        for n, k, s in zip(input_shape[1:-1], self.kernel_size, self.strides))
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        return {**super().get_config(), 'filters': self.filters, 'kernel_size': list(self.kernel_size),
                'strides': list(self.strides), 'padding': self.padding, 'data_format': self.data_format,
                'dilation_rate': list(self.dilation_rate), 'groups': self.groups,
                'activation': activations.serialize(self.activation), 'use_bias': self.use_bias,
                **serialized(self, 'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer',
                             'activity_regularizer', 'kernel_constraint', 'bias_constraint')}


class Conv2D(_Conv):
    """2-D convolution: (N, H, W, C) -> (N, H', W', filters), kernel (kh, kw, C, filters)."""
    rank = 2
    layout = '(batch, height, width, channels)'

    def call(self, inputs, training=False):
        return self.activation(conv2d(inputs, self.kernel, self.bias, self.strides, self.padding))


class Conv1D(_Conv):
    """1-D convolution: (N, W, C) -> (N, W', filters), kernel (k, C, filters)."""
    rank = 1
    layout = '(batch, steps, channels)'

    def call(self, inputs, training=False):
        return self.activation(conv1d(inputs, self.kernel, self.bias, self.strides, self.padding))


Convolution1D, Convolution2D = Conv1D, Conv2D
