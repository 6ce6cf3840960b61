"""Keras-style loss objects and names around the fused losses of ``minidl.functional.loss``.

``loss(y_true, y_pred)`` returns a scalar Tensor: the mean over the batch (Keras'
``sum_over_batch_size`` reduction). Before computing it, a loss object checks the labels and
says what it expects when they do not fit (one-hot labels given to a sparse loss, class indices
given to a categorical one, binary labels outside [0, 1], ...). Labels are then converted
once, on the active backend: class indices to integers, everything else to ``y_pred``'s dtype.

The functions re-exported here (``categorical_crossentropy(y_true, y_pred, from_logits=False)``,
``mean_squared_error``, ...) return that batch mean too, not Keras' per-sample vector.

``losses.get`` accepts a name ('mse', 'binary_crossentropy', 'CategoricalCrossentropy', ...),
a loss object or class, one of the loss functions below, or any callable
``fn(y_true, y_pred) -> scalar Tensor``.
"""
import numpy as np

from . import backend
from .autograd import Tensor, as_tensor
from .functional.loss import (binary_crossentropy, categorical_crossentropy,  # noqa: F401
                              categorical_hinge, hinge, mean_absolute_error, mean_squared_error,
                              sparse_categorical_crossentropy, squared_hinge)

_REDUCTIONS = ('sum_over_batch_size', 'auto')


class Loss:
    """Base class. Subclasses set ``fn`` (a loss function of ``minidl.functional.loss``) and
    ``labels`` (how labels relate to predictions: 'sparse', 'categorical', 'binary' or 'same')."""
    fn = None
    labels = 'same'
    default_name = 'loss'

    def __init__(self, name=None, reduction='sum_over_batch_size'):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction {reduction!r} is not supported; minidl losses "
                             f"average over the batch (reduction='sum_over_batch_size').")
        self.name = name or self.default_name
        self.reduction = reduction

    def __call__(self, y_true, y_pred):
        y_pred = as_tensor(y_pred)
        return self.call(self.prepare_labels(y_true, y_pred), y_pred)

    def call(self, y_true, y_pred):
        """The loss of already prepared labels (see ``prepare_labels``)."""
        return type(self).fn(y_true, y_pred, **self._fn_kwargs())

    def _fn_kwargs(self):
        return {}

    def prepare_labels(self, y_true, y_pred):
        """Check ``y_true`` against predictions ``y_pred`` (Tensor or array) and return it as an
        array of the active backend with the dtype the loss works in."""
        pred = y_pred.data if isinstance(y_pred, Tensor) else y_pred
        raw = _raw_labels(y_true)
        check_labels(self, raw, pred.shape)
        if self.labels == 'sparse':
            dtype = raw.dtype if raw.dtype.kind in 'iu' else np.int64
            if raw.ndim == len(pred.shape):
                raw = raw.reshape(raw.shape[:-1])
        else:
            dtype = pred.dtype
        return backend.as_array(raw, dtype)

    def get_config(self):
        return {'name': self.name, 'reduction': self.reduction}

    def __repr__(self):
        return f'{type(self).__name__}(name={self.name!r})'


def check_labels(loss, y_true, pred_shape):
    """Raise a ValueError that says what ``loss`` expects when labels ``y_true`` (array with
    shape (N, ...)) do not fit predictions of shape ``pred_shape`` (B, ...); only the
    per-sample shapes are compared. Values are checked when the labels live on the host."""
    name, kind = type(loss).__name__, loss.labels
    shape, pred_shape = tuple(y_true.shape), tuple(pred_shape)
    if y_true.dtype.kind not in 'biuf':
        raise ValueError(f'{name} expects numeric labels, got an array of dtype {y_true.dtype}.')
    if len(shape) == 0 or len(pred_shape) == 0:
        raise ValueError(f'{name} expects labels and predictions with a batch axis, got label shape '
                         f'{shape} and prediction shape {pred_shape}.')
    sample, pred_sample = shape[1:], pred_shape[1:]
    host = isinstance(y_true, np.ndarray) and y_true.size > 0
    if kind == 'sparse':
        classes = pred_shape[-1]
        if sample not in (pred_sample[:-1], pred_sample[:-1] + (1,)):
            hint = (' They look one-hot: use the categorical_crossentropy loss, or pass y.argmax(axis=-1).'
                    if sample == pred_sample else '')
            raise ValueError(f'{name} expects integer class indices of shape (N,) or (N, 1) for predictions of '
                             f'shape {_batch(pred_shape)}; got labels of shape {_batch(shape)}.{hint}')
        if y_true.dtype.kind == 'b' or (host and y_true.dtype.kind == 'f'
                                        and not np.array_equal(y_true, np.round(y_true))):
            raise ValueError(f'{name} expects integer class indices in [0, {classes}), got labels of dtype '
                             f'{y_true.dtype} that are not whole numbers.')
        if host and (y_true.min() < 0 or y_true.max() >= classes):
            raise ValueError(f'{name} expects class indices in [0, {classes}) for a model with {classes} '
                             f'outputs; got labels from {y_true.min()} to {y_true.max()}.')
        return
    aligned = sample == pred_sample or sample + (1,) == pred_sample or sample == pred_sample + (1,)
    if kind == 'categorical' and sample != pred_sample and pred_sample[-1:] != (1,):
        if sample in ((), (1,)):
            raise ValueError(f'{name} expects one-hot labels of shape {_batch(pred_shape)} (like the predictions); '
                             f'got labels of shape {_batch(shape)}, which look like class indices: use the '
                             f'sparse_categorical_crossentropy loss, or one-hot encode them with '
                             f'minidl.utils.to_categorical(y, {pred_shape[-1]}).')
        aligned = False
    if not aligned:
        raise ValueError(f'{name} expects labels shaped like the predictions {_batch(pred_shape)} (a trailing '
                         f'axis of size 1 may be left out); got labels of shape {_batch(shape)}.')
    if kind == 'binary' and host and y_true.dtype.kind != 'b' and (y_true.min() < 0 or y_true.max() > 1):
        raise ValueError(f'{name} expects labels in [0, 1] (0/1 classes or probabilities); got values from '
                         f'{y_true.min()} to {y_true.max()}. For class indices use sparse_categorical_crossentropy '
                         f'with one output per class.')


