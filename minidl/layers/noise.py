"""Noise layers, active only in training (identity at inference): ``GaussianNoise`` (additive),
``GaussianDropout`` (multiplicative, mean 1) and ``AlphaDropout`` (dropout that keeps a SELU
network's mean and variance). The noise is a constant of the forward pass, so each gradient
is the noise's own factor: ``gy``, ``gy * noise`` and ``gy * a * mask``."""
import math

from .. import backend
from ..autograd import Tensor
from ._random import LayerRandom
from .base import Layer
from .regularization import check_rate, concrete_noise_shape


class _Noise(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._random = LayerRandom(seed)
        self.supports_masking = True
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask


class GaussianNoise(_Noise):
    """In training, x + N(0, stddev^2) noise, drawn anew at every call."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if stddev is None or not 0 <= float(stddev) <= 1:
            raise ValueError(f"Layer '{self.name}' (GaussianNoise): stddev must be a number in [0, 1], got {stddev!r}.")
        self.stddev = stddev

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        xp = backend.get_array_module(inputs.data)
        return inputs + Tensor(self._random.normal(inputs.shape, xp, inputs.dtype, 0.0, float(self.stddev)))

    def get_config(self):
        return {**super().get_config(), 'stddev': self.stddev, 'seed': self.seed}


class GaussianDropout(_Noise):
    """In training, x * N(1, rate / (1 - rate)) noise: multiplicative noise with the mean and
    variance of dropout's scaled mask."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate(self, rate, upper_inclusive=False)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        xp = backend.get_array_module(inputs.data)
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return inputs * Tensor(self._random.normal(inputs.shape, xp, inputs.dtype, 1.0, stddev))

    def get_config(self):
        return {**super().get_config(), 'rate': self.rate, 'seed': self.seed}


class AlphaDropout(_Noise):
    """In training, each input is set with probability ``rate`` to SELU's saturation value
    alpha' = -scale * alpha, then y = a x' + b with a = ((1 - rate) (1 + rate alpha'^2))^(-1/2) and
    b = -a alpha' rate, so that inputs of mean 0 and variance 1 keep them (Klambauer et al., 2017).
    ``noise_shape`` shares draws as in ``Dropout``."""
    ALPHA = 1.6732632423543772848170429916717
    SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate(self, rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        rate = float(self.rate)
        alpha_p = -self.ALPHA * self.SCALE
        a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * rate
        xp = backend.get_array_module(inputs.data)
        shape = concrete_noise_shape(self, self.noise_shape, inputs.shape)
        kept = (self._random.uniform(shape, xp, inputs.dtype) >= rate).astype(inputs.dtype)
        # y = a (x kept + alpha' (1 - kept)) + b: a product with a constant plus a constant.
        return inputs * Tensor(a * kept) + Tensor((a * alpha_p * (1 - kept) + b).astype(inputs.dtype))

    def get_config(self):
        return {**super().get_config(), 'rate': self.rate, 'seed': self.seed, 'noise_shape': self.noise_shape}
