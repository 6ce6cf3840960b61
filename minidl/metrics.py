"""Keras metrics: stateful objects that average a per-sample value over every batch seen.

A metric keeps its running sum as an array on the device of the predictions and its sample
count as a Python int, so ``update_state`` never waits for the device; ``result()`` converts
once (one host sync). The metric functions take raw arrays or Tensors (NumPy or CuPy) and
return one value per sample:

    binary_accuracy(y_true, y_pred, threshold=0.5)   mean over the last axis of [y_true == (y_pred > threshold)]
    categorical_accuracy(y_true, y_pred)              [argmax y_true == argmax y_pred]
    sparse_categorical_accuracy(y_true, y_pred)       [y_true == argmax y_pred]
    mean_absolute_error / mean_squared_error          mean over the last axis of |d| / d^2

'accuracy' and 'acc' mean binary, categorical or sparse categorical accuracy depending on the
loss and the shapes: ``Model.compile`` resolves them with ``resolve_accuracy`` at the first batch.
"""
import numpy as np

from .autograd import Tensor
from .backend import get_array_module, is_cupy
from .losses import BinaryCrossentropy, SparseCategoricalCrossentropy


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _raw_pair(y_true, y_pred):
    """Raw arrays of both, ``y_true`` moved to ``y_pred``'s device: labels often arrive as NumPy
    arrays while the predictions live on the GPU."""
    y_true, y_pred = _raw(y_true), _raw(y_pred)
    if is_cupy(y_pred) and not is_cupy(y_true):
        y_true = get_array_module(y_pred).asarray(y_true)
    return y_true, y_pred


def _align(y_true, y_pred):
    """Give ``y_true`` the rank of ``y_pred`` by adding or dropping a trailing size-1 axis."""
    if y_true.ndim == y_pred.ndim - 1:
        return y_true[..., None]
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true[..., 0]
    return y_true


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _raw_pair(y_true, y_pred)
    y_true = _align(y_true, y_pred)
    return (y_true == (y_pred > threshold)).mean(axis=-1)


def categorical_accuracy(y_true, y_pred):
    y_true, y_pred = _raw_pair(y_true, y_pred)
    return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(y_pred.dtype)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = _raw_pair(y_true, y_pred)
    if y_true.ndim == y_pred.ndim:
        y_true = y_true.reshape(y_true.shape[:-1])
    return (y_true == y_pred.argmax(axis=-1)).astype(y_pred.dtype)


def accuracy(y_true, y_pred):
    """Exact agreement of labels and predictions (Keras' plain ``Accuracy``)."""
    y_true, y_pred = _raw_pair(y_true, y_pred)
    return (_align(y_true, y_pred) == y_pred).astype(y_pred.dtype).reshape(y_pred.shape[0], -1).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _raw_pair(y_true, y_pred)
    return get_array_module(y_pred).abs(y_pred - _align(y_true, y_pred)).mean(axis=-1)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _raw_pair(y_true, y_pred)
    diff = y_pred - _align(y_true, y_pred)
    return (diff * diff).mean(axis=-1)


mae = mean_absolute_error
mse = mean_squared_error


class Metric:
    """Base class: ``update_state(y_true, y_pred)``, ``result()``, ``reset_state()``."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype
        self.reset_state()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, y_true, y_pred):
        """Update with one batch and return the running result (Keras' stateful call)."""
        self.update_state(y_true, y_pred)
        return self.result()

    def __repr__(self):
        return f'{type(self).__name__}(name={self.name!r})'


def _snake(name):
    return ''.join('_' + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


class Mean(Metric):
    """Weighted running mean of values: sum(value * weight) / sum(weight)."""

    def reset_state(self):
        self.total = 0.0    # becomes a 0-d device array at the first update
        self.count = 0

    def update_state(self, values, sample_weight=None):
        """Add ``values`` (array: each counts once; 0-d array or float: counts ``sample_weight``
        times, 1 by default)."""
        values = _raw(values)
        if getattr(values, 'ndim', 0):
            self.total = self.total + values.sum(dtype=np.float64)
            self.count += values.size
        else:
            weight = 1 if sample_weight is None else sample_weight
            self.total = self.total + values * weight
            self.count += weight

    def result(self):
        return float(self.total) / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """Running mean of a per-sample metric function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self.fn = fn
        self.kwargs = kwargs
        super().__init__(name=name or getattr(fn, '__name__', 'metric'), dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(f'Metric {self.name!r}: sample weights are not supported.')
        values = _raw(self.fn(_raw(y_true), _raw(y_pred), **self.kwargs))
        if not getattr(values, 'ndim', 0):
            super().update_state(values, sample_weight=_raw(y_pred).shape[0])
        else:
            super().update_state(values)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name='binary_accuracy', dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name='categorical_accuracy', dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name='sparse_categorical_accuracy', dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class Accuracy(MeanMetricWrapper):
    def __init__(self, name='accuracy', dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name='mean_absolute_error', dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name='mean_squared_error', dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


_BY_NAME = {
    'binary_accuracy': BinaryAccuracy, 'BinaryAccuracy': BinaryAccuracy,
    'categorical_accuracy': CategoricalAccuracy, 'CategoricalAccuracy': CategoricalAccuracy,
    'sparse_categorical_accuracy': SparseCategoricalAccuracy,
    'SparseCategoricalAccuracy': SparseCategoricalAccuracy,
    'Accuracy': Accuracy,
    'mae': MeanAbsoluteError, 'mean_absolute_error': MeanAbsoluteError, 'MeanAbsoluteError': MeanAbsoluteError,
    'mse': MeanSquaredError, 'mean_squared_error': MeanSquaredError, 'MeanSquaredError': MeanSquaredError,
}


def get(identifier):
    """A metric object from a name ('mae', 'binary_accuracy', ...: the object is named after
    the string, as Keras 3 names its history keys), a metric object or class, or a function
    ``fn(y_true, y_pred)`` returning per-sample values."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ('accuracy', 'acc') and identifier != 'Accuracy':
            raise ValueError(f'Metric {identifier!r} depends on the loss and label shapes: pass it to '
                             f'Model.compile(metrics=[...]), or choose binary_accuracy, categorical_accuracy '
                             f'or sparse_categorical_accuracy.')
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown metric {identifier!r}; known names: 'accuracy', 'acc', {sorted(_BY_NAME)}.")
        return cls(name=identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f'Could not interpret metric {identifier!r}: pass a name, a Metric or a function.')


def resolve_accuracy(name, loss, y_true_shape, y_pred_shape):
    """The accuracy metric that 'accuracy'/'acc' means for this loss and these shapes, named
    ``name``: binary when the loss is binary cross-entropy (Keras 2's choice, which the course
    code relied on) or the model has one output; sparse categorical when labels are class
    indices (one axis fewer than the predictions, or a trailing axis of 1); categorical otherwise."""
    pred_last = y_pred_shape[-1] if len(y_pred_shape) > 1 else 1
    if isinstance(loss, BinaryCrossentropy) or pred_last == 1:
        return BinaryAccuracy(name=name)
    sparse_shape = len(y_true_shape) == len(y_pred_shape) - 1 or tuple(y_true_shape[-1:]) == (1,)
    if isinstance(loss, SparseCategoricalCrossentropy) or sparse_shape:
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)
