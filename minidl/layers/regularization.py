"""Regularization layers: ``Dropout`` (with ``noise_shape`` and ``seed``), ``SpatialDropout1D/2D/3D``
(whole feature maps) and ``ActivityRegularization`` (an L1/L2 penalty on the activations).

Dropout is active only in training (``training=True``, as ``fit`` calls the model) and the
identity otherwise; all of them run ``F.dropout`` (``minidl/functional/norm.py``), whose mask
is drawn at ``noise_shape`` and broadcast over the axes where it is 1, so the gradient is
``gy * mask / (1 - rate)``. A seeded layer draws its masks from its own generator.
"""
from .. import regularizers as regularizers_module
from ..functional.norm import dropout
from ._random import LayerRandom
from .base import InputSpec, Layer


def check_rate(layer, rate, upper_inclusive=True):
    ok = rate is not None and (0 <= float(rate) <= 1 if upper_inclusive else 0 <= float(rate) < 1)
    if not ok:
        interval = '[0, 1]' if upper_inclusive else '[0, 1)'
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): rate must be a number in {interval}, "
                         f'got {rate!r}.')
    return rate


def concrete_noise_shape(layer, noise_shape, shape):
    """``noise_shape`` with each None replaced by the input's size on that axis."""
    if noise_shape is None:
        return tuple(shape)
    if len(noise_shape) != len(shape):
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): noise_shape {tuple(noise_shape)} must have "
                         f'one entry per input axis; the input has shape {tuple(shape)}.')
    out = tuple(n if d is None else d for d, n in zip(noise_shape, shape))
    for d, n in zip(out, shape):
        if d != 1 and d != n:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): noise_shape {tuple(noise_shape)} "
                             f'does not broadcast to the input of shape {tuple(shape)} (each entry must be 1, None '
                             "or the input's size).")
    return out


def drop(layer, x, noise_shape):
    """``F.dropout`` in training with the layer's rate, ``noise_shape`` and generator (rate 1: zeros)."""
    rate = float(layer.rate)
    if rate >= 1:
        return x * 0.0
    shape = concrete_noise_shape(layer, noise_shape, x.shape)
    seed = None if layer.seed is None else layer._random.host
    return dropout(x, rate, True, noise_shape=None if shape == tuple(x.shape) else shape, seed=seed)


class Dropout(Layer):
    """In training, zero each input with probability ``rate`` and scale the rest by 1/(1 - rate);
    identity at inference. ``noise_shape`` (one entry per input axis, None for the input's size)
    shares one draw along the axes where it is 1, e.g. (batch, 1, features) drops the same
    features at every time step. ``seed`` makes the masks repeatable; without it they come from
    minidl's generator (``minidl.seed``)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(self, rate)
        self.seed = seed
        self.noise_shape = self._validate_noise_shape(noise_shape)
        self._random = LayerRandom(seed)
        self.supports_masking = True
        self.built = True

    def _validate_noise_shape(self, noise_shape):
        if noise_shape is None:
            return None
        if isinstance(noise_shape, str):
            raise ValueError(f"Layer '{self.name}' (Dropout): noise_shape must be a tuple of ints or None, got "
                             f'{noise_shape!r}.')
        try:
            noise_shape = tuple(noise_shape)
        except TypeError:
            raise ValueError(f"Layer '{self.name}' (Dropout): noise_shape must be a tuple of ints or None, got "
                             f'{noise_shape!r}.') from None
        for i, d in enumerate(noise_shape):
            if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d <= 0):
                raise ValueError(f"Layer '{self.name}' (Dropout): noise_shape entries must be positive ints or None; "
                                 f'entry {i} is {d!r}.')
        return noise_shape

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return drop(self, inputs, self.noise_shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), 'rate': self.rate, 'seed': self.seed, 'noise_shape': self.noise_shape}


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one draw per sample and channel, shared over the spatial axes."""
    rank = None

    def __init__(self, rate, seed=None, name=None, dtype=None, data_format=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        if data_format is not None:
            data_format = str(data_format).lower()
            if data_format not in ('channels_last', 'channels_first'):
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): data_format must be 'channels_last' "
                                 f"or 'channels_first', got {data_format!r}.")
        self.data_format = data_format or 'channels_last'
        self.input_spec = InputSpec(ndim=self.rank + 2, describe=' (batch, spatial axes..., channels)')

    def _spatial_noise_shape(self, shape):
        if self.data_format == 'channels_first':
            return (shape[0], shape[1]) + (1,) * self.rank
        return (shape[0],) + (1,) * self.rank + (shape[-1],)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return drop(self, inputs, self._spatial_noise_shape(inputs.shape))

    def get_config(self):
        return {'rate': self.rate, 'seed': self.seed, 'name': self.name, 'dtype': self.dtype}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (batch, steps, channels) inputs: one draw per sample and channel."""
    rank = 1

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of (batch, height, width, channels) inputs (or channels first)."""
    rank = 2

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, data_format=data_format)

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format}


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature volumes of (batch, d1, d2, d3, channels) inputs (or channels first)."""
    rank = 3

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, data_format=data_format)

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format}


class ActivityRegularization(Layer):
    """Returns its inputs unchanged and adds ``(l1 * sum|x| + l2 * sum x^2) / batch_size`` to the
    model's losses: the layer's ``activity_regularizer`` (``Layer`` records it after each call, as
    Keras 3 does; ``fit`` adds it to the training loss)."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(activity_regularizer=regularizers_module.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = l1, l2
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = dict(super().get_config())
        config.pop('activity_regularizer', None)
        return {**config, 'l1': self.l1, 'l2': self.l2}
