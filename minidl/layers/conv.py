"""Conv1D and Conv2D layers (channels-last, Keras kernel layout)."""
from ..functional.conv import conv1d, conv2d
from .. import activations
from .base import Layer, InputSpec, format_shape


def normalize_tuple(value, n, what, layer_name):
    """An int or a sequence of n positive ints, as an n-tuple."""
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if len(values) != n or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(f"Layer '{layer_name}': {what} must be a positive int or {n} positive ints, got {value!r}.")
    return values


def normalize_padding(padding, layer_name):
    padding = str(padding).lower()
    if padding not in ('valid', 'same'):
        raise ValueError(f"Layer '{layer_name}': padding must be 'valid' or 'same', got {padding!r}.")
    return padding


def output_length(size, window, stride, padding):
    """Keras' rule: 'same' -> ceil(size / stride); 'valid' -> floor((size - window) / stride) + 1."""
    if size is None:
        return None
    if padding == 'same':
        return -(-size // stride)
    return (size - window) // stride + 1


class _Conv(Layer):
    rank = None
    layout = None

    def __init__(self, filters, kernel_size, strides=1, padding='valid', activation=None, use_bias=True,
                 kernel_initializer='glorot_uniform', bias_initializer='zeros', kernel_regularizer=None,
                 bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if int(filters) <= 0:
            raise ValueError(f"Layer '{self.name}': filters must be positive, got {filters!r}.")
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, 'kernel_size', self.name)
        self.strides = normalize_tuple(strides, self.rank, 'strides', self.name)
        self.padding = normalize_padding(padding, self.name)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

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
                                      name='kernel')
        self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer, name='bias') \
            if self.use_bias else None
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels}, describe=f' {self.layout}')

    def compute_output_shape(self, input_shape):
        spatial = tuple(output_length(n, k, s, self.padding)
                        for n, k, s in zip(input_shape[1:-1], self.kernel_size, self.strides))
        return (input_shape[0],) + spatial + (self.filters,)


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
