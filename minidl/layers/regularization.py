"""Dropout: random zeroing during training only."""
from ..functional.norm import dropout
from .base import Layer


class Dropout(Layer):
    """In training, zero each input with probability ``rate`` and scale the rest by 1/(1-rate);
    identity at inference. Randomness comes from minidl's generator (``minidl.seed``); ``seed``
    is accepted for Keras compatibility."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) < 1:
            raise ValueError(f"Layer '{self.name}' (Dropout): rate must be in [0, 1), got {rate}.")
        if noise_shape is not None:
            raise ValueError(f"Layer '{self.name}' (Dropout): noise_shape is not supported; use the default None.")
        self.rate, self.seed = float(rate), seed

    def call(self, inputs, training=False):
        return dropout(inputs, self.rate, training)

    def compute_output_shape(self, input_shape):
        return input_shape
