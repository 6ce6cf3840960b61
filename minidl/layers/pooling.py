"""Pooling (max, average, global), up-sampling and zero-padding layers (Resizing is a preprocessing layer)."""
from .. import functional as F
from ..functional import pool
from .base import Layer, InputSpec, format_shape
from .conv import normalize_padding, output_length
from .options import channels_last, int_tuple


class _Pooling(Layer):
    rank = None
    op = None
    layout = None

    def __init__(self, pool_size=2, strides=None, padding='valid', data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = int_tuple(self, 'pool_size', pool_size, self.rank)
        self.strides = self.pool_size if strides is None else int_tuple(self, 'strides', strides, self.rank)
        self.padding = normalize_padding(padding, self.name)
        self.data_format = channels_last(self, data_format)

    def get_config(self):
        return {**super().get_config(), 'pool_size': list(self.pool_size), 'padding': self.padding,
                'strides': list(self.strides), 'data_format': self.data_format}

    def build(self, input_shape):
        _check_rank(self, input_shape)
        out = self.compute_output_shape(input_shape)
        if any(d is not None and d <= 0 for d in out[1:-1]):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): pool {self.pool_size} with padding "
                             f"'{self.padding}' does not fit input shape {format_shape(input_shape)} (the pool is "
                             "larger than the input). Use a smaller pool_size or padding='same'.")
        self.input_spec = InputSpec(ndim=self.rank + 2, describe=f' {self.layout}')

    def call(self, inputs, training=False):
        return type(self).op(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        spatial = tuple(output_length(n, k, s, self.padding)
                        for n, k, s in zip(input_shape[1:-1], self.pool_size, self.strides))
        return (input_shape[0],) + spatial + (input_shape[-1],)


def _check_rank(layer, input_shape):
    if len(input_shape) != layer.rank + 2:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) expects a {layer.rank + 2}-D input "
                         f'{layer.layout}, but got input shape {format_shape(input_shape)}.')


_LAYOUT = {1: '(batch, steps, channels)', 2: '(batch, height, width, channels)'}


class MaxPooling2D(_Pooling):
    rank, op, layout = 2, staticmethod(pool.max_pool2d), _LAYOUT[2]


class AveragePooling2D(_Pooling):
    rank, op, layout = 2, staticmethod(pool.avg_pool2d), _LAYOUT[2]


class MaxPooling1D(_Pooling):
    rank, op, layout = 1, staticmethod(pool.max_pool1d), _LAYOUT[1]


class AveragePooling1D(_Pooling):
    rank, op, layout = 1, staticmethod(pool.avg_pool1d), _LAYOUT[1]


class _GlobalPooling(Layer):
    """(N, *spatial, C) -> (N, C), or (N, 1, ..., 1, C) with ``keepdims``."""
    rank, op, layout = None, None, None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last(self, data_format)
        self.keepdims = bool(keepdims)

    def build(self, input_shape):
        _check_rank(self, input_shape)
        self.input_spec = InputSpec(ndim=self.rank + 2, describe=f' {self.layout}')

    def call(self, inputs, training=False):
        y = type(self).op(inputs)
        if self.keepdims:
            y = F.reshape(y, (y.shape[0],) + (1,) * self.rank + (y.shape[-1],))
        return y

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format, 'keepdims': self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling):
    rank, op, layout = 2, staticmethod(pool.global_avg_pool2d), _LAYOUT[2]


class GlobalMaxPooling2D(_GlobalPooling):
    rank, op, layout = 2, staticmethod(pool.global_max_pool2d), _LAYOUT[2]


class GlobalAveragePooling1D(_GlobalPooling):
    rank, op, layout = 1, staticmethod(pool.global_avg_pool1d), _LAYOUT[1]


class GlobalMaxPooling1D(_GlobalPooling):
    rank, op, layout = 1, staticmethod(pool.global_max_pool1d), _LAYOUT[1]


class UpSampling2D(Layer):
    """Nearest-neighbour up-sampling: (N, H, W, C) -> (N, H*sh, W*sw, C)."""
    rank, layout = 2, _LAYOUT[2]

    def __init__(self, size=(2, 2), data_format=None, interpolation='nearest', **kwargs):
        super().__init__(**kwargs)
        self.size = int_tuple(self, 'size', size, 2)
        self.data_format = channels_last(self, data_format)
        if interpolation != 'nearest':
            raise ValueError(f"Layer '{self.name}' (UpSampling2D): interpolation={interpolation!r} is not "
                             "supported yet; use 'nearest'.")
        self.interpolation = interpolation

    def get_config(self):
        return {**super().get_config(), 'size': list(self.size), 'data_format': self.data_format,
                'interpolation': self.interpolation}

    def build(self, input_shape):
        _check_rank(self, input_shape)
        self.input_spec = InputSpec(ndim=4, describe=f' {self.layout}')

    def call(self, inputs, training=False):
        return pool.upsample2d(inputs, self.size)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.size[0], None if w is None else w * self.size[1], c)


class ZeroPadding2D(Layer):
    """Zeros around the image: (N, H, W, C) -> (N, top + H + bottom, left + W + right, C).
    ``padding``: an int, (symmetric_height, symmetric_width) or ((top, bottom), (left, right))."""
    rank, layout = 2, _LAYOUT[2]

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last(self, data_format)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        padding = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
        if len(padding) != 2 or any(len(p) != 2 or min(p) < 0 for p in padding):
            raise ValueError(f"Layer '{self.name}' (ZeroPadding2D): padding must be an int, a pair, or "
                             f'((top, bottom), (left, right)) of non-negative ints, got {padding!r}.')
        self.padding = padding

    def get_config(self):
        return {**super().get_config(), 'padding': [list(p) for p in self.padding], 'data_format': self.data_format}

    def build(self, input_shape):
        _check_rank(self, input_shape)
        self.input_spec = InputSpec(ndim=4, describe=f' {self.layout}')

    def call(self, inputs, training=False):
        return F.pad(inputs, ((0, 0),) + self.padding + ((0, 0),))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (top, bottom), (left, right) = self.padding
        return (n, None if h is None else h + top + bottom, None if w is None else w + left + right, c)


MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