def _raw_labels(y):
    """Labels as an array (NumPy or CuPy), unwrapping Tensors and converting lists."""
    if isinstance(y, Tensor):
        return y.data
    return y if hasattr(y, 'shape') and hasattr(y, 'dtype') else np.asarray(y)


def _batch(shape):
    """A shape with its batch axis written as N."""
    return '(' + ', '.join(['N'] + [str(n) for n in shape[1:]]) + (',)' if len(shape) == 1 else ')')


class _FromLogits(Loss):
    def __init__(self, from_logits=False, name=None, reduction='sum_over_batch_size'):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)

    def _fn_kwargs(self):
        return {'from_logits': self.from_logits}

    def get_config(self):
        return {**super().get_config(), 'from_logits': self.from_logits}

    def __repr__(self):
        return f'{type(self).__name__}(from_logits={self.from_logits}, name={self.name!r})'


class CategoricalCrossentropy(_FromLogits):
    """-sum(y_true log p) per sample, with one-hot (or soft) labels shaped like the predictions."""
    fn = staticmethod(categorical_crossentropy)
    labels = 'categorical'
    default_name = 'categorical_crossentropy'


class SparseCategoricalCrossentropy(_FromLogits):
    """Categorical cross-entropy with integer class labels of shape (N,) or (N, 1)."""
    fn = staticmethod(sparse_categorical_crossentropy)
    labels = 'sparse'
    default_name = 'sparse_categorical_crossentropy'


class BinaryCrossentropy(_FromLogits):
    """-(t log p + (1 - t) log(1 - p)) elementwise, labels in [0, 1]."""
    fn = staticmethod(binary_crossentropy)
    labels = 'binary'
    default_name = 'binary_crossentropy'


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)^2)."""
    fn = staticmethod(mean_squared_error)
    default_name = 'mean_squared_error'


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|)."""
    fn = staticmethod(mean_absolute_error)
    default_name = 'mean_absolute_error'


class Hinge(Loss):
    """mean(max(1 - t y_pred, 0)); labels in {-1, 1}, or 0/1 (turned into -1/1 as Keras does)."""
    fn = staticmethod(hinge)
    default_name = 'hinge'


class SquaredHinge(Loss):
    """mean(max(1 - t y_pred, 0)^2); labels as for Hinge."""
    fn = staticmethod(squared_hinge)
    default_name = 'squared_hinge'


class CategoricalHinge(Loss):
    """max(max((1 - t) y_pred) - sum(t y_pred) + 1, 0) per sample, one-hot labels."""
    fn = staticmethod(categorical_hinge)
    labels = 'categorical'
    default_name = 'categorical_hinge'


class LossFunctionWrapper(Loss):
    """A loss from any callable ``fn(y_true, y_pred) -> scalar Tensor``; labels are only
    converted (floats to ``y_pred``'s dtype, integers kept), not checked."""

    def __init__(self, fn, name=None, reduction='sum_over_batch_size', **kwargs):
        super().__init__(name=name or getattr(fn, '__name__', 'loss'), reduction=reduction)
        self.function = fn
        self.kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred, **self.kwargs)

    def prepare_labels(self, y_true, y_pred):
        pred = y_pred.data if isinstance(y_pred, Tensor) else y_pred
        raw = _raw_labels(y_true)
        return backend.as_array(raw, pred.dtype if raw.dtype.kind in 'bf' else None)


_CLASSES = [CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError,
            MeanAbsoluteError, Hinge, SquaredHinge, CategoricalHinge]
_BY_NAME = {**{cls.default_name: cls for cls in _CLASSES}, **{cls.__name__: cls for cls in _CLASSES},
            'mse': MeanSquaredError, 'MSE': MeanSquaredError, 'mae': MeanAbsoluteError, 'MAE': MeanAbsoluteError}
_BY_FUNCTION = {cls.fn: cls for cls in _CLASSES}


def get(identifier):
    """A loss object from a name, a loss object or class, a loss function or a callable."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(f'Unknown loss {identifier!r}; known names: {sorted(_BY_NAME)}.')
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and identifier in _BY_FUNCTION:
        return _BY_FUNCTION[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f'Could not interpret loss {identifier!r}: pass a name such as '
                     f"'sparse_categorical_crossentropy', a loss object or a function (y_true, y_pred).")
