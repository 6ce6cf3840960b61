"""Convolution layers (channels-last, Keras' kernel layouts): Conv1D/2D/3D with dilation and
groups, their transposes, depthwise and separable convolutions.

Every layer here is a thin shell over one op of ``functional/conv.py``; the window geometry
(output sizes, 'same'/'valid'/'causal', the transposed sizes with ``output_padding``) comes from
``functional/geometry.py``. The weights, their shapes and order, the constructor signatures and
the ``get_config`` keys are Keras 3's:

====================  ================================================  ===========================
layer                 weights                                           output channels
====================  ================================================  ===========================
ConvND                kernel (*k, C / groups, filters), bias (filters)  filters
ConvNDTranspose       kernel (*k, filters, C), bias (filters)           filters
DepthwiseConvND       kernel (*k, C, depth_multiplier), bias (C M)      C * depth_multiplier
SeparableConvND       depthwise_kernel (*k, C, M),                      filters
                      pointwise_kernel (1.., C M, filters), bias
====================  ================================================  ===========================
"""
from .. import activations
from ..functional import conv as conv_ops
from ..functional import geometry
from .base import InputSpec, Layer, format_shape
from .options import channels_last, int_tuple, option_weight, positive_int, serialized, weight_options


def normalize_padding(padding, layer_name, allowed=('valid', 'same')):
    return geometry.normalize_padding(padding, f"Layer '{layer_name}'", allowed)


output_length = geometry.output_length  # Keras' rule, written once in functional/geometry.py

LAYOUTS = {1: '(batch, steps, channels)', 2: '(batch, height, width, channels)',
           3: '(batch, depth, height, width, channels)'}
_CONV = {1: conv_ops.conv1d, 2: conv_ops.conv2d, 3: conv_ops.conv3d}
_TRANSPOSE = {1: conv_ops.conv_transpose1d, 2: conv_ops.conv_transpose2d, 3: conv_ops.conv_transpose3d}
_DEPTHWISE = {1: conv_ops.depthwise_conv1d, 2: conv_ops.depthwise_conv2d}
_SEPARABLE = {1: conv_ops.separable_conv1d, 2: conv_ops.separable_conv2d}


def _no_strided_dilation(layer):
    """Keras' rule for Conv and ConvTranspose layers."""
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): strides > 1 cannot be combined with "
                         f'dilation_rate > 1 (got strides={layer.strides}, dilation_rate={layer.dilation_rate}); '
                         'use one or the other.')


class _WindowLayer(Layer):
    """What every convolution layer shares: the window arguments, the rank check in ``build``
    and the 'does the window fit' check."""
    rank = None

    @property
    def layout(self):
        return LAYOUTS[self.rank]

    def _window_arguments(self, kernel_size, strides, padding, data_format, dilation_rate, allowed=('valid', 'same')):
        self.kernel_size = int_tuple(self, 'kernel_size', kernel_size, self.rank)
        self.strides = int_tuple(self, 'strides', strides, self.rank)
        self.padding = normalize_padding(padding, self.name, allowed)
        self.data_format = channels_last(self, data_format)
        self.dilation_rate = int_tuple(self, 'dilation_rate', dilation_rate, self.rank)

    def _input_channels(self, input_shape):
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
            raise ValueError(f"Layer '{self.name}' ({name}): kernel {self.kernel_size} (dilation "
                             f"{self.dilation_rate}) with padding '{self.padding}' does not fit input shape "
                             f'{format_shape(input_shape)} (output would be {format_shape(out)}). '
                             "Use padding='same' or a smaller kernel.")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels}, describe=f' {self.layout}')
        return channels

    def _spatial_output(self, input_shape):
        return geometry.output_shape(tuple(input_shape[1:-1]), self.kernel_size, self.strides, self.padding,
                                     self.dilation_rate)

    def _window_config(self):
        return {'kernel_size': list(self.kernel_size), 'strides': list(self.strides), 'padding': self.padding,
                'data_format': self.data_format, 'dilation_rate': list(self.dilation_rate)}


