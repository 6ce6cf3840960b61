"""Pooling (max, average, global) in 1, 2 and 3 dimensions, up-sampling, zero-padding and cropping
layers (Resizing is a preprocessing layer). Signatures, defaults and ``get_config`` keys are
Keras 3's; the ops are ``functional/pool.py``'s, the output sizes ``functional/geometry.py``'s."""
import numpy as np

from .. import backend, functional as F
from ..autograd import Tensor
from ..functional import pool
from .base import Layer, InputSpec, format_shape
from .conv import LAYOUTS as _LAYOUT, normalize_padding, output_length
from .options import channels_last, int_tuple


def _check_rank(layer, input_shape):
    if len(input_shape) != layer.rank + 2:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) expects a {layer.rank + 2}-D input "
                         f'{layer.layout}, but got input shape {format_shape(input_shape)}.')


class _Pooling(Layer):
    rank = None
    op = None

    def __init__(self, pool_size=2, strides=None, padding='valid', data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = int_tuple(self, 'pool_size', pool_size, self.rank)
        self.strides = self.pool_size if strides is None else int_tuple(self, 'strides', strides, self.rank)
        self.padding = normalize_padding(padding, self.name)
        self.data_format = channels_last(self, data_format)

    @property
    def layout(self):
        return _LAYOUT[self.rank]

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

    def call(self, inputs):
        return type(self).op(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        spatial = tuple(output_length(n, k, s, self.padding)
                        for n, k, s in zip(input_shape[1:-1], self.pool_size, self.strides))
        return (input_shape[0],) + spatial + (input_shape[-1],)


class MaxPooling1D(_Pooling):
    rank, op = 1, staticmethod(pool.max_pool1d)

    def __init__(self, pool_size=2, strides=None, padding='valid', data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling2D(_Pooling):
    rank, op = 2, staticmethod(pool.max_pool2d)

    def __init__(self, pool_size=(2, 2), strides=None, padding='valid', data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling3D(_Pooling):
    """Max over (pd, ph, pw) windows of (N, D, H, W, C) volumes."""
    rank, op = 3, staticmethod(pool.max_pool3d)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding='valid', data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling1D(_Pooling):
    rank, op = 1, staticmethod(pool.avg_pool1d)

    def __init__(self, pool_size, strides=None, padding='valid', data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling2D(_Pooling):
    rank, op = 2, staticmethod(pool.avg_pool2d)

    def __init__(self, pool_size, strides=None, padding='valid', data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling3D(_Pooling):
    """Mean over (pd, ph, pw) windows of (N, D, H, W, C) volumes ('same': of the real inputs only)."""
    rank, op = 3, staticmethod(pool.avg_pool3d)

    def __init__(self, pool_size, strides=None, padding='valid', data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class _GlobalPooling(Layer):
    """(N, *spatial, C) -> (N, C), or (N, 1, ..., 1, C) with ``keepdims``."""
    rank, op = None, None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last(self, data_format)
        self.keepdims = bool(keepdims)

    @property
    def layout(self):
        return _LAYOUT[self.rank]

    def build(self, input_shape):
        _check_rank(self, input_shape)
        self.input_spec = InputSpec(ndim=self.rank + 2, describe=f' {self.layout}')

    def call(self, inputs):
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


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the steps; with a mask (from ``Embedding(mask_zero=True)``, ``Masking``) the
    mean over the unmasked steps only, sum(x * m) / sum(m), as Keras. The mask stops here."""
    rank, op = 1, staticmethod(pool.global_avg_pool1d)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        keep = (mask.data if isinstance(mask, Tensor) else backend.as_array(mask)).astype(bool)[:, :, None]
        total = F.sum(F.where(keep, inputs, 0.0), axis=1, keepdims=self.keepdims)        # masked steps add 0
        count = Tensor(keep.sum(axis=1, keepdims=self.keepdims).astype(inputs.dtype))
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    rank, op = 2, staticmethod(pool.global_avg_pool2d)


class GlobalAveragePooling3D(_GlobalPooling):
    rank, op = 3, staticmethod(pool.global_avg_pool3d)


class GlobalMaxPooling1D(_GlobalPooling):
    rank, op = 1, staticmethod(pool.global_max_pool1d)


class GlobalMaxPooling2D(_GlobalPooling):
    rank, op = 2, staticmethod(pool.global_max_pool2d)


class GlobalMaxPooling3D(_GlobalPooling):
    rank, op = 3, staticmethod(pool.global_max_pool3d)


# --- up-sampling --------------------------------------------------------------------------------------
class _UpSampling(Layer):
    rank = None

    @property
    def layout(self):
        return _LAYOUT[self.rank]

    def build(self, input_shape):
        _check_rank(self, input_shape)
        self.input_spec = InputSpec(ndim=self.rank + 2, describe=f' {self.layout}')

    def compute_output_shape(self, input_shape):
        spatial = tuple(None if n is None else n * r for n, r in zip(input_shape[1:-1], self.size))
        return (input_shape[0],) + spatial + (input_shape[-1],)


class UpSampling1D(_UpSampling):
    """Every step repeated ``size`` times: (N, W, C) -> (N, W * size, C)."""
    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"Layer '{self.name}' (UpSampling1D): size must be a positive int, got {size!r}.")
        self.size = (int(size),)

    def call(self, inputs):
        return pool.upsample1d(inputs, self.size)

    def get_config(self):
        return {**super().get_config(), 'size': self.size[0]}


class UpSampling2D(_UpSampling):
    """(N, H, W, C) -> (N, H * sh, W * sw, C): 'nearest' repeats every pixel, 'bilinear' resizes
    with half-pixel centres (Keras' ``ops.image.resize``)."""
    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation='nearest', **kwargs):
        super().__init__(**kwargs)
        self.size = int_tuple(self, 'size', size, 2)
        self.data_format = channels_last(self, data_format)
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in ('nearest', 'bilinear'):
            raise ValueError(f"Layer '{self.name}' (UpSampling2D): interpolation must be 'nearest' or 'bilinear', "
                             f'got {interpolation!r}.')

    def call(self, inputs):
        return pool.upsample2d(inputs, self.size, self.interpolation)

    def get_config(self):
        return {**super().get_config(), 'size': list(self.size), 'data_format': self.data_format,
                'interpolation': self.interpolation}


class UpSampling3D(_UpSampling):
    """Every voxel repeated: (N, D, H, W, C) -> (N, D * sd, H * sh, W * sw, C)."""
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = int_tuple(self, 'size', size, 3)
        self.data_format = channels_last(self, data_format)

    def call(self, inputs):
        return pool.upsample3d(inputs, self.size)

    def get_config(self):
        return {**super().get_config(), 'size': list(self.size), 'data_format': self.data_format}


# --- zero-padding and cropping ------------------------------------------------------------------------
def _side_amounts(layer, value, rank, what):
    """Keras' forms of a padding or cropping: an int (every side), ``rank`` ints (symmetric per
    axis) or ``rank`` pairs ((before, after) per axis); for 1-D an int or one pair. Returns one
    (before, after) pair of non-negative ints per spatial axis."""
    def pair(v):
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return (int(v), int(v))
        try:
            values = tuple(v)
        except TypeError:
            return None
        if len(values) == 2 and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in values):
            return tuple(int(a) for a in values)
        return None

    if rank == 1:
        sides = (pair(value),)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        sides = (pair(value),) * rank
    else:
        try:
            sides = tuple(pair(v) for v in value)
        except TypeError:
            sides = ()
        if len(sides) != rank:
            sides = (None,)
    if any(p is None or min(p) < 0 for p in sides):
        forms = ('an int or a pair (before, after)' if rank == 1 else
                 f'an int, {rank} ints (one per axis) or {rank} pairs ((before, after) per axis)')
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {what} must be {forms} of non-negative "
                         f'ints, got {value!r}.')
    return sides


class _ZeroPadding(Layer):
    """Zeros before and after each spatial axis: (N, *n, C) -> (N, *(before + n + after), C)."""
    rank = None

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last(self, data_format)
        self.padding = _side_amounts(self, padding, self.rank, 'padding')

    @property
    def layout(self):
        return _LAYOUT[self.rank]

    def build(self, input_shape):
        _check_rank(self, input_shape)
        self.input_spec = InputSpec(ndim=self.rank + 2, describe=f' {self.layout}')

    def call(self, inputs):
        return F.pad(inputs, ((0, 0),) + self.padding + ((0, 0),))

    def compute_output_shape(self, input_shape):
        spatial = tuple(None if n is None else n + sum(p) for n, p in zip(input_shape[1:-1], self.padding))
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def get_config(self):
        padding = list(self.padding[0]) if self.rank == 1 else [list(p) for p in self.padding]
        return {**super().get_config(), 'padding': padding, 'data_format': self.data_format}


class ZeroPadding1D(_ZeroPadding):
    """``padding``: an int or (before, after) zeros around the steps."""
    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Zeros around the image: (N, H, W, C) -> (N, top + H + bottom, left + W + right, C).
    ``padding``: an int, (symmetric_height, symmetric_width) or ((top, bottom), (left, right))."""
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """``padding``: an int, 3 ints or 3 pairs ((before, after) for depth, height, width)."""
    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(Layer):
    """Positions removed before and after each spatial axis: (N, *n, C) -> (N, *(n - before -
    after), C). The gradient is zero-padded back (``getitem``'s backward)."""
    rank = None

    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last(self, data_format)
        self.cropping = _side_amounts(self, cropping, self.rank, 'cropping')

    @property
    def layout(self):
        return _LAYOUT[self.rank]

    def build(self, input_shape):
        _check_rank(self, input_shape)
        self.compute_output_shape(input_shape)
        self.input_spec = InputSpec(ndim=self.rank + 2, describe=f' {self.layout}')

    def call(self, inputs):
        self.compute_output_shape(tuple(inputs.shape))
        key = (slice(None),) + tuple(slice(before, n - after) for n, (before, after)
                                     in zip(inputs.shape[1:-1], self.cropping)) + (slice(None),)
        return F.getitem(inputs, key)

    def compute_output_shape(self, input_shape):
        spatial = tuple(None if n is None else n - sum(c) for n, c in zip(input_shape[1:-1], self.cropping))
        if any(n is not None and n <= 0 for n in spatial):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): cropping {self.cropping} removes every "
                             f'position of input shape {format_shape(input_shape)}; crop less than each spatial size.')
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def get_config(self):
        cropping = list(self.cropping[0]) if self.rank == 1 else [list(c) for c in self.cropping]
        config = {**super().get_config(), 'cropping': cropping}
        if self.rank > 1:
            config['data_format'] = self.data_format
        return config


class Cropping1D(_Cropping):
    """``cropping``: an int or (before, after) steps removed."""
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, None, **kwargs)


class Cropping2D(_Cropping):
    """``cropping``: an int, (symmetric_height, symmetric_width) or ((top, bottom), (left, right))."""
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """``cropping``: an int, 3 ints or 3 pairs ((before, after) for depth, height, width)."""
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = GlobalAveragePooling1D, GlobalAveragePooling2D, \
    GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
