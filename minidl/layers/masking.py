"""Masking (skip padded time steps) and RepeatVector (one vector -> a sequence of copies)."""
import numpy as np

from .. import functional as F
from .base import InputSpec, Layer, format_shape


class Masking(Layer):
    """Marks the time steps whose features all equal ``mask_value`` as padding.

    The output is the input with those steps set to 0, and it carries the mask
    (batch, timesteps) = any(x != mask_value, axis=-1), so the layers after it (LSTM, GRU,
    attention, losses and metrics) skip the padded steps.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, dict) and mask_value.get('config') is not None:
            from ..saving import deserialize_keras_object
            mask_value = deserialize_keras_object(mask_value)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def compute_mask(self, inputs, mask=None):
        data = inputs.data if hasattr(inputs, 'data') else inputs
        return (data != self.mask_value).any(axis=-1)

    def call(self, inputs):
        keep = (inputs.data != self.mask_value).any(axis=-1, keepdims=True)
        outputs = F.where(keep, inputs, inputs.dtype.type(0))
        outputs._keras_mask = keep[..., 0]
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), 'mask_value': self.mask_value}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated n times along a new time axis."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"Layer '{self.name}' (RepeatVector): n must be an integer, got {type(n).__name__} {n!r}.")
        if n <= 0:
            raise ValueError(f"Layer '{self.name}' (RepeatVector): n must be a positive integer, got {n}.")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2, describe=' (batch, features)')

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"Layer '{self.name}' (RepeatVector) expects (batch, features) inputs, got "
                             f'{format_shape(input_shape)}.')

    def call(self, inputs):
        x = F.reshape(inputs, (inputs.shape[0], 1, inputs.shape[1]))
        return F.broadcast_to(x, (inputs.shape[0], self.n, inputs.shape[1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), 'n': self.n}
