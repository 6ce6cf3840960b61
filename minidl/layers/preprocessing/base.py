"""What every image preprocessing layer shares (Keras' ``BaseImagePreprocessingLayer``): batches
(N, H, W, C) or single images (H, W, C), ``data_format`` ('channels_last', the default, or
'channels_first'), integer images cast to float, Keras' ``factor`` rule, a seeded generator, and
``data_format`` in the config."""
import numpy as np

from ... import backend
from ... import functional as F
from ...autograd import Tensor
from .._random import LayerRandom
from ..base import Layer, format_shape


def standardize_data_format(layer, data_format):
    if data_format is None:
        return 'channels_last'
    value = str(data_format).lower()
    if value not in ('channels_last', 'channels_first'):
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): data_format must be 'channels_last' or "
                         f"'channels_first', got {data_format!r}.")
    return value


def as_float(x):
    """Integer images become floatx (a constant); float images keep their dtype (float64 gradient checks)."""
    if x.dtype.kind in 'fc':
        return x
    return Tensor(x.data.astype(backend.floatx))


class ImagePreprocessingLayer(Layer):
    """Subclasses implement ``_transform(x, training)`` on a channels-last float batch Tensor."""
    factor_bounds = None          # (low, high): the layer takes Keras' ``factor`` argument

    def __init__(self, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(self, data_format)
        self._random = LayerRandom(seed)
        self.built = True

    def _set_factor(self, factor, name='factor', bounds=None):
        """Keras' rule: a number f gives (max(-|f|, low), |f|); a pair gives itself, sorted."""
        low, high = bounds or self.factor_bounds
        message = (f"Layer '{self.name}' ({type(self).__name__}): {name} must be a number or a pair of numbers in "
                   f'[{low}, {high}], got {factor!r}.')
        if isinstance(factor, (list, tuple)):
            if len(factor) != 2 or factor[0] > high or factor[1] < low:
                raise ValueError(message)
            return tuple(sorted(factor))
        if isinstance(factor, (int, float, np.number)) and not isinstance(factor, bool):
            if factor < low or factor > high:
                raise ValueError(message)
            factor = abs(factor)
            return (max(-factor, low), factor)
        raise ValueError(message)

    def call(self, inputs, training=True):
        x = as_float(inputs)
        if x.ndim not in (3, 4):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects images (height, width, channels) "
                             f'or batches (batch, height, width, channels), got shape {format_shape(x.shape)}.')
        single = x.ndim == 3
        if single:
            x = F.expand_dims(x, 0)
        if self.data_format == 'channels_first':
            x = F.transpose(x, (0, 2, 3, 1))
        y = self._transform(x, bool(training))
        if self.data_format == 'channels_first':
            y = F.transpose(y, (0, 3, 1, 2))
        if single:
            y = F.squeeze(y, 0)
        return y

    def _transform(self, x, training):
        raise NotImplementedError

    def _spatial_axes(self, rank):
        """(height axis, width axis) of a shape of ``rank`` 3 or 4 in this layer's data format."""
        return (-2, -1) if self.data_format == 'channels_first' else (-3, -2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format}
