"""``Rescaling`` (x * scale + offset) and ``Normalization`` ((x - mean) / sqrt(variance), with
``adapt`` to learn the statistics from data, or ``invert`` to undo it)."""
import itertools
import math

import numpy as np

from ... import backend
from ...autograd import Tensor
from ...saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from ..base import Layer, format_shape
from .base import as_float

EPSILON = 1e-7


class Rescaling(Layer):
    """y = x * scale + offset, e.g. ``Rescaling(1 / 255)`` maps pixels to [0, 1] and
    ``Rescaling(1 / 127.5, offset=-1)`` to [-1, 1]. ``scale`` and ``offset`` may be arrays that
    broadcast over the last axis (one per channel). Integer inputs become floats."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        x = as_float(inputs)
        xp = backend.get_array_module(x.data)
        scale = xp.asarray(backend.to_numpy(self.scale), dtype=x.dtype)
        offset = xp.asarray(backend.to_numpy(self.offset), dtype=x.dtype)
        return x * Tensor(scale) + Tensor(offset)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), 'scale': serialize_keras_object(self.scale),
                'offset': serialize_keras_object(self.offset)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config['scale'] = deserialize_keras_object(config['scale'], custom_objects=custom_objects)
        config['offset'] = deserialize_keras_object(config['offset'], custom_objects=custom_objects)
        return super().from_config(config)


def _first(batch):
    """The inputs of a batch: x of (x, y) or (x, y, w)."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class Normalization(Layer):
    """y = (x - mean) / max(sqrt(variance), 1e-7) per entry of ``axis`` (the kept axes; by default
    the last: one mean and variance per feature or channel); ``invert=True`` computes
    x * max(sqrt(variance), 1e-7) + mean instead.

    The statistics are given (``mean``, ``variance``: numbers or arrays broadcasting over the kept
    axes) or learned by ``adapt(data)`` from an array or from batches (a list, generator or
    ``Sequence`` of arrays or of (x, y) pairs), as Keras: the population variance, batches
    combined exactly. Adapted statistics are the non-trainable weights 'mean', 'variance' and
    'count', so they are saved and loaded with the model."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        self.input_mean, self.input_variance = mean, variance
        self.invert = invert
        self.supports_masking = True
        if (mean is None) != (variance is None):
            raise ValueError(f"Layer '{self.name}' (Normalization): give both mean and variance, or neither (and call "
                             f'adapt()); got mean={mean!r}, variance={variance!r}.')
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"Layer '{self.name}' (Normalization): mean and variance must have one shape, got "
                                 f'{np.shape(mean)} and {np.shape(variance)}.')
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(f"Layer '{self.name}' (Normalization): mean of shape {np.shape(mean)} has more axes "
                                 f'than axis={self.axis} keeps.')

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Layer '{self.name}' (Normalization): axis {self.axis} is out of range for inputs of "
                             f'shape {format_shape(input_shape)}.')
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for a in self._keep_axis:
            if input_shape[a] is None:
                raise ValueError(f"Layer '{self.name}' (Normalization) keeps axis {a}, so its size must be known; got "
                                 f'input shape {format_shape(input_shape)}.')
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        self._stat_shape = tuple(input_shape[d] for d in self._keep_axis)
        self._build_input_shape = tuple(input_shape)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name='mean', shape=self._stat_shape, initializer='zeros',
                                              trainable=False)
            self.adapt_variance = self.add_weight(name='variance', shape=self._stat_shape, initializer='ones',
                                                  trainable=False)
            self.count = self.add_weight(name='count', shape=(), dtype='int64', initializer='zeros', trainable=False)
        else:
            self._fixed = [self._expand(np.asarray(v, dtype=np.float64), ndim)
                           for v in (self.input_mean, self.input_variance)]

    def _expand(self, value, ndim):
        """A given statistic broadcast to the kept axes, aligned from the right as Keras does."""
        if value.ndim:
            shape = [1] * ndim
            for i in range(1, value.ndim + 1):
                shape[self._keep_axis[-i]] = value.shape[-i]
            value = value.reshape(shape)
        return np.broadcast_to(value, self._broadcast_shape)

    def _statistics(self, dtype, xp):
        if self.input_mean is not None:
            mean, var = self._fixed
            return xp.asarray(mean, dtype=dtype), xp.asarray(var, dtype=dtype)
        mean = self.adapt_mean.data.reshape(self._broadcast_shape).astype(dtype)
        var = self.adapt_variance.data.reshape(self._broadcast_shape).astype(dtype)
        return xp.asarray(mean), xp.asarray(var)

    def call(self, inputs):
        x = as_float(inputs)
        xp = backend.get_array_module(x.data)
        mean, var = self._statistics(x.dtype, xp)
        scale = xp.maximum(xp.sqrt(var), x.dtype.type(EPSILON))
        if self.invert:
            return x * Tensor(scale) + Tensor(mean)
        return (x - Tensor(mean)) / Tensor(scale)

    def adapt(self, data):
        """Learn the mean and variance of ``data`` over the reduced axes (every axis but ``axis``)."""
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}' (Normalization) was given mean and variance; adapt() would "
                             'overwrite nothing. Create it without them to learn the statistics.')
        if isinstance(data, Tensor) or hasattr(data, 'shape') and hasattr(data, 'dtype'):
            array = backend.to_numpy(data)
            self._ensure_built(array.shape)
            mean = np.mean(array, axis=self._reduce_axis)
            var = np.var(array, axis=self._reduce_axis)
        else:
            batches = self._batches(data)
            try:
                first = next(batches)
            except StopIteration:
                raise ValueError(f"Layer '{self.name}' (Normalization).adapt() got no batches: pass an array or a "
                                 'non-empty list or generator of arrays.') from None
            self._ensure_built(first.shape)
            mean = np.zeros(self._stat_shape)
            var = np.zeros(self._stat_shape)
            count = 0
            for batch in itertools.chain([first], batches):
                for a in self._keep_axis:
                    if batch.shape[a] != self._build_input_shape[a]:
                        raise ValueError(f"Layer '{self.name}' (Normalization).adapt(): a batch of shape "
                                         f'{batch.shape} does not match the shape the layer was built for, '
                                         f'{format_shape(self._build_input_shape)}.')
                b_mean = batch.mean(axis=self._reduce_axis)
                b_var = batch.var(axis=self._reduce_axis)
                b_count = math.prod(batch.shape[d] for d in self._reduce_axis) if self._reduce_axis else 1
                count += b_count
                w = b_count / count
                new_mean = mean * (1 - w) + b_mean * w
                # Exact pooling of variances: each part's spread around the new mean.
                var = (var + (mean - new_mean) ** 2) * (1 - w) + (b_var + (b_mean - new_mean) ** 2) * w
                mean = new_mean
        self.adapt_mean.assign(np.asarray(mean, dtype=self.adapt_mean.dtype))
        self.adapt_variance.assign(np.asarray(var, dtype=self.adapt_variance.dtype))

    def _batches(self, data):
        if hasattr(data, '__getitem__') and hasattr(data, '__len__') and not isinstance(data, (list, tuple)):
            source = (data[i] for i in range(len(data)))            # a Sequence / PyDataset
        elif hasattr(data, '__iter__'):
            source = iter(data)
        else:
            raise TypeError(f"Layer '{self.name}' (Normalization).adapt() takes an array or an iterable of batches, "
                            f'got {type(data).__name__}.')
        for batch in source:
            yield np.asarray(backend.to_numpy(_first(batch)), dtype=np.float64)

    def _ensure_built(self, shape):
        shape = tuple(shape)
        if not self.built:
            self.build(shape)
            self.built = True
            return
        for a in self._keep_axis:
            if a < len(shape) and shape[a] != self._build_input_shape[a]:
                raise ValueError(f"Layer '{self.name}' (Normalization) was built for inputs of shape "
                                 f'{format_shape(self._build_input_shape)}, but adapt() got data of shape {shape}.')

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis, 'invert': self.invert,
                'mean': np.array(self.input_mean).tolist(), 'variance': np.array(self.input_variance).tolist()}

    def get_build_config(self):
        if self._build_input_shape:
            return {'input_shape': list(self._build_input_shape)}
        return None

    def build_from_config(self, config):
        if config:
            self.build(tuple(config['input_shape']))
            self.built = True
