"""Keras 3's losses: ``Loss`` objects, the loss functions, and their reductions.

A loss object is called as ``loss(y_true, y_pred, sample_weight=None)`` and returns a scalar
Tensor, differentiable in ``y_pred``, exactly as Keras 3 reduces it:

1. ``call(y_true, y_pred)`` gives the unreduced per-sample losses (the class or feature axis
   reduced, every other axis kept).
2. The mask Keras attaches to predictions (``y_pred._keras_mask``) and the mask the loss itself
   attaches (``ignore_class``) are merged into the sample weights; ``sample_weight`` is
   broadcast as Keras does (a trailing axis of 1 added or dropped).
3. ``reduction``: 'sum_over_batch_size' (the default) and 'mean' divide the weighted sum by the
   number of loss values (with a mask: by the number of valid ones), 'sum' does not divide,
   'mean_with_sample_weight' divides by the sum of the weights, 'none' or None returns the
   weighted per-sample values.

Labels are checked and converted once per call (``prepare_labels``): a message says what the
loss expects when they do not fit (one-hot labels given to a sparse loss, class indices given to
a categorical one, binary labels outside [0, 1], ...); then they are moved to the predictions'
device and dtype, at their rank. The reference ops are the fused, numerically stable Functions of
``minidl.functional.loss`` (log-sum-exp, log-sigmoid); with no weights and no mask, the default
reduction is computed inside that op.

The loss functions (``mean_squared_error(y_true, y_pred)``, ``categorical_crossentropy(y_true,
y_pred, from_logits=False, label_smoothing=0.0, axis=-1)``, ...) return Keras' per-sample values,
a Tensor of shape (N,) for (N, C) predictions; take ``.mean()`` for the batch mean.

``losses.get`` accepts a name ('mse', 'binary_crossentropy', 'CategoricalCrossentropy', ...), a
loss object or class, a loss function, any callable ``fn(y_true, y_pred)``, or a serialized config
dict, and always returns a loss object (Keras returns the function for a function's name; a loss
object computes the same values and also reduces them).
"""
import inspect

import numpy as np

from . import backend
from .autograd import Tensor, as_tensor
from .functional import loss as FL

REDUCTIONS = ('sum_over_batch_size', 'sum', None, 'none', 'mean', 'mean_with_sample_weight')
_MEAN_REDUCTIONS = ('sum_over_batch_size', 'mean')


def standardize_reduction(reduction, owner='Loss'):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: invalid reduction {reduction!r}; expected one of 'sum_over_batch_size' "
                         f"(the default), 'sum', 'mean', 'mean_with_sample_weight', 'none' or None.")
    return reduction