# --- Conv1D / Conv2D / Conv3D ---------------------------------------------------------------------
class _Conv(_WindowLayer):
    def __init__(self, filters, kernel_size, strides=1, padding='valid', data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer='glorot_uniform', bias_initializer='zeros',
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = positive_int(self, 'filters', filters)
        self._window_arguments(kernel_size, strides, padding, data_format, dilation_rate,
                               ('valid', 'same', 'causal') if self.rank == 1 else ('valid', 'same'))
        self.groups = positive_int(self, 'groups', groups)
        if self.filters % self.groups:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): filters ({self.filters}) must be a "
                             f'multiple of groups ({self.groups}).')
        _no_strided_dilation(self)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        weight_options(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                       bias=(bias_initializer, bias_regularizer, bias_constraint))

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): the input has {channels} channels "
                             f'(input shape {format_shape(input_shape)}), which groups={self.groups} does not divide; '
                             'use a number of groups that divides the channels.')
        self.kernel = option_weight(self, 'kernel', self.kernel_size + (channels // self.groups, self.filters))
        self.bias = option_weight(self, 'bias', (self.filters,)) if self.use_bias else None

    def call(self, inputs):
        y = _CONV[self.rank](inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate,
                             self.groups)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._spatial_output(input_shape) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), 'filters': self.filters, **self._window_config(), 'groups': self.groups,
                'activation': activations.serialize(self.activation), 'use_bias': self.use_bias,
                **serialized(self, 'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer',
                             'activity_regularizer', 'kernel_constraint', 'bias_constraint')}


class Conv1D(_Conv):
    """1-D convolution: (N, W, C) -> (N, W', filters), kernel (k, C / groups, filters);
    ``padding='causal'`` pads (k - 1) dilation zeros before, none after."""
    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding='valid', data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer='glorot_uniform', bias_initializer='zeros',
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2D(_Conv):
    """2-D convolution: (N, H, W, C) -> (N, H', W', filters), kernel (kh, kw, C / groups, filters)."""
    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding='valid', data_format=None, dilation_rate=(1, 1),
                 groups=1, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3D(_Conv):
    """3-D convolution: (N, D, H, W, C) -> (N, D', H', W', filters), kernel (kd, kh, kw, C / groups, filters)."""
    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding='valid', data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


