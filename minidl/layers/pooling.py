"""Pooling (max, average, global), up-sampling and zero-padding layers (Resizing is a preprocessing layer)."""
from .. import functional as F
from ..functional import pool
from .base import Layer, InputSpec, format_shape
from .conv import normalize_padding, normalize_tuple, output_length


class _Pooling(Layer):
    rank = None
    op = None
    layout = None

    def __init__(self, pool_size=2, strides=None, padding='valid', **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, self.rank, 'pool_size', self.name)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, self.rank, 'strides', self.name)
        self.padding = normalize_padding(padding, self.name)

    def build(self, input_shape):
        _check_rank(self, input_shape)
        out = self.compute_output_shape(input_shape)
        if any(d is not None and d <= 0 for d in out[1:-1]):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): pool {self.pool_size} with padding "
                             f"'{self.padding}' does not fit input shape {format_shape(input_shape)}.")
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
    """(N, *spatial, C) -> (N, C)."""
    rank, op, layout = None, None, None

    def build(self, input_shape):
        _check_rank(self, input_shape)
        self.input_spec = InputSpec(ndim=self.rank + 2, describe=f' {self.layout}')

    def call(self, inputs, training=False):
        return type(self).op(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


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

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 2, 'size', self.name)

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

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        padding = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
        if len(padding) != 2 or any(len(p) != 2 or min(p) < 0 for p in padding):
            raise ValueError(f"Layer '{self.name}' (ZeroPadding2D): padding must be an int, a pair, or "
                             f'((top, bottom), (left, right)) of non-negative ints, got {padding!r}.')
        self.padding = padding

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