class Loss:
    """Base class of Keras 3's losses. Subclass it and define ``call(self, y_true, y_pred)``
    returning the per-sample losses; ``__call__`` applies sample weights, masks and the reduction.
    ``y_true`` reaches ``call`` as a Tensor in the predictions' dtype (Keras casts labels to the
    loss dtype)."""

    def __init__(self, name=None, reduction='sum_over_batch_size', dtype=None):
        self.name = name or _auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction, type(self).__name__)
        self._dtype = dtype

    @property
    def dtype(self):
        return self._dtype or np.dtype(backend.floatx).name

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = getattr(y_pred, '_keras_mask', None)
        y_pred = as_tensor(y_pred)
        if _is_builtin(self):
            t = self.prepare_labels(y_true, y_pred)
            if (sample_weight is None and in_mask is None and self.reduction in _MEAN_REDUCTIONS
                    and self._fusable() and y_pred.size):
                return self._op(t, y_pred, mean=True)
            values = self._op(t, y_pred, mean=False)
        else:
            values = as_tensor(self.call(_label_tensor(y_true, y_pred), y_pred))
        out_mask = getattr(values, '_keras_mask', None)
        mask = _merge_masks(in_mask, out_mask)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction, owner=self.name)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f'{type(self).__name__} must define call(self, y_true, y_pred), returning the '
                                  f'per-sample losses.')

    def get_config(self):
        return {'name': self.name, 'reduction': self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f'<{type(self).__name__} name={self.name}>'


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` returning per-sample losses (a
    function returning a scalar works too: a scalar is not reduced further). Labels are aligned to
    the predictions' rank and cast to their dtype, not checked."""

    def __init__(self, fn, reduction='sum_over_batch_size', name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_pred = as_tensor(y_pred)
        y_true = _label_tensor(y_true, y_pred)
        if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
            y_true = Tensor(y_true.data[..., 0])
        elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
            y_true = Tensor(y_true.data[..., None])
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        from .saving import serialize_keras_object
        config = super().get_config()
        config['fn'] = serialize_keras_object(self.fn)
        config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config):
        if 'fn' in config:
            from .saving import deserialize_keras_object
            config = dict(config, fn=deserialize_keras_object(config['fn']))
        return cls(**config)

    def __repr__(self):
        return f'<LossFunctionWrapper({getattr(self.fn, "__name__", self.fn)}, kwargs={self._fn_kwargs})>'


class _BuiltinLoss(LossFunctionWrapper):
    """A Keras loss with a fused reference op. Subclasses set ``labels`` (how labels relate to
    predictions: 'same', 'binary', 'categorical' or 'sparse'), ``op`` (the Function class of
    ``minidl.functional.loss``) and ``config_keys`` (the arguments that ``get_config`` reports)."""
    labels = 'same'
    op = None
    config_keys = ()

    def __init__(self, reduction='sum_over_batch_size', name=None, dtype=None, **kwargs):
        super().__init__(_FUNCTIONS[type(self).__name__], reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def call(self, y_true, y_pred):
        """The per-sample losses (checks and converts the labels, then the fused op)."""
        y_pred = as_tensor(y_pred)
        return self._op(self.prepare_labels(y_true, y_pred), y_pred, mean=False)

    def prepare_labels(self, y_true, y_pred):
        """``y_true`` checked against the predictions ``y_pred`` (Tensor or array) and converted:
        class indices to integers on the predictions' device, everything else to the predictions'
        dtype, device and rank."""
        pred = y_pred.data if isinstance(y_pred, Tensor) else y_pred
        raw = raw_labels(y_true)
        check_labels(self, raw, pred.shape, axis=getattr(self, 'axis', -1))
        if self.labels == 'sparse':
            if raw.ndim == pred.ndim:
                raw = raw.reshape(raw.shape[:-1])
            dtype = raw.dtype if raw.dtype.kind in 'iu' else np.int64
            return _on_device_of(raw, pred).astype(dtype, copy=False)
        return FL.prepare(raw, pred, type(self).__name__)

    def _fusable(self):
        return True

    def _op(self, t, y_pred, mean):
        return self.op(t, mean=mean, **self._op_kwargs())(y_pred)

    def _op_kwargs(self):
        return {}

    def get_config(self):
        config = Loss.get_config(self)
        config.update({key: getattr(self, key) for key in self.config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**{k: v for k, v in config.items() if k != 'fn'})

    def __repr__(self):
        args = ', '.join(f'{k}={getattr(self, k)!r}' for k in self.config_keys)
        return f'{type(self).__name__}({args + ", " if args else ""}name={self.name!r})'


def _is_builtin(loss):
    return isinstance(loss, _BuiltinLoss) and type(loss).call is _BuiltinLoss.call


def _auto_name(class_name):
    from .layers.base import to_snake_case, unique_name
    return unique_name(to_snake_case(class_name))


# --- the losses ------------------------------------------------------------------------------------
class MeanSquaredError(_BuiltinLoss):
    """loss = mean((y_true - y_pred)^2) over the last axis."""
    op = FL.MeanSquaredError

    def __init__(self, reduction='sum_over_batch_size', name='mean_squared_error', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """loss = mean(|y_true - y_pred|) over the last axis."""
    op = FL.MeanAbsoluteError

    def __init__(self, reduction='sum_over_batch_size', name='mean_absolute_error', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinLoss):
    """loss = 100 mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|) over the last axis."""
    op = FL.MeanAbsolutePercentageError

    def __init__(self, reduction='sum_over_batch_size', name='mean_absolute_percentage_error', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_BuiltinLoss):
    """loss = mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2) over the last axis."""
    op = FL.MeanSquaredLogarithmicError

    def __init__(self, reduction='sum_over_batch_size', name='mean_squared_logarithmic_error', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(_BuiltinLoss):
    """loss = -sum(l2_normalize(y_true) * l2_normalize(y_pred)) over ``axis``: -1 for equal
    directions, 0 for orthogonal ones (or a zero vector). ``get_config`` also reports ``axis``,
    which Keras 3 leaves out (its config loses the axis)."""
    op = FL.CosineSimilarity
    config_keys = ('axis',)

    def __init__(self, axis=-1, reduction='sum_over_batch_size', name='cosine_similarity', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)

    def _op_kwargs(self):
        return {'axis': self.axis}


class Huber(_BuiltinLoss):
    """loss = mean(0.5 d^2 if |d| <= delta else delta |d| - 0.5 delta^2) over the last axis,
    d = y_pred - y_true. ``get_config`` also reports ``delta`` (Keras 3's config loses it)."""
    op = FL.Huber
    config_keys = ('delta',)

    def __init__(self, delta=1.0, reduction='sum_over_batch_size', name='huber_loss', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, delta=delta)

    def _op_kwargs(self):
        return {'delta': float(self.delta)}


class LogCosh(_BuiltinLoss):
    """loss = mean(log(cosh(y_pred - y_true))) over the last axis, computed without overflow."""
    op = FL.LogCosh

    def __init__(self, reduction='sum_over_batch_size', name='log_cosh', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Hinge(_BuiltinLoss):
    """loss = mean(max(1 - y_true y_pred, 0)) over the last axis; labels in {-1, 1}, or all 0/1
    (then turned into -1/1, as Keras does)."""
    op = FL.Hinge

    def __init__(self, reduction='sum_over_batch_size', name='hinge', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def _op(self, t, y_pred, mean):
        return FL.Hinge(_to_hinge_labels(t), squared=False, mean=mean)(y_pred)


class SquaredHinge(_BuiltinLoss):
    """loss = mean(max(1 - y_true y_pred, 0)^2) over the last axis; labels as for Hinge."""
    op = FL.Hinge

    def __init__(self, reduction='sum_over_batch_size', name='squared_hinge', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def _op(self, t, y_pred, mean):
        return FL.Hinge(_to_hinge_labels(t), squared=True, mean=mean)(y_pred)


class CategoricalHinge(_BuiltinLoss):
    """loss = max(max((1 - y_true) y_pred) - sum(y_true y_pred) + 1, 0), one-hot labels."""
    op = FL.CategoricalHinge
    labels = 'categorical'

    def __init__(self, reduction='sum_over_batch_size', name='categorical_hinge', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class KLDivergence(_BuiltinLoss):
    """loss = sum(y_true log(y_true / y_pred)) over the last axis, both clipped to [1e-7, 1]."""
    op = FL.KLDivergence

    def __init__(self, reduction='sum_over_batch_size', name='kl_divergence', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Poisson(_BuiltinLoss):
    """loss = mean(y_pred - y_true log(y_pred + 1e-7)) over the last axis."""
    op = FL.Poisson

    def __init__(self, reduction='sum_over_batch_size', name='poisson', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(_BuiltinLoss):
    """loss = mean(-(t log p + (1 - t) log(1 - p))) over ``axis``, labels in [0, 1];
    ``from_logits``: p = sigmoid(y_pred), computed with log-sigmoid; ``label_smoothing``:
    t = t (1 - s) + s / 2."""
    op = FL.BinaryCrossentropy
    labels = 'binary'
    config_keys = ('from_logits', 'label_smoothing', 'axis')

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction='sum_over_batch_size',
                 name='binary_crossentropy', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)

    def _op(self, t, y_pred, mean):
        return FL.BinaryCrossentropy(_smooth_binary(t, self.label_smoothing), bool(self.from_logits), self.axis,
                                     mean=mean)(y_pred)


class BinaryFocalCrossentropy(_BuiltinLoss):
    """Focal loss on binary labels: mean((1 - p_t)^gamma bce) over ``axis`` with
    p_t = t p + (1 - t)(1 - p), weighted by alpha / 1 - alpha with ``apply_class_balancing``."""
    op = FL.BinaryFocalCrossentropy
    labels = 'binary'
    config_keys = ('from_logits', 'label_smoothing', 'axis', 'apply_class_balancing', 'alpha', 'gamma')

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction='sum_over_batch_size', name='binary_focal_crossentropy', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, apply_class_balancing=apply_class_balancing,
                         alpha=alpha, gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)

    def _op(self, t, y_pred, mean):
        return FL.BinaryFocalCrossentropy(_smooth_binary(t, self.label_smoothing), bool(self.apply_class_balancing),
                                          float(self.alpha), float(self.gamma), bool(self.from_logits), self.axis,
                                          mean=mean)(y_pred)


class CategoricalCrossentropy(_BuiltinLoss):
    """loss = -sum(y_true log p) over ``axis``, one-hot (or soft) labels shaped like the
    predictions; ``from_logits``: log p = log_softmax(y_pred) (log-sum-exp); otherwise
    p = y_pred / sum(y_pred) clipped; ``label_smoothing``: t = t (1 - s) + s / C."""
    op = FL.CategoricalCrossentropy
    labels = 'categorical'
    config_keys = ('from_logits', 'label_smoothing', 'axis')

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction='sum_over_batch_size',
                 name='categorical_crossentropy', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)

    def _op(self, t, y_pred, mean):
        return FL.CategoricalCrossentropy(_smooth_categorical(t, self.label_smoothing, self.axis),
                                          bool(self.from_logits), self.axis, mean=mean)(y_pred)


class CategoricalFocalCrossentropy(_BuiltinLoss):
    """Focal loss on one-hot labels: sum(alpha (1 - p)^gamma (-y_true log p)) over ``axis``."""
    op = FL.CategoricalFocalCrossentropy
    labels = 'categorical'
    config_keys = ('from_logits', 'label_smoothing', 'axis', 'alpha', 'gamma')

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction='sum_over_batch_size', name='categorical_focal_crossentropy', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)

    def _op(self, t, y_pred, mean):
        return FL.CategoricalFocalCrossentropy(_smooth_categorical(t, self.label_smoothing, self.axis),
                                               float(self.alpha), float(self.gamma), bool(self.from_logits),
                                               self.axis, mean=mean)(y_pred)


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Categorical cross-entropy with integer class labels (the predictions' shape without the
    class axis, or with a trailing 1). ``ignore_class``: labels equal to it get no loss and no
    gradient and are left out of the mean, as Keras does with the mask it attaches."""
    op = FL.CategoricalCrossentropy
    labels = 'sparse'
    config_keys = ('from_logits', 'ignore_class')

    def __init__(self, from_logits=False, ignore_class=None, reduction='sum_over_batch_size', axis=-1,
                 name='sparse_categorical_crossentropy', dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)

    def _fusable(self):
        return self.ignore_class is None

    def _op(self, t, y_pred, mean):
        target, valid = FL.one_hot(t, y_pred, self.axis, self.ignore_class)
        values = FL.CategoricalCrossentropy(target, bool(self.from_logits), self.axis, mean=mean)(y_pred)
        if valid is not None:
            values._keras_mask = valid
        return values


_CLASSES = [MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
            BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy, CategoricalFocalCrossentropy,
            SparseCategoricalCrossentropy]


# --- the loss functions (Keras' per-sample values) --------------------------------------------------------
def _per_sample(cls, y_true, y_pred, **kwargs):
    loss = cls(**kwargs)
    return loss.call(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean((y_true - y_pred)^2) over the last axis."""
    return _per_sample(MeanSquaredError, y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean(|y_true - y_pred|) over the last axis."""
    return _per_sample(MeanAbsoluteError, y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample 100 mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|) over the last axis."""
    return _per_sample(MeanAbsolutePercentageError, y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean((log(y_pred + 1) - log(y_true + 1))^2) over the last axis (both >= 1e-7)."""
    return _per_sample(MeanSquaredLogarithmicError, y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample -sum(l2_normalize(y_true) l2_normalize(y_pred)) over ``axis``."""
    return _per_sample(CosineSimilarity, y_true, y_pred, axis=axis)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss, mean over the last axis."""
    return _per_sample(Huber, y_true, y_pred, delta=delta)


def log_cosh(y_true, y_pred):
    """Per-sample mean(log(cosh(y_pred - y_true))) over the last axis."""
    return _per_sample(LogCosh, y_true, y_pred)


def hinge(y_true, y_pred):
    """Per-sample mean(max(1 - y_true y_pred, 0)) over the last axis (0/1 labels become -1/1)."""
    return _per_sample(Hinge, y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """Per-sample mean(max(1 - y_true y_pred, 0)^2) over the last axis (0/1 labels become -1/1)."""
    return _per_sample(SquaredHinge, y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """Per-sample max(max((1 - y_true) y_pred) - sum(y_true y_pred) + 1, 0)."""
    return _per_sample(CategoricalHinge, y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """Per-sample sum(y_true log(y_true / y_pred)) over the last axis (both clipped to [1e-7, 1])."""
    return _per_sample(KLDivergence, y_true, y_pred)


def poisson(y_true, y_pred):
    """Per-sample mean(y_pred - y_true log(y_pred + 1e-7)) over the last axis."""
    return _per_sample(Poisson, y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample mean binary cross-entropy over ``axis``."""
    return _per_sample(BinaryCrossentropy, y_true, y_pred, from_logits=from_logits,
                       label_smoothing=label_smoothing, axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1):
    """Per-sample mean binary focal cross-entropy over ``axis``."""
    return _per_sample(BinaryFocalCrossentropy, y_true, y_pred, apply_class_balancing=apply_class_balancing,
                       alpha=alpha, gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical cross-entropy over ``axis``."""
    return _per_sample(CategoricalCrossentropy, y_true, y_pred, from_logits=from_logits,
                       label_smoothing=label_smoothing, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """Per-sample categorical focal cross-entropy over ``axis``."""
    return _per_sample(CategoricalFocalCrossentropy, y_true, y_pred, alpha=alpha, gamma=gamma,
                       from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample categorical cross-entropy of integer class labels; with ``ignore_class`` those
    labels give 0 and the result carries the mask of valid labels (``_keras_mask``)."""
    return _per_sample(SparseCategoricalCrossentropy, y_true, y_pred, from_logits=from_logits,
                       ignore_class=ignore_class, axis=axis)


_FUNCTIONS = {
    'MeanSquaredError': mean_squared_error, 'MeanAbsoluteError': mean_absolute_error,
    'MeanAbsolutePercentageError': mean_absolute_percentage_error,
    'MeanSquaredLogarithmicError': mean_squared_logarithmic_error, 'CosineSimilarity': cosine_similarity,
    'Huber': huber, 'LogCosh': log_cosh, 'Hinge': hinge, 'SquaredHinge': squared_hinge,
    'CategoricalHinge': categorical_hinge, 'KLDivergence': kl_divergence, 'Poisson': poisson,
    'BinaryCrossentropy': binary_crossentropy, 'BinaryFocalCrossentropy': binary_focal_crossentropy,
    'CategoricalCrossentropy': categorical_crossentropy,
    'CategoricalFocalCrossentropy': categorical_focal_crossentropy,
    'SparseCategoricalCrossentropy': sparse_categorical_crossentropy,
}

# Keras 2 and legacy spellings.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh


# --- reductions (keras/src/losses/loss.py) ----------------------------------------------------------------
def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras' rank alignment: when the ranks differ by one and the longer has a trailing 1, drop
    it (or, when the shorter is rank 1 and ``expand_rank_1``, give the shorter a trailing 1).
    Works on arrays and Tensors."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.reshape(tuple(x2.shape) + (1,))
        else:
            x1 = x1.reshape(tuple(x1.shape[:-1]))
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.reshape(tuple(x1.shape) + (1,))
        else:
            x2 = x2.reshape(tuple(x2.shape[:-1]))
    return x1, x2


def _on_device_of(a, like):
    """Array ``a`` (array, Tensor or list) on the device of array ``like``."""
    a = a.data if isinstance(a, Tensor) else a
    xp = backend.get_array_module(like)
    if xp is np:
        return backend.to_numpy(a) if backend.is_cupy(a) else np.asarray(a)
    return xp.asarray(a)


def _as_weights(w, like, dtype):
    """Sample weights or a mask as an array on ``like``'s device (no host sync)."""
    return _on_device_of(w, like).astype(dtype, copy=False)


def apply_mask(sample_weight, mask, dtype, reduction):
    """Merge a mask into the sample weights: with 'mean'/'sum_over_batch_size' valid entries weigh
    total/valid (so the mean is over the valid ones), otherwise 1; masked entries weigh 0."""
    if mask is None:
        return sample_weight
    xp = backend.get_array_module(mask)
    mask = mask.astype(bool) if mask.dtype != bool else mask
    if reduction in _MEAN_REDUCTIONS:
        valid = mask.sum(dtype=dtype)
        weight = xp.where(valid > 0, mask.size / xp.maximum(valid, 1), 0).astype(dtype)
        float_mask = xp.where(mask, weight, xp.zeros((), dtype)).astype(dtype)
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def reduce_values(values, sample_weight=None, reduction='sum_over_batch_size'):
    """Sum ``values`` (a Tensor) and divide as ``reduction`` says; 'none' and None, 0-d values
    and empty (0,) values are returned as they are."""
    if reduction is None or reduction == 'none' or tuple(values.shape) in ((), (0,)):
        return values
    loss = values.sum()
    if reduction in ('sum_over_batch_size', 'mean', 'mean_with_sample_weight'):
        xp = backend.get_array_module(values.data)
        if reduction == 'mean_with_sample_weight' and sample_weight is not None:
            divisor = sample_weight.sum(dtype=values.dtype)
        else:
            divisor = xp.asarray(values.size, dtype=values.dtype)
        # divide_no_nan, as a factor in the values' dtype (a Python float would become float32)
        loss = loss * xp.where(divisor != 0, 1 / xp.where(divisor != 0, divisor, 1), 0).astype(values.dtype)
    return loss


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction='sum_over_batch_size', owner='loss'):
    """Keras' ``reduce_weighted_values``: merge ``mask`` into ``sample_weight``, align the weights
    to the values' rank, weight, and reduce."""
    reduction = standardize_reduction(reduction, owner)
    values = as_tensor(values)
    dtype = values.dtype
    if sample_weight is not None:
        sample_weight = _as_weights(sample_weight, values.data, dtype)
    if mask is not None:
        mask = _as_weights(mask, values.data, bool)
    sample_weight = apply_mask(sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        try:
            np.broadcast_shapes(tuple(values.shape), tuple(sample_weight.shape))
        except ValueError:
            raise ValueError(f'{owner}: sample_weight of shape {tuple(sample_weight.shape)} does not broadcast to the '
                             f'per-sample losses of shape {tuple(values.shape)}; give one weight per sample '
                             f'(shape {tuple(values.shape[:1])}) or one per loss value '
                             f'(shape {tuple(values.shape)}).') from None
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


def _merge_masks(a, b):
    a = a.data if isinstance(a, Tensor) else a
    b = b.data if isinstance(b, Tensor) else b
    if a is not None and b is not None:
        return a.astype(bool) & b.astype(bool)
    return a if a is not None else b


# --- labels ---------------------------------------------------------------------------------------------
def raw_labels(y):
    """Labels as an array (NumPy or CuPy), unwrapping Tensors and converting lists."""
    if isinstance(y, Tensor):
        return y.data
    if isinstance(y, np.ndarray) or backend.is_cupy(y):
        return y
    return np.asarray(y)        # lists, scalars, and other frameworks' CPU tensors (a torch.Tensor)


def _label_tensor(y_true, y_pred):
    """Labels for a user's ``call``: a Tensor (no gradient) in the predictions' float dtype, on
    their device; lists and dicts of labels (several outputs) element by element."""
    if isinstance(y_true, dict):
        return {k: _label_tensor(v, y_pred) for k, v in y_true.items()}
    if isinstance(y_true, (list, tuple)) and y_true and hasattr(y_true[0], 'shape'):
        return type(y_true)(_label_tensor(v, y_pred) for v in y_true)
    pred = y_pred.data if isinstance(y_pred, Tensor) else y_pred
    dtype = pred.dtype if pred.dtype.kind == 'f' else backend.floatx
    return Tensor(_on_device_of(raw_labels(y_true), pred).astype(dtype, copy=False))


def _smooth_binary(t, s):
    return t * (1.0 - s) + 0.5 * s if s else t


def _smooth_categorical(t, s, axis=-1):
    return t * (1.0 - s) + s / t.shape[axis] if s else t


def _to_hinge_labels(t):
    """Keras: labels that are all 0 or 1 become -1 or 1 (decided on the device: no host sync)."""
    xp = backend.get_array_module(t)
    return xp.where(xp.all((t == 0) | (t == 1)), 2 * t - 1, t)


def check_labels(loss, y_true, pred_shape, axis=-1):
    """Raise a ValueError that says what ``loss`` expects when labels ``y_true`` (array with
    shape (N, ...)) do not fit predictions of shape ``pred_shape`` (B, ...); only the per-sample
    shapes are compared. Values are checked when the labels live on the host."""
    name, kind = type(loss).__name__, loss.labels
    shape, pred_shape = tuple(y_true.shape), tuple(pred_shape)
    if y_true.dtype.kind not in 'biuf':
        raise ValueError(f'{name} expects numeric labels, got an array of dtype {y_true.dtype}.')
    if len(pred_shape) == 0 or (len(shape) == 0 and kind in ('sparse', 'categorical')):
        raise ValueError(f'{name} expects labels and predictions with a batch axis, got label shape '
                         f'{shape} and prediction shape {pred_shape}.')
    sample, pred_sample = shape[1:], pred_shape[1:]
    host = isinstance(y_true, np.ndarray) and y_true.size > 0
    if kind == 'sparse':
        class_axis = axis % len(pred_shape)
        classes = pred_shape[class_axis]
        expected = pred_shape[:class_axis] + pred_shape[class_axis + 1:]
        if shape not in (expected, expected + (1,)) or not pred_sample:
            hint = (' They look one-hot: use the categorical_crossentropy loss, or pass y.argmax(axis=-1).'
                    if sample == pred_sample else '')
            raise ValueError(f'{name} expects integer class indices of shape {_batch(expected)} or with a '
                             f'trailing 1 for predictions of shape {_batch(pred_shape)}; got labels of shape '
                             f'{_batch(shape)}.{hint}')
        if y_true.dtype.kind == 'b' or (host and y_true.dtype.kind == 'f'
                                        and not np.array_equal(y_true, np.round(y_true))):
            raise ValueError(f'{name} expects integer class indices in [0, {classes}), got labels of dtype '
                             f'{y_true.dtype} that are not whole numbers.')
        if host:
            ignore = getattr(loss, 'ignore_class', None)
            values = y_true[y_true != ignore] if ignore is not None else y_true
            if values.size and (values.min() < 0 or values.max() >= classes):
                raise ValueError(f'{name} expects class indices in [0, {classes}) for a model with {classes} '
                                 f'outputs; got labels from {values.min()} to {values.max()}.')
        return
    if len(shape) == 0:
        shape = sample = ()
    aligned = sample == pred_sample or sample + (1,) == pred_sample or sample == pred_sample + (1,)
    if kind == 'categorical' and sample != pred_sample and pred_sample[-1:] != (1,):
        if sample in ((), (1,)):
            raise ValueError(f'{name} expects one-hot labels of shape {_batch(pred_shape)} (like the predictions); '
                             f'got labels of shape {_batch(shape)}, which look like class indices: use the '
                             f'sparse_categorical_crossentropy loss, or one-hot encode them with '
                             f'minidl.utils.to_categorical(y, {pred_shape[-1]}).')
        aligned = False
    if not aligned or (shape and pred_shape and shape[0] != pred_shape[0]):
        raise ValueError(f'{name} expects labels shaped like the predictions {_batch(pred_shape)} (a trailing '
                         f'axis of size 1 may be left out); got labels of shape {_batch(shape)}'
                         + (f' for {pred_shape[0]} predictions.' if shape and shape[0] != pred_shape[0] else '.'))
    if kind == 'binary' and host and y_true.dtype.kind != 'b' and (y_true.min() < 0 or y_true.max() > 1):
        raise ValueError(f'{name} expects labels in [0, 1] (0/1 classes or probabilities); got values from '
                         f'{y_true.min()} to {y_true.max()}. For class indices use sparse_categorical_crossentropy '
                         f'with one output per class.')


def _batch(shape):
    """A shape with its batch axis written as N."""
    if not shape:
        return '()'
    return '(' + ', '.join(['N'] + [str(n) for n in shape[1:]]) + (',)' if len(shape) == 1 else ')')


# --- get / serialize ----------------------------------------------------------------------------------------
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({fn.__name__: globals()[cls_name] for cls_name, fn in _FUNCTIONS.items()})
_BY_NAME.update({'mse': MeanSquaredError, 'MSE': MeanSquaredError, 'mae': MeanAbsoluteError,
                 'MAE': MeanAbsoluteError, 'mape': MeanAbsolutePercentageError,
                 'MAPE': MeanAbsolutePercentageError, 'msle': MeanSquaredLogarithmicError,
                 'MSLE': MeanSquaredLogarithmicError, 'kld': KLDivergence, 'KLD': KLDivergence,
                 'kullback_leibler_divergence': KLDivergence, 'logcosh': LogCosh, 'bce': BinaryCrossentropy,
                 'BCE': BinaryCrossentropy, 'huber_loss': Huber})
_BY_FUNCTION = {fn: globals()[name] for name, fn in _FUNCTIONS.items()}
ALL_OBJECTS_DICT = dict(_BY_NAME, Loss=Loss, LossFunctionWrapper=LossFunctionWrapper,
                        **{fn.__name__: fn for fn in _FUNCTIONS.values()})


def serialize(loss):
    from .saving import serialize_keras_object
    return serialize_keras_object(loss)


def deserialize(config, custom_objects=None):
    from .saving import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT,
                                    printable_module_name='loss')


def get(identifier):
    """A loss object from a name, a loss object or class, a loss function, a callable
    ``fn(y_true, y_pred)`` or a serialized config dict; None stays None."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        if 'class_name' not in identifier:
            raise ValueError(f'losses.get: a dict is read as a serialized loss ({{"class_name": ..., "config": ...}}); '
                             f'got keys {sorted(identifier)}. For one loss per output, pass the dict to compile(loss=...).')
        return get(deserialize(identifier))
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(f'Unknown loss {identifier!r}; known names: {sorted(_BY_NAME)}.')
        return cls()
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and identifier in _BY_FUNCTION:
        return _BY_FUNCTION[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f'Could not interpret loss {identifier!r}: pass a name such as '
                     f"'sparse_categorical_crossentropy', a loss object, a function (y_true, y_pred) or a config dict.")