# --- Conv1DTranspose / Conv2DTranspose / Conv3DTranspose ----------------------------------------------
class _ConvTranspose(_WindowLayer):
    def __init__(self, filters, kernel_size, strides=1, padding='valid', output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = positive_int(self, 'filters', filters)
        self._window_arguments(kernel_size, strides, padding, data_format, dilation_rate)
        self.output_padding = geometry.normalize_output_padding(output_padding, self.strides,
                                                                f"Layer '{self.name}' ({type(self).__name__})")
        _no_strided_dilation(self)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        weight_options(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                       bias=(bias_initializer, bias_regularizer, bias_constraint))

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = option_weight(self, 'kernel', self.kernel_size + (self.filters, channels))
        self.bias = option_weight(self, 'bias', (self.filters,)) if self.use_bias else None

    def call(self, inputs):
        y = _TRANSPOSE[self.rank](inputs, self.kernel, self.bias, self.strides, self.padding, self.output_padding,
                                  self.dilation_rate)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        extra = self.output_padding or (None,) * self.rank
        spatial = tuple(geometry.transposed_output_length(n, k, s, self.padding, e, d) for n, k, s, e, d
                        in zip(input_shape[1:-1], self.kernel_size, self.strides, extra, self.dilation_rate))
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        window = self._window_config()
        return {**super().get_config(), 'filters': self.filters, 'kernel_size': window['kernel_size'],
                'strides': window['strides'], 'padding': self.padding,
                'output_padding': None if self.output_padding is None else list(self.output_padding),
                'data_format': self.data_format, 'dilation_rate': window['dilation_rate'],
                'activation': activations.serialize(self.activation), 'use_bias': self.use_bias,
                **serialized(self, 'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer',
                             'activity_regularizer', 'kernel_constraint', 'bias_constraint')}


class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution (the adjoint of Conv1D): (N, W, C) -> (N, W', filters),
    kernel (k, filters, C); W' = W s for 'same', (W - 1) s + max(k, s) for 'valid'."""
    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding='valid', output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution (the adjoint of Conv2D, the decoder of autoencoders and U-Nets):
    (N, H, W, C) -> (N, H', W', filters), kernel (kh, kw, filters, C)."""
    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding='valid', output_padding=None, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class Conv3DTranspose(_ConvTranspose):
    """3-D transposed convolution: (N, D, H, W, C) -> (N, D', H', W', filters), kernel
    (kd, kh, kw, filters, C). Keras puts ``data_format`` before ``output_padding`` here."""
    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding='valid', data_format=None, output_padding=None,
                 dilation_rate=(1, 1, 1), activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


# --- DepthwiseConv1D / DepthwiseConv2D ----------------------------------------------------------------
class _DepthwiseConv(_WindowLayer):
    def __init__(self, kernel_size, strides=1, padding='valid', depth_multiplier=1, data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, depthwise_initializer='glorot_uniform', bias_initializer='zeros',
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._window_arguments(kernel_size, strides, padding, data_format, dilation_rate)
        self.depth_multiplier = positive_int(self, 'depth_multiplier', depth_multiplier)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        weight_options(self, depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                       bias=(bias_initializer, bias_regularizer, bias_constraint))

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = option_weight(self, 'depthwise', self.kernel_size + (channels, self.depth_multiplier),
                                    name='kernel')
        self.bias = option_weight(self, 'bias', (channels * self.depth_multiplier,)) if self.use_bias else None

    def call(self, inputs):
        y = _DEPTHWISE[self.rank](inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (input_shape[0],) + self._spatial_output(input_shape) + (
            None if channels is None else channels * self.depth_multiplier,)

    def get_config(self):
        return {**super().get_config(), 'depth_multiplier': self.depth_multiplier, **self._window_config(),
                'activation': activations.serialize(self.activation), 'use_bias': self.use_bias,
                **serialized(self, 'depthwise_initializer', 'bias_initializer', 'depthwise_regularizer',
                             'bias_regularizer', 'activity_regularizer', 'depthwise_constraint', 'bias_constraint')}


class DepthwiseConv1D(_DepthwiseConv):
    """Every channel convolved with its own ``depth_multiplier`` filters: (N, W, C) ->
    (N, W', C * depth_multiplier), kernel (k, C, depth_multiplier)."""
    rank = 1

    def __init__(self, kernel_size, strides=1, padding='valid', depth_multiplier=1, data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, depthwise_initializer='glorot_uniform', bias_initializer='zeros',
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class DepthwiseConv2D(_DepthwiseConv):
    """Every channel convolved with its own ``depth_multiplier`` filters (MobileNet's spatial
    step): (N, H, W, C) -> (N, H', W', C * depth_multiplier), kernel (kh, kw, C, depth_multiplier)."""
    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding='valid', depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer='glorot_uniform',
                 bias_initializer='zeros', depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


# --- SeparableConv1D / SeparableConv2D ----------------------------------------------------------------
class _SeparableConv(_WindowLayer):
    def __init__(self, filters, kernel_size, strides=1, padding='valid', data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer='glorot_uniform',
                 pointwise_initializer='glorot_uniform', bias_initializer='zeros', depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = positive_int(self, 'filters', filters)
        self._window_arguments(kernel_size, strides, padding, data_format, dilation_rate)
        self.depth_multiplier = positive_int(self, 'depth_multiplier', depth_multiplier)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        weight_options(self, depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                       pointwise=(pointwise_initializer, pointwise_regularizer, pointwise_constraint),
                       bias=(bias_initializer, bias_regularizer, bias_constraint))

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.depthwise_kernel = option_weight(self, 'depthwise', self.kernel_size + (channels, self.depth_multiplier),
                                              name='depthwise_kernel')
        self.pointwise_kernel = option_weight(self, 'pointwise',
                                              (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
                                              name='pointwise_kernel')
        self.bias = option_weight(self, 'bias', (self.filters,)) if self.use_bias else None

    def call(self, inputs):
        y = _SEPARABLE[self.rank](inputs, self.depthwise_kernel, self.pointwise_kernel, self.bias, self.strides,
                                  self.padding, self.dilation_rate)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._spatial_output(input_shape) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), 'depth_multiplier': self.depth_multiplier, 'filters': self.filters,
                **self._window_config(), 'activation': activations.serialize(self.activation),
                'use_bias': self.use_bias,
                **serialized(self, 'depthwise_initializer', 'pointwise_initializer', 'bias_initializer',
                             'depthwise_regularizer', 'pointwise_regularizer', 'bias_regularizer',
                             'activity_regularizer', 'depthwise_constraint', 'pointwise_constraint',
                             'bias_constraint')}


class SeparableConv1D(_SeparableConv):
    """A depthwise Conv1D (k, C, depth_multiplier) followed by a 1x1 Conv1D to ``filters``."""
    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding='valid', data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer='glorot_uniform',
                 pointwise_initializer='glorot_uniform', bias_initializer='zeros', depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class SeparableConv2D(_SeparableConv):
    """A depthwise Conv2D (kh, kw, C, depth_multiplier) followed by a 1x1 Conv2D to ``filters``
    (Xception's building block)."""
    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding='valid', data_format=None, dilation_rate=(1, 1),
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer='glorot_uniform',
                 pointwise_initializer='glorot_uniform', bias_initializer='zeros', depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = Conv1DTranspose, Conv2DTranspose, \
    Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
