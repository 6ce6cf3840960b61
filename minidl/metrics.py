"""Keras 3's metrics: stateful objects that accumulate over batches, on the device.

A metric is a ``Metric`` with state variables (``minidl.Variable``s created by ``add_variable``,
on the device of the active backend). ``update_state(y_true, y_pred, sample_weight=None)`` adds
one batch to them with array operations only, so it never waits for the device; ``result()``
returns a 0-d Tensor (a vector for metrics with several thresholds or classes) computed from the
variables, and converting it (``float(...)``, ``.item()``) is the one host sync. ``reset_state()``
puts every variable back to its initial value. A metric subclass written for Keras 3::

    class CategoricalTruePositives(metrics.Metric):
        def __init__(self, name='categorical_true_positives', **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), initializer='zeros', name='ctp')

        def update_state(self, y_true, y_pred, sample_weight=None):
            ...
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives

works unchanged. Semantics follow Keras 3 exactly: ``Mean``/``MeanMetricWrapper`` reduce
per-sample values with ``reduce_to_samplewise_values`` (sample weights broadcast, masks
merged), confusion metrics count with Keras' thresholds (``pred > threshold``; AUC's evenly spaced
thresholds by buckets), ``top_k``, ``class_id`` and ``multi_label``.

The metric functions (``binary_accuracy(y_true, y_pred, threshold=0.5)``, ``categorical_accuracy``,
``sparse_categorical_accuracy``, ``top_k_categorical_accuracy(..., k=5)``, ...) return Keras'
per-sample (or elementwise) values as Tensors without gradient. 'accuracy' and 'acc' mean binary,
categorical or sparse categorical accuracy depending on the loss and the shapes:
``Model.compile`` resolves them with ``resolve_accuracy``.
"""
import inspect
import warnings

import numpy as np

from . import backend
from . import initializers as initializers_module
from . import losses as losses_module
from .autograd import Tensor, Variable, no_grad
from .backend import get_array_module, is_cupy
from .losses import BinaryCrossentropy as _BCELoss, SparseCategoricalCrossentropy as _SCCELoss
from .losses import apply_mask, squeeze_or_expand_to_same_rank

EPSILON = 1e-7
NEG_INF = -1e10


# --- arrays ----------------------------------------------------------------------------------------------
def _raw(x):
    """The array of a Tensor, a masked value, a list or another framework's CPU tensor."""
    if isinstance(x, _WithMask):
        return x.data
    return losses_module.raw_labels(x)


def _raw_pair(y_true, y_pred):
    """Raw arrays of both, ``y_true`` moved to ``y_pred``'s device: labels often arrive as NumPy
    arrays while the predictions live on the GPU."""
    y_true, y_pred = _raw(y_true), _raw(y_pred)
    if is_cupy(y_pred) and not is_cupy(y_true):
        y_true = get_array_module(y_pred).asarray(y_true)
    elif is_cupy(y_true) and not is_cupy(y_pred):
        y_pred = get_array_module(y_true).asarray(y_pred)
    return y_true, y_pred


def _like(x, ref):
    """``x`` (array, Tensor, list or number) as an array on ``ref``'s device."""
    x = _raw(x)
    xp = get_array_module(ref)
    if xp is np:
        return backend.to_numpy(x) if is_cupy(x) else np.asarray(x)
    return xp.asarray(x)


def _float_dtype(a):
    return a.dtype if a.dtype.kind == 'f' else np.dtype(backend.floatx)


def _divide_no_nan(x, y):
    xp = get_array_module(x)
    safe = xp.where(y != 0, y, 1)
    return xp.where(y != 0, x / safe, 0).astype(x.dtype if hasattr(x, 'dtype') else np.float32, copy=False)


def _result(a):
    """A metric result: a Tensor holding ``a`` (no gradient)."""
    return a if isinstance(a, Tensor) else Tensor(a)


def _add(variable, value):
    """variable += value in place, for values computed on the variable's device (the hot path of
    update_state: no conversion, no host sync)."""
    variable.data += value


def _mask_of(x):
    mask = getattr(x, '_keras_mask', None)
    return mask.data if isinstance(mask, Tensor) else mask


# --- the base class -------------------------------------------------------------------------------------------
class Metric:
    """Base class of Keras 3's metrics (see the module docstring). Subclasses create their state
    with ``add_variable`` in ``__init__`` (or on the first ``update_state``) and define
    ``update_state`` and ``result``."""

    def __init__(self, dtype=None, name=None):
        self.name = name or _auto_name(type(self).__name__)
        self._dtype = _standardize_dtype(dtype)
        self._variables = []
        self._initial_values = []
        self._metrics = []

    @property
    def dtype(self):
        return self._dtype

    def add_variable(self, shape, initializer, dtype=None, aggregation='sum', name=None):
        """A state variable (not trainable) of ``shape``, set by ``initializer`` (a name, an
        initializer object or a callable), on the device of the active backend."""
        self._check_super_called()
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        dtype = np.dtype(_standardize_dtype(dtype or self._dtype))
        init = initializers_module.get(initializer if initializer is not None else 'zeros')
        value = backend.as_array(init(shape, dtype=dtype), dtype)
        name = name or f'variable_{len(self._variables)}'
        variable = Variable(value, trainable=False, name=name, path=f'{self.name}/{name}', aggregation=aggregation)
        self._variables.append(variable)
        self._initial_values.append(value.copy())
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras 2's name for ``add_variable`` (``shape`` defaults to a scalar)."""
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    @property
    def variables(self):
        """The state variables, then those of metrics held as attributes."""
        out = list(self._variables)
        for metric in self._metrics:
            out.extend(metric.variables)
        return out

    def reset_state(self):
        """Every variable back to its initial value (and the same for held metrics)."""
        for variable, value in zip(self._variables, self._initial_values):
            variable.assign(value)
        for metric in self._metrics:
            metric.reset_state()

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f'{type(self).__name__} must define update_state(self, y_true, y_pred, '
                                  f'sample_weight=None).')

    def result(self):
        raise NotImplementedError(f'{type(self).__name__} must define result(self).')

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the running result (Keras' stateful call)."""
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {'name': self.name, 'dtype': self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __setattr__(self, name, value):
        if isinstance(value, Metric) and '_metrics' in self.__dict__ and value is not self:
            self._metrics.append(value)
        super().__setattr__(name, value)

    def _check_super_called(self):
        if '_variables' not in self.__dict__:
            raise RuntimeError(f'{type(self).__name__}: you forgot to call super().__init__() in __init__(). '
                               f'Add it as the first statement.')

    def __repr__(self):
        return f'<{type(self).__name__} name={self.name}>'


def _auto_name(class_name):
    from .layers.base import to_snake_case, unique_name
    return unique_name(to_snake_case(class_name))


def _standardize_dtype(dtype):
    """A dtype name: None is floatx ('float32'), 'int' is 'int32' (Keras' spelling)."""
    if dtype is None:
        return np.dtype(backend.floatx).name
    if dtype == 'int':
        return 'int32'
    return np.dtype(dtype).name


# --- reductions ------------------------------------------------------------------------------------------------
def _reduce(values, fn, axes):
    return getattr(values, fn)(axis=tuple(axes)) if axes else values


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype, mask=None):
    """Keras' reduction of metric values to one per sample: the mask (``values._keras_mask`` or
    ``mask``) merged into the weights, the weights aligned and broadcast, the axes beyond the
    weights' reduced with ``reduce_fn`` ('sum' or 'mean'), then every axis but the first."""
    if mask is None:
        mask = _mask_of(values)
    values = _raw(values)
    xp = get_array_module(values)
    values = values.astype(dtype, copy=False)
    if sample_weight is not None:
        sample_weight = _like(sample_weight, values).astype(dtype, copy=False)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, _like(mask, values), dtype, reduction='sum')
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.ndim, values.ndim
        if values_ndim > weight_ndim:
            values = _reduce(values, reduce_fn, range(weight_ndim, values_ndim))
        sample_weight = xp.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = _reduce(sample_weight, reduce_fn, range(1, weight_ndim))
    if values.ndim > 1:
        values = _reduce(values, reduce_fn, range(1, values.ndim))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of every value seen."""

    def __init__(self, name='sum', dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer='zeros', dtype=self.dtype, name='total')

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, 'sum', self.dtype)
        self.total.assign_add(values.sum())

    def result(self):
        return _result(self.total.data.copy())


class Mean(Metric):
    """The (weighted) mean of every value seen: sum(value * weight) / sum(weight). Values of
    shape (N, ...) count once per sample (their other axes averaged); a 0-d value with
    ``sample_weight=n`` counts n times."""

    def __init__(self, name='mean', dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer='zeros', dtype=self.dtype, name='total')
        self.count = self.add_variable(shape=(), initializer='zeros', dtype=self.dtype, name='count')

    def update_state(self, values, sample_weight=None):
        if _mask_of(values) is None and (sample_weight is None or np.ndim(sample_weight) == 0):
            # the common cases, without the general broadcasting: per-sample values, or a batch
            # mean weighted by the batch size (fit's loss tracker)
            values = _raw(values)
            if values.ndim > 1:
                values = values.mean(axis=tuple(range(1, values.ndim)))
            if sample_weight is None:
                _add(self.total, values.sum())
                _add(self.count, values.shape[0] if values.ndim else 1)
            else:
                w = float(sample_weight)
                _add(self.total, values.mean() * w if values.ndim else values * w)
                _add(self.count, w)
            return
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, 'mean', self.dtype)
        self.total.assign_add(values.sum())
        if sample_weight is not None:
            self.count.assign_add(sample_weight.sum())
        else:
            self.count.assign_add(values.shape[0] if values.ndim >= 1 else 1)

    def result(self):
        return _result(_divide_no_nan(self.total.data, self.count.data))


class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function ``fn(y_true, y_pred, **kwargs)`` (a metric
    function, a loss function, or any callable returning values with a batch axis; a 0-d value
    counts once per sample of the batch). The mask of ``y_pred`` weighs the values."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = _mask_of(y_pred)
        with no_grad():
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        values_mask = _mask_of(values)
        values = _raw(values)
        if mask is None and values_mask is None:
            return super().update_state(values, sample_weight=sample_weight)
        if mask is not None:
            weights = None if sample_weight is None else _like(sample_weight, values).astype(self.dtype)
            sample_weight = apply_mask(weights, _like(mask, values), self.dtype, reduction='sum')
        super().update_state(_WithMask(values, values_mask), sample_weight=sample_weight)

    def get_config(self):
        from .saving import serialize_keras_object
        config = {**super().get_config(), 'fn': serialize_keras_object(self._fn)}
        config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config):
        if 'fn' in config:
            from .saving import deserialize_keras_object
            config = dict(config, fn=deserialize_keras_object(config['fn']))
        return cls(**config)


class _WithMask:
    """Values and the mask a function attached to them, handed to ``Mean.update_state``."""
    __slots__ = ('data', '_keras_mask')

    def __init__(self, data, mask):
        self.data, self._keras_mask = data, mask


class _Wrapped(MeanMetricWrapper):
    """A built-in MeanMetricWrapper: ``fn`` fixed by the class, ``get_config`` without it."""
    fn = None
    config_keys = ()

    def __init__(self, name=None, dtype=None, **kwargs):
        super().__init__(type(self).fn, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self):
        config = Metric.get_config(self)
        config.update({k: getattr(self, k) for k in self.config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# --- accuracies ------------------------------------------------------------------------------------------------
def accuracy(y_true, y_pred):
    """[y_true == y_pred] elementwise (Keras' plain ``Accuracy``)."""
    y_true, y_pred = _raw_pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true.astype(y_pred.dtype, copy=False), y_pred)
    return Tensor((y_true == y_pred).astype(backend.floatx))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """[y_true == (y_pred > threshold)] elementwise."""
    y_true, y_pred = _raw_pair(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return Tensor((y_true == (y_pred > threshold).astype(y_true.dtype)).astype(backend.floatx))


def categorical_accuracy(y_true, y_pred):
    """[argmax y_true == argmax y_pred] per sample (one-hot labels)."""
    y_true, y_pred = _raw_pair(y_true, y_pred)
    return Tensor((y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(backend.floatx))


def sparse_categorical_accuracy(y_true, y_pred):
    """[y_true == argmax y_pred] per sample (class-index labels, with or without a trailing 1)."""
    y_true, y_pred = _raw_pair(y_true, y_pred)
    shape = y_true.shape
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    matches = (y_true == y_pred.argmax(axis=-1)).astype(backend.floatx)
    if len(shape) == y_pred.ndim and shape[-1] == 1:
        matches = matches.reshape(shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return Tensor(matches)


def _in_top_k(targets, predictions, k):
    """Whether the prediction of each target class is among the ``k`` largest (ties count in)."""
    xp = get_array_module(predictions)
    k = min(int(k), predictions.shape[-1])
    kth = -xp.partition(-predictions, k - 1, axis=-1)[..., k - 1]
    target = xp.take_along_axis(predictions, targets.astype(np.int64)[:, None], axis=-1)[:, 0]
    return target >= kth


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Whether the true class (argmax of one-hot ``y_true``) is among the ``k`` top predictions."""
    y_true, y_pred = _raw_pair(y_true, y_pred)
    labels = y_true.argmax(axis=-1)
    shape = labels.shape
    matches = _in_top_k(labels.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return Tensor(matches.astype(backend.floatx).reshape(shape))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """Whether the class index ``y_true`` is among the ``k`` top predictions; with
    ``from_sorted_ids`` ``y_pred`` holds class ids sorted by score."""
    y_true, y_pred = _raw_pair(y_true, y_pred)
    shape = y_true.shape
    labels = y_true.reshape(-1)
    xp = get_array_module(y_pred)
    if from_sorted_ids:
        ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
        matches = xp.any(labels[:, None].astype(ids.dtype) == ids, axis=1)
    else:
        matches = _in_top_k(labels, y_pred.reshape(-1, y_pred.shape[-1]), k)
    return Tensor(matches.astype(backend.floatx).reshape(shape))


class Accuracy(_Wrapped):
    """How often predictions equal labels."""
    fn = staticmethod(accuracy)

    def __init__(self, name='accuracy', dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryAccuracy(_Wrapped):
    """How often predictions above ``threshold`` match binary labels."""
    fn = staticmethod(binary_accuracy)
    config_keys = ('threshold',)

    def __init__(self, name='binary_accuracy', dtype=None, threshold=0.5):
        super().__init__(name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(_Wrapped):
    """How often the arg-max prediction matches the one-hot label."""
    fn = staticmethod(categorical_accuracy)

    def __init__(self, name='categorical_accuracy', dtype=None):
        super().__init__(name=name, dtype=dtype)


class SparseCategoricalAccuracy(_Wrapped):
    """How often the arg-max prediction matches the class-index label."""
    fn = staticmethod(sparse_categorical_accuracy)

    def __init__(self, name='sparse_categorical_accuracy', dtype=None):
        super().__init__(name=name, dtype=dtype)


class TopKCategoricalAccuracy(_Wrapped):
    """How often the one-hot label is among the ``k`` top predictions."""
    fn = staticmethod(top_k_categorical_accuracy)
    config_keys = ('k',)

    def __init__(self, k=5, name='top_k_categorical_accuracy', dtype=None):
        super().__init__(name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(_Wrapped):
    """How often the class-index label is among the ``k`` top predictions."""
    fn = staticmethod(sparse_top_k_categorical_accuracy)
    config_keys = ('k',)

    def __init__(self, k=5, name='sparse_top_k_categorical_accuracy', dtype=None, from_sorted_ids=False):
        super().__init__(name=name, dtype=dtype, k=k, from_sorted_ids=from_sorted_ids)

    def get_config(self):
        config = super().get_config()
        if self.from_sorted_ids:
            config['from_sorted_ids'] = True
        return config


# --- regression, probabilistic and hinge metrics (the loss functions, averaged) ------------------------------------
def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample sum(l2_normalize(y_true) l2_normalize(y_pred)) over ``axis`` (1: same direction)."""
    return -losses_module.cosine_similarity(y_true, y_pred, axis=axis)


mean_squared_error = mse = losses_module.mean_squared_error
mean_absolute_error = mae = losses_module.mean_absolute_error
mean_absolute_percentage_error = mape = losses_module.mean_absolute_percentage_error
mean_squared_logarithmic_error = msle = losses_module.mean_squared_logarithmic_error
log_cosh = logcosh = losses_module.log_cosh
kl_divergence = losses_module.kl_divergence
poisson = losses_module.poisson
hinge = losses_module.hinge
squared_hinge = losses_module.squared_hinge
categorical_hinge = losses_module.categorical_hinge
binary_crossentropy = losses_module.binary_crossentropy
categorical_crossentropy = losses_module.categorical_crossentropy
sparse_categorical_crossentropy = losses_module.sparse_categorical_crossentropy
binary_focal_crossentropy = losses_module.binary_focal_crossentropy
categorical_focal_crossentropy = losses_module.categorical_focal_crossentropy
huber = losses_module.huber


class MeanSquaredError(_Wrapped):
    """The running mean of mean((y_true - y_pred)^2)."""
    fn = staticmethod(mean_squared_error)

    def __init__(self, name='mean_squared_error', dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsoluteError(_Wrapped):
    """The running mean of mean(|y_true - y_pred|)."""
    fn = staticmethod(mean_absolute_error)

    def __init__(self, name='mean_absolute_error', dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsolutePercentageError(_Wrapped):
    """The running mean of 100 mean(|(y_true - y_pred) / y_true|)."""
    fn = staticmethod(mean_absolute_percentage_error)

    def __init__(self, name='mean_absolute_percentage_error', dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_Wrapped):
    """The running mean of mean((log(y_pred + 1) - log(y_true + 1))^2)."""
    fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, name='mean_squared_logarithmic_error', dtype=None):
        super().__init__(name=name, dtype=dtype)


class CosineSimilarity(_Wrapped):
    """The running mean of the cosine similarity of labels and predictions (1: same direction).
    ``get_config`` reports ``axis`` too, which Keras 3 leaves out."""
    fn = staticmethod(cosine_similarity)
    config_keys = ('axis',)

    def __init__(self, name='cosine_similarity', dtype=None, axis=-1):
        super().__init__(name=name, dtype=dtype, axis=axis)


class LogCoshError(_Wrapped):
    """The running mean of mean(log(cosh(y_pred - y_true)))."""
    fn = staticmethod(log_cosh)

    def __init__(self, name='logcosh', dtype=None):
        super().__init__(name=name, dtype=dtype)


class KLDivergence(_Wrapped):
    """The running mean of the Kullback-Leibler divergence of predictions from labels."""
    fn = staticmethod(kl_divergence)

    def __init__(self, name='kl_divergence', dtype=None):
        super().__init__(name=name, dtype=dtype)


class Poisson(_Wrapped):
    """The running mean of mean(y_pred - y_true log(y_pred))."""
    fn = staticmethod(poisson)

    def __init__(self, name='poisson', dtype=None):
        super().__init__(name=name, dtype=dtype)


class Hinge(_Wrapped):
    """The running mean of the hinge loss."""
    fn = staticmethod(hinge)

    def __init__(self, name='hinge', dtype=None):
        super().__init__(name=name, dtype=dtype)


class SquaredHinge(_Wrapped):
    """The running mean of the squared hinge loss."""
    fn = staticmethod(squared_hinge)

    def __init__(self, name='squared_hinge', dtype=None):
        super().__init__(name=name, dtype=dtype)


class CategoricalHinge(_Wrapped):
    """The running mean of the categorical hinge loss."""
    fn = staticmethod(categorical_hinge)

    def __init__(self, name='categorical_hinge', dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryCrossentropy(_Wrapped):
    """The running mean of the binary cross-entropy."""
    fn = staticmethod(binary_crossentropy)
    config_keys = ('from_logits', 'label_smoothing')

    def __init__(self, name='binary_crossentropy', dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(_Wrapped):
    """The running mean of the categorical cross-entropy."""
    fn = staticmethod(categorical_crossentropy)
    config_keys = ('from_logits', 'label_smoothing', 'axis')

    def __init__(self, name='categorical_crossentropy', dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapped):
    """The running mean of the sparse categorical cross-entropy (``ignore_class`` left out)."""
    fn = staticmethod(sparse_categorical_crossentropy)
    config_keys = ('from_logits', 'ignore_class', 'axis')

    def __init__(self, name='sparse_categorical_crossentropy', dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis)


class RootMeanSquaredError(Mean):
    """sqrt of the running (weighted) mean of (y_pred - y_true)^2."""

    def __init__(self, name='root_mean_squared_error', dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _raw_pair(y_true, y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true.astype(self.dtype, copy=False),
                                                        y_pred.astype(self.dtype, copy=False))
        d = y_pred - y_true
        super().update_state(d * d, sample_weight=sample_weight)

    def result(self):
        return _result(get_array_module(self.total.data).sqrt(super().result().data))


class R2Score(Metric):
    """The coefficient of determination 1 - SS_res / SS_tot per output, aggregated over outputs
    ('uniform_average', 'variance_weighted_average' or None for the vector); ``num_regressors``
    gives the adjusted R^2."""

    def __init__(self, class_aggregation='uniform_average', num_regressors=0, name='r2_score', dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in (None, 'uniform_average', 'variance_weighted_average'):
            raise ValueError(f"R2Score: class_aggregation must be None, 'uniform_average' or "
                             f"'variance_weighted_average', got {class_aggregation!r}.")
        if num_regressors < 0:
            raise ValueError(f'R2Score: num_regressors must be >= 0, got {num_regressors}.')
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable(shape=(), initializer='zeros', name='num_samples')
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(f'R2Score expects 2-D inputs of shape (batch_size, output_dim); got y_pred of shape '
                             f'{tuple(y_pred_shape)} and y_true of shape {tuple(y_true_shape)}.')
        n = y_pred_shape[-1]
        self.squared_sum = self.add_variable(shape=(n,), initializer='zeros', name='squared_sum')
        self.sum = self.add_variable(shape=(n,), initializer='zeros', name='sum')
        self.total_mse = self.add_variable(shape=(n,), initializer='zeros', name='residual')
        self.count = self.add_variable(shape=(n,), initializer='zeros', name='count')
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _raw_pair(y_true, y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true.astype(self.dtype, copy=False),
                                                        y_pred.astype(self.dtype, copy=False))
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        xp = get_array_module(y_pred)
        w = xp.asarray(1, dtype=self.dtype) if sample_weight is None else _like(sample_weight, y_pred).astype(self.dtype)
        if w.ndim == 1:
            w = w[:, None]
        w = xp.broadcast_to(w, y_true.shape)
        weighted = y_true * w
        self.sum.assign_add(weighted.sum(axis=0))
        self.squared_sum.assign_add((y_true * weighted).sum(axis=0))
        self.total_mse.assign_add(((y_true - y_pred) ** 2 * w).sum(axis=0))
        self.count.assign_add(w.sum(axis=0))
        self.num_samples.assign_add(y_true.size)

    def result(self):
        xp = get_array_module(self.sum.data)
        with np.errstate(divide='ignore', invalid='ignore'):
            mean = self.sum.data / self.count.data
            total = self.squared_sum.data - self.sum.data * mean
            raw = 1 - self.total_mse.data / total
        raw = xp.where(xp.isinf(raw), 0.0, raw).astype(self.dtype)
        if self.class_aggregation == 'uniform_average':
            score = raw.mean()
        elif self.class_aggregation == 'variance_weighted_average':
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        if self.num_regressors != 0:
            n = float(self.num_samples.data)
            if self.num_regressors > n - 1:
                warnings.warn('R2Score: more independent predictors than data points in the adjusted R2 score; '
                              'falling back to the standard R2 score.', stacklevel=2)
            elif self.num_regressors == n - 1:
                warnings.warn('R2Score: division by zero in the adjusted R2 score; falling back to the standard '
                              'R2 score.', stacklevel=2)
            else:
                score = 1 - (1 - score) * (n - 1) / (n - self.num_regressors - 1)
        return _result(xp.asarray(score, dtype=self.dtype))

    def reset_state(self):
        for v in self.variables:
            v.assign(get_array_module(v.data).zeros(v.shape, v.dtype))

    def get_config(self):
        return {**super().get_config(), 'class_aggregation': self.class_aggregation,
                'num_regressors': self.num_regressors}


# --- confusion counts ---------------------------------------------------------------------------------------------
TRUE_POSITIVES, FALSE_POSITIVES, TRUE_NEGATIVES, FALSE_NEGATIVES = 'tp', 'fp', 'tn', 'fn'


def _to_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def parse_init_thresholds(thresholds, default_threshold=0.5):
    if thresholds is not None:
        bad = [t for t in _to_list(thresholds) if t is None or t < 0 or t > 1]
        if bad:
            raise ValueError(f'Threshold values must be in [0, 1]; got {bad}.')
    return _to_list(default_threshold if thresholds is None else thresholds)


def is_evenly_distributed_thresholds(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def _filter_top_k(x, k):
    """Keep the ``k`` largest entries of each row, the others become -1e10."""
    xp = get_array_module(x)
    k = min(int(k), x.shape[-1])
    rows = x.reshape(-1, x.shape[-1])
    top = xp.argpartition(-rows, k - 1, axis=-1)[:, :k]
    keep = xp.zeros(rows.shape, dtype=bool)
    keep[xp.arange(rows.shape[0])[:, None], top] = True
    return xp.where(keep.reshape(x.shape), x, xp.asarray(NEG_INF, dtype=x.dtype))


def _bucket_sums(values, buckets, n):
    """Per row of ``values`` (rows: leading axis when 2-D), the sums of the values falling in
    each of ``n`` buckets; bucket -1 (below the first threshold) is dropped. No host sync."""
    xp = get_array_module(values)
    rows = values.shape[0] if values.ndim == 2 else 1
    ids = (buckets + 1).reshape(rows, -1) + (n + 1) * xp.arange(rows)[:, None]
    ids, flat = ids.reshape(-1), values.reshape(-1)
    if xp is np:
        sums = np.bincount(ids, weights=flat, minlength=rows * (n + 1))
    else:
        sums = xp.zeros(rows * (n + 1), dtype=np.float64)
        backend.scatter_add(sums, ids, flat.astype(np.float64))
    sums = sums.reshape(rows, n + 1)[:, 1:].astype(values.dtype)
    return sums if values.ndim == 2 else sums[0]


def update_confusion_matrix_variables(variables_to_update, y_true, y_pred, thresholds, top_k=None, class_id=None,
                                      sample_weight=None, multi_label=False, label_weights=None,
                                      thresholds_distributed_evenly=False):
    """Add the weighted true/false positive/negative counts of one batch, for each threshold
    (``pred > threshold``), to the variables named 'tp', 'fp', 'tn', 'fn' of ``variables_to_update``
    (Keras' ``update_confusion_matrix_variables``, also its bucket form for evenly spaced
    thresholds). Labels count as positive when nonzero."""
    if multi_label and label_weights is not None:
        raise ValueError('label_weights for multi-label data must be applied outside '
                         'update_confusion_matrix_variables when multi_label=True.')
    if not variables_to_update:
        return
    unknown = [k for k in variables_to_update if k not in (TRUE_POSITIVES, FALSE_POSITIVES, TRUE_NEGATIVES,
                                                           FALSE_NEGATIVES)]
    if unknown:
        raise ValueError(f"Invalid confusion-matrix keys {unknown}; valid keys are 'tp', 'fp', 'tn', 'fn'.")
    dtype = next(iter(variables_to_update.values())).dtype
    y_true, y_pred = _raw_pair(y_true, y_pred)
    y_true, y_pred = y_true.astype(dtype, copy=False), y_pred.astype(dtype, copy=False)
    xp = get_array_module(y_pred)
    with_epsilon = thresholds_distributed_evenly and (thresholds[0] < 0.0 or thresholds[-1] > 1.0)
    thresholds = xp.asarray(np.asarray(thresholds, dtype=dtype))
    T = thresholds.shape[0]
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = _like(sample_weight, y_pred).astype(dtype)[..., None]
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(f'When class_id is given, y_pred must be 2-D (num_samples, num_classes); got shape '
                             f'{tuple(y_pred.shape)}.')
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if label_weights is not None:
        label_weights = xp.broadcast_to(_like(label_weights, y_pred).astype(dtype), y_pred.shape)
    weights = None
    if sample_weight is not None:
        weights = xp.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None:
        weights = label_weights if weights is None else weights * label_weights
    labels = y_true != 0

    if thresholds_distributed_evenly:
        w = xp.ones((), dtype) if weights is None else weights
        p = xp.clip(y_pred, 0.0, 1.0)
        true_labels = labels.astype(dtype) * w
        false_labels = (1 - labels.astype(dtype)) * w
        true_labels, false_labels = (xp.broadcast_to(true_labels, p.shape), xp.broadcast_to(false_labels, p.shape))
        buckets = xp.ceil(p * (T - 1)) - 1
        if with_epsilon:
            buckets = xp.maximum(buckets, 0)
        buckets = buckets.astype(np.int64)
        if multi_label:
            true_labels, false_labels, buckets = true_labels.T, false_labels.T, buckets.T
        else:
            true_labels, false_labels, buckets = true_labels.reshape(-1), false_labels.reshape(-1), buckets.reshape(-1)
        tp_buckets = _bucket_sums(xp.ascontiguousarray(true_labels), xp.ascontiguousarray(buckets), T)
        fp_buckets = _bucket_sums(xp.ascontiguousarray(false_labels), xp.ascontiguousarray(buckets), T)
        tp = xp.flip(xp.cumsum(xp.flip(tp_buckets, -1), axis=-1), -1)
        fp = xp.flip(xp.cumsum(xp.flip(fp_buckets, -1), axis=-1), -1)
        total_true, total_false = true_labels.sum(axis=-1), false_labels.sum(axis=-1)
        if multi_label:
            tp, fp = tp.T, fp.T
        counts = {TRUE_POSITIVES: tp, FALSE_POSITIVES: fp,
                  TRUE_NEGATIVES: lambda: total_false - fp, FALSE_NEGATIVES: lambda: total_true - tp}
    else:
        if multi_label:
            pred_is_pos = y_pred[None] > thresholds.reshape(T, 1, 1)          # (T, N, L)
            label_is_pos = xp.broadcast_to(labels[None], pred_is_pos.shape)
            w = None if weights is None else weights[None]
            axis = 1
        else:
            pred_is_pos = y_pred.reshape(1, -1) > thresholds.reshape(T, 1)    # (T, M)
            label_is_pos = xp.broadcast_to(labels.reshape(1, -1), pred_is_pos.shape)
            w = None if weights is None else weights.reshape(1, -1)
            axis = 1

        def count(label, pred):
            both = label & pred
            return (both.astype(dtype) if w is None else xp.where(both, w, 0).astype(dtype)).sum(axis=axis)
        counts = {TRUE_POSITIVES: lambda: count(label_is_pos, pred_is_pos),
                  FALSE_POSITIVES: lambda: count(~label_is_pos, pred_is_pos),
                  TRUE_NEGATIVES: lambda: count(~label_is_pos, ~pred_is_pos),
                  FALSE_NEGATIVES: lambda: count(label_is_pos, ~pred_is_pos)}
    for key, variable in variables_to_update.items():
        value = counts[key]
        variable.assign_add(value() if callable(value) else value)


class _ConfusionMatrixConditionCount(Metric):
    _condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_init_thresholds(thresholds, default_threshold=0.5)
        self._thresholds_distributed_evenly = is_evenly_distributed_thresholds(self.thresholds)
        self.accumulator = self.add_variable(shape=(len(self.thresholds),), initializer='zeros', name='accumulator')

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables({self._condition: self.accumulator}, y_true, y_pred, self.thresholds,
                                          thresholds_distributed_evenly=self._thresholds_distributed_evenly,
                                          sample_weight=sample_weight)

    def result(self):
        a = self.accumulator.data
        return _result(a[0].copy() if len(self.thresholds) == 1 else a.copy())

    def get_config(self):
        return {**super().get_config(), 'thresholds': self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of positive labels predicted above each threshold."""
    _condition = TRUE_POSITIVES


class FalsePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of negative labels predicted above each threshold."""
    _condition = FALSE_POSITIVES


class TrueNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of negative labels predicted at or below each threshold."""
    _condition = TRUE_NEGATIVES


class FalseNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of positive labels predicted at or below each threshold."""
    _condition = FALSE_NEGATIVES


class _PrecisionRecall(Metric):
    _second = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_init_thresholds(thresholds, default_threshold=0.5 if top_k is None else NEG_INF)
        self._thresholds_distributed_evenly = is_evenly_distributed_thresholds(self.thresholds)
        self.true_positives = self.add_variable(shape=(len(self.thresholds),), initializer='zeros',
                                                name='true_positives')
        second = 'false_positives' if self._second == FALSE_POSITIVES else 'false_negatives'
        setattr(self, second, self.add_variable(shape=(len(self.thresholds),), initializer='zeros', name=second))
        self._second_variable = getattr(self, second)

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables({TRUE_POSITIVES: self.true_positives, self._second: self._second_variable},
                                          y_true, y_pred, self.thresholds,
                                          thresholds_distributed_evenly=self._thresholds_distributed_evenly,
                                          top_k=self.top_k, class_id=self.class_id, sample_weight=sample_weight)

    def result(self):
        tp = self.true_positives.data
        r = _divide_no_nan(tp, tp + self._second_variable.data)
        return _result(r[0] if len(self.thresholds) == 1 else r)

    def reset_state(self):
        for v in (self.true_positives, self._second_variable):
            v.assign(get_array_module(v.data).zeros(v.shape, v.dtype))

    def get_config(self):
        return {**super().get_config(), 'thresholds': self.init_thresholds, 'top_k': self.top_k,
                'class_id': self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp) at each threshold; ``top_k`` counts only the k top predictions of each
    sample as positive; ``class_id`` looks at one class."""
    _second = FALSE_POSITIVES


class Recall(_PrecisionRecall):
    """tp / (tp + fn) at each threshold (``top_k`` and ``class_id`` as for Precision)."""
    _second = FALSE_NEGATIVES


class SensitivitySpecificityBase(Metric):
    """Confusion counts at ``num_thresholds`` evenly spaced thresholds in [0, 1]."""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if num_thresholds <= 0:
            raise ValueError(f'{type(self).__name__}: num_thresholds must be an integer > 0, got {num_thresholds}.')
        self.value = value
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
            self._thresholds_distributed_evenly = False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds = [0.0] + inner + [1.0]
            self._thresholds_distributed_evenly = True
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), initializer='zeros', name='true_positives')
        self.false_positives = self.add_variable(shape=(n,), initializer='zeros', name='false_positives')
        self.true_negatives = self.add_variable(shape=(n,), initializer='zeros', name='true_negatives')
        self.false_negatives = self.add_variable(shape=(n,), initializer='zeros', name='false_negatives')

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables(
            {TRUE_POSITIVES: self.true_positives, TRUE_NEGATIVES: self.true_negatives,
             FALSE_POSITIVES: self.false_positives, FALSE_NEGATIVES: self.false_negatives},
            y_true, y_pred, self.thresholds, thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            class_id=self.class_id, sample_weight=sample_weight)

    def _rates(self):
        tp, fp = self.true_positives.data, self.false_positives.data
        tn, fn = self.true_negatives.data, self.false_negatives.data
        return {'recall': _divide_no_nan(tp, tp + fn), 'specificity': _divide_no_nan(tn, tn + fp),
                'precision': _divide_no_nan(tp, tp + fp)}

    def _max_under_constraint(self, constrained, dependent):
        xp = get_array_module(dependent)
        feasible = constrained >= self.value
        return _result(xp.maximum(xp.where(feasible, dependent, 0).max(), 0).astype(self.dtype))

    def get_config(self):
        return {**super().get_config(), 'class_id': self.class_id}


def _check_unit(owner, name, value):
    if value < 0 or value > 1:
        raise ValueError(f'{owner}: {name} must be in [0, 1], got {value}.')


class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """The best sensitivity (recall) among thresholds whose specificity is >= ``specificity``."""

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit('SensitivityAtSpecificity', 'specificity', specificity)
        self.specificity, self.num_thresholds = specificity, num_thresholds
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r['specificity'], r['recall'])

    def get_config(self):
        return {**super().get_config(), 'num_thresholds': self.num_thresholds, 'specificity': self.specificity}


class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """The best specificity among thresholds whose sensitivity is >= ``sensitivity``."""

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit('SpecificityAtSensitivity', 'sensitivity', sensitivity)
        self.sensitivity, self.num_thresholds = sensitivity, num_thresholds
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r['recall'], r['specificity'])

    def get_config(self):
        return {**super().get_config(), 'num_thresholds': self.num_thresholds, 'sensitivity': self.sensitivity}


class PrecisionAtRecall(SensitivitySpecificityBase):
    """The best precision among thresholds whose recall is >= ``recall``."""

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit('PrecisionAtRecall', 'recall', recall)
        self.recall, self.num_thresholds = recall, num_thresholds
        super().__init__(value=recall, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r['recall'], r['precision'])

    def get_config(self):
        return {**super().get_config(), 'num_thresholds': self.num_thresholds, 'recall': self.recall}


class RecallAtPrecision(SensitivitySpecificityBase):
    """The best recall among thresholds whose precision is >= ``precision``."""

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit('RecallAtPrecision', 'precision', precision)
        self.precision, self.num_thresholds = precision, num_thresholds
        super().__init__(value=precision, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r['precision'], r['recall'])

    def get_config(self):
        return {**super().get_config(), 'num_thresholds': self.num_thresholds, 'precision': self.precision}


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from confusion counts at ``num_thresholds``
    thresholds (or the given ``thresholds``): a Riemann sum ('interpolation', 'minoring',
    'majoring'); for PR with 'interpolation' the interpolation of Davis & Goadrich (2006), as
    Keras. ``multi_label``: one curve per label, averaged (weighted by ``label_weights``);
    otherwise the labels are flattened into one curve (``label_weights`` weighting classes)."""

    def __init__(self, num_thresholds=200, curve='ROC', summation_method='interpolation', name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        curves = {'roc': 'ROC', 'pr': 'PR', 'prgain': 'PRGAIN'}
        methods = ('interpolation', 'majoring', 'minoring')
        if str(curve).lower() not in curves:
            raise ValueError(f'AUC: invalid curve {curve!r}; expected "ROC", "PR" or "PRGAIN".')
        if str(summation_method).lower() not in methods:
            raise ValueError(f'AUC: invalid summation_method {summation_method!r}; expected one of {list(methods)}.')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(thresholds)
            self._thresholds_distributed_evenly = is_evenly_distributed_thresholds(
                np.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(f'AUC: num_thresholds must be an integer > 1, got {num_thresholds}.')
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + list(thresholds) + [1.0 + EPSILON])
        self.curve = curves[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, dtype=self.dtype)
        self._from_logits = from_logits
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError('AUC: num_labels is needed only when multi_label=True.')
            self._build(None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f'AUC: y_pred must have rank 2 when multi_label=True; got shape {tuple(shape)}.')
            self._num_labels = shape[1]
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        self._build_input_shape = shape
        for name in ('true_positives', 'false_positives', 'true_negatives', 'false_negatives'):
            setattr(self, name, self.add_variable(shape=variable_shape, initializer='zeros', name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _raw(y_pred)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            from .functional.activation import stable_sigmoid
            y_pred = stable_sigmoid(y_pred)
        update_confusion_matrix_variables(
            {TRUE_POSITIVES: self.true_positives, TRUE_NEGATIVES: self.true_negatives,
             FALSE_POSITIVES: self.false_positives, FALSE_NEGATIVES: self.false_negatives},
            y_true, y_pred, self._thresholds, thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)

    def _by_label(self, values):
        if not self.multi_label:
            return values.sum()
        by_label = values.sum(axis=0)
        if self.label_weights is None:
            return by_label.mean()
        w = _like(self.label_weights, values)
        return _divide_no_nan((by_label * w).sum(), w.sum())

    def interpolate_pr_auc(self):
        n = self.num_thresholds
        tp, fp, fn = self.true_positives.data, self.false_positives.data, self.false_negatives.data
        xp = get_array_module(tp)
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        prec_slope = _divide_no_nan(dtp, xp.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        safe_p_ratio = xp.where((p[:n - 1] > 0) & (p[1:] > 0), _divide_no_nan(p[:n - 1], xp.maximum(p[1:], 0)),
                                xp.ones_like(p[1:]))
        increment = _divide_no_nan(prec_slope * (dtp + intercept * xp.log(safe_p_ratio)),
                                   xp.maximum(tp[1:] + fn[1:], 0))
        return _result(xp.asarray(self._by_label(increment), dtype=self.dtype))

    def result(self):
        if self.curve == 'PR' and self.summation_method == 'interpolation':
            return self.interpolate_pr_auc()
        n = self.num_thresholds
        tp, fp = self.true_positives.data, self.false_positives.data
        tn, fn = self.true_negatives.data, self.false_negatives.data
        xp = get_array_module(tp)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == 'ROC':
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == 'PR':
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:
            scaling = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scaling * _divide_no_nan(fn, tp)
            precision_gain = 1.0 - scaling * _divide_no_nan(fp, tp)
            recall_gain = xp.maximum(xp.where(tp == 0, 0.0, recall_gain), 0.0)
            precision_gain = xp.where(tp == 0, 1.0, precision_gain)
            x, y = recall_gain, precision_gain
        if self.summation_method == 'interpolation':
            heights = (y[:n - 1] + y[1:]) / 2.0
        elif self.summation_method == 'minoring':
            heights = xp.minimum(y[:n - 1], y[1:])
        else:
            heights = xp.maximum(y[:n - 1], y[1:])
        riemann = (x[:n - 1] - x[1:]) * heights
        return _result(xp.asarray(self._by_label(riemann), dtype=self.dtype))

    def reset_state(self):
        if self._built:
            for v in (self.true_positives, self.false_positives, self.true_negatives, self.false_negatives):
                v.assign(get_array_module(v.data).zeros(v.shape, v.dtype))

    def get_config(self):
        config = {**super().get_config(), 'num_thresholds': self.num_thresholds, 'curve': self.curve,
                  'summation_method': self.summation_method, 'multi_label': self.multi_label,
                  'num_labels': self.num_labels,
                  'label_weights': None if self.label_weights is None else self.label_weights.tolist(),
                  'from_logits': self._from_logits}
        if self._init_from_thresholds:
            config['thresholds'] = [float(t) for t in self.thresholds[1:-1]]
        return config


# --- F-scores ---------------------------------------------------------------------------------------------------------
class FBetaScore(Metric):
    """F-beta = (1 + beta^2) precision recall / (beta^2 precision + recall), per class (``average``
    None), or 'micro' (global counts), 'macro' (mean over classes), 'weighted' (by support).
    ``threshold`` None: the arg-max of each sample is the positive class (ties all positive)."""

    def __init__(self, average=None, beta=1.0, threshold=None, name='fbeta_score', dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, 'micro', 'macro', 'weighted'):
            raise ValueError(f"{type(self).__name__}: average must be None, 'micro', 'macro' or 'weighted', "
                             f'got {average!r}.')
        if not isinstance(beta, float):
            raise ValueError(f'{type(self).__name__}: beta must be a Python float, got {beta!r} '
                             f'of type {type(beta).__name__}.')
        if beta <= 0.0:
            raise ValueError(f'{type(self).__name__}: beta must be > 0, got {beta}.')
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(f'{type(self).__name__}: threshold must be a Python float, got {threshold!r} '
                                 f'of type {type(threshold).__name__}.')
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(f'{type(self).__name__}: threshold must satisfy 0 < threshold <= 1, got {threshold}.')
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == 'micro' else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(f'{type(self).__name__} expects 2-D inputs of shape (batch_size, output_dim); got '
                             f'y_pred of shape {tuple(y_pred_shape)} and y_true of shape {tuple(y_true_shape)}.')
        shape = (y_pred_shape[-1],) if self.average != 'micro' else ()
        for name in ('true_positives', 'false_positives', 'false_negatives', 'intermediate_weights'):
            setattr(self, name, self.add_variable(shape=shape, initializer='zeros', dtype=self.dtype, name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _raw_pair(y_true, y_pred)
        y_true, y_pred = y_true.astype(self.dtype, copy=False), y_pred.astype(self.dtype, copy=False)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        xp = get_array_module(y_pred)
        if self.threshold is None:
            top = y_pred.max(axis=-1, keepdims=True)
            y_pred = (y_pred >= top) & (abs(y_pred) > 1e-9)
        else:
            y_pred = y_pred > self.threshold
        y_pred = y_pred.astype(self.dtype)
        w = None if sample_weight is None else _like(sample_weight, y_pred).astype(self.dtype)

        def weighted_sum(v):
            if w is not None:
                v = v * xp.expand_dims(w, 1)
            return v.sum(axis=self.axis)
        self.true_positives.assign_add(weighted_sum(y_pred * y_true))
        self.false_positives.assign_add(weighted_sum(y_pred * (1 - y_true)))
        self.false_negatives.assign_add(weighted_sum((1 - y_pred) * y_true))
        self.intermediate_weights.assign_add(weighted_sum(y_true))

    def result(self):
        tp, fp, fn = self.true_positives.data, self.false_positives.data, self.false_negatives.data
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        f = precision * recall / (self.beta ** 2 * precision + recall + EPSILON) * (1 + self.beta ** 2)
        if self.average == 'weighted':
            w = self.intermediate_weights.data
            f = (f * (w / (w.sum() + EPSILON))).sum()
        elif self.average is not None:
            f = f.mean()
        return _result(get_array_module(tp).asarray(f, dtype=self.dtype))

    def reset_state(self):
        for v in self.variables:
            v.assign(get_array_module(v.data).zeros(v.shape, v.dtype))

    def get_config(self):
        return {**super().get_config(), 'average': self.average, 'beta': self.beta, 'threshold': self.threshold}


class F1Score(FBetaScore):
    """F-beta with beta = 1: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name='f1_score', dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config['beta']
        return config


# --- intersection over union ---------------------------------------------------------------------------------------
def confusion_matrix(labels, predictions, num_classes, weights=None, dtype='int32'):
    """The (num_classes, num_classes) matrix counting (label, prediction) pairs, weighted."""
    xp = get_array_module(predictions)
    labels, predictions = squeeze_or_expand_to_same_rank(labels, predictions)
    ids = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    w = xp.ones(ids.shape, np.float64) if weights is None else weights.astype(np.float64)
    if xp is np:
        cm = np.bincount(ids.reshape(-1), weights=w.reshape(-1), minlength=num_classes * num_classes)
    else:
        cm = xp.zeros(num_classes * num_classes, np.float64)
        backend.scatter_add(cm, ids.reshape(-1), w.reshape(-1))
    return cm.reshape(num_classes, num_classes).astype(dtype)


class _IoUBase(Metric):
    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(name=name, dtype=dtype or 'int')
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable(name='total_confusion_matrix', shape=(num_classes, num_classes),
                                          initializer='zeros', dtype=self.dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _raw_pair(y_true, y_pred)
        xp = get_array_module(y_pred)
        if not self.sparse_y_true:
            y_true = y_true.argmax(axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(axis=self.axis)
        y_true = y_true.astype(self.dtype).reshape(-1)
        y_pred = y_pred.astype(self.dtype).reshape(-1)
        if sample_weight is None:
            w = xp.ones(y_true.shape, self.dtype)
        else:
            sample_weight = _like(sample_weight, y_pred)
            if sample_weight.dtype.kind == 'f' and 'int' in self.dtype:
                warnings.warn(f'{type(self).__name__}: float sample weights with an integer dtype are truncated; '
                              f'use integer weights or dtype="float32".', stacklevel=2)
            w = xp.broadcast_to(sample_weight.astype(self.dtype).reshape(-1), y_true.shape)
        valid = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0) & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            valid &= y_true != self.ignore_class
        y_true = xp.where(valid, y_true, 0)
        y_pred = xp.where(valid, y_pred, 0)
        w = xp.where(valid, w, 0)
        self.total_cm.assign_add(confusion_matrix(y_true, y_pred, self.num_classes, weights=w, dtype=self.dtype))

    def reset_state(self):
        self.total_cm.assign(get_array_module(self.total_cm.data).zeros(self.total_cm.shape, self.total_cm.dtype))


class IoU(_IoUBase):
    """Intersection over union tp / (tp + fp + fn) of the classes ``target_class_ids``, averaged
    over those that occur."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name=name, num_classes=num_classes, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis, dtype=dtype)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f'{type(self).__name__}: target class id {max(target_class_ids)} is out of range '
                             f'[0, {num_classes}).')
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = self.total_cm.data
        xp = get_array_module(cm)
        rows = cm.sum(axis=0).astype(np.float32)
        cols = cm.sum(axis=1).astype(np.float32)
        tp = xp.diagonal(cm).astype(np.float32)
        denominator = rows + cols - tp
        ids = xp.asarray(self.target_class_ids)
        tp, denominator = tp[ids], denominator[ids]
        valid = (denominator > 1e-9).astype(np.float32)
        iou = xp.where(valid > 0, tp / (denominator + EPSILON), 0.0).astype(np.float32)
        return _result(xp.asarray(iou.sum(axis=self.axis) / (valid.sum() + EPSILON), dtype=np.float32))

    def get_config(self):
        return {**super().get_config(), 'num_classes': self.num_classes, 'target_class_ids': self.target_class_ids,
                'ignore_class': self.ignore_class, 'sparse_y_true': self.sparse_y_true,
                'sparse_y_pred': self.sparse_y_pred, 'axis': self.axis}


class BinaryIoU(IoU):
    """IoU of binary predictions (``y_pred >= threshold``) for the classes 0 and/or 1."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _raw_pair(y_true, y_pred)
        return super().update_state(y_true, (y_pred >= self.threshold).astype(self.dtype), sample_weight)

    def get_config(self):
        return {'target_class_ids': self.target_class_ids, 'threshold': self.threshold, 'name': self.name,
                'dtype': self.dtype}


class MeanIoU(IoU):
    """The mean IoU over all ``num_classes`` classes (class indices as labels and predictions)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(name=name, num_classes=num_classes, target_class_ids=list(range(num_classes)), axis=axis,
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred)

    def get_config(self):
        return {'num_classes': self.num_classes, 'name': self.name, 'dtype': self.dtype,
                'ignore_class': self.ignore_class, 'sparse_y_true': self.sparse_y_true,
                'sparse_y_pred': self.sparse_y_pred, 'axis': self.axis}


class OneHotIoU(IoU):
    """IoU with one-hot labels (and scores or one-hot predictions, arg-maxed)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {'num_classes': self.num_classes, 'target_class_ids': self.target_class_ids, 'name': self.name,
                'dtype': self.dtype, 'ignore_class': self.ignore_class, 'sparse_y_pred': self.sparse_y_pred,
                'axis': self.axis}


class OneHotMeanIoU(MeanIoU):
    """Mean IoU with one-hot labels."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, axis=axis, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred)

    def get_config(self):
        return {'num_classes': self.num_classes, 'name': self.name, 'dtype': self.dtype,
                'ignore_class': self.ignore_class, 'sparse_y_pred': self.sparse_y_pred, 'axis': self.axis}


# --- names, get, accuracy resolution -------------------------------------------------------------------------------
def _snake(name):
    from .layers.base import to_snake_case
    return to_snake_case(name)


_CLASSES = [Metric, Mean, Sum, MeanMetricWrapper, MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError,
            MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score, AUC,
            FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall, RecallAtPrecision,
            SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives, TruePositives, Hinge, SquaredHinge,
            CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, F1Score, FBetaScore, IoU, BinaryIoU, MeanIoU,
            OneHotIoU, OneHotMeanIoU]
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({_snake(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update({'bce': BinaryCrossentropy, 'BCE': BinaryCrossentropy, 'mse': MeanSquaredError,
                         'MSE': MeanSquaredError, 'mae': MeanAbsoluteError, 'MAE': MeanAbsoluteError,
                         'mape': MeanAbsolutePercentageError, 'MAPE': MeanAbsolutePercentageError,
                         'msle': MeanSquaredLogarithmicError, 'MSLE': MeanSquaredLogarithmicError,
                         'logcosh': LogCoshError})
_ABSTRACT = (Metric, MeanMetricWrapper)


def serialize(metric):
    from .saving import serialize_keras_object
    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    from .saving import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT,
                                    printable_module_name='metric')


def get(identifier):
    """A metric object from a name ('mae', 'auc', 'precision', 'binary_accuracy', ...: the object is
    named after the string, as Keras 3's ``compile`` names its history keys), a metric object or
    class, a function ``fn(y_true, y_pred)`` returning per-sample values, or a config dict."""
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return get(deserialize(identifier))
    if isinstance(identifier, str):
        if identifier.lower() in ('accuracy', 'acc') and identifier != 'Accuracy':
            raise ValueError(f'Metric {identifier!r} depends on the loss and label shapes: pass it to '
                             f'Model.compile(metrics=[...]), or choose binary_accuracy, categorical_accuracy '
                             f'or sparse_categorical_accuracy.')
        cls = ALL_OBJECTS_DICT.get(identifier)
        if cls is None or cls in _ABSTRACT:
            known = sorted(k for k, v in ALL_OBJECTS_DICT.items() if v not in _ABSTRACT)
            raise ValueError(f"Unknown metric {identifier!r}; known names: 'accuracy', 'acc', {known}.")
        try:
            return cls(name=identifier)
        except TypeError as exc:
            raise ValueError(f'Metric {identifier!r} needs arguments ({exc}); pass an object, e.g. '
                             f'minidl.metrics.{cls.__name__}(...).') from None
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, '__name__', None))
    raise ValueError(f'Could not interpret metric {identifier!r}: pass a name, a Metric or a function.')


def resolve_accuracy(name, loss, y_true_shape, y_pred_shape):
    """The accuracy metric that 'accuracy'/'acc' means for this loss and these shapes, named
    ``name``: binary when the loss is binary cross-entropy (Keras 2's choice, which the course
    code relied on) or the model has one output; sparse categorical when labels are class
    indices (one axis fewer than the predictions, or a trailing axis of 1); categorical otherwise."""
    pred_last = y_pred_shape[-1] if len(y_pred_shape) > 1 else 1
    if isinstance(loss, _BCELoss) or pred_last == 1:
        return BinaryAccuracy(name=name)
    sparse_shape = len(y_true_shape) == len(y_pred_shape) - 1 or tuple(y_true_shape[-1:]) == (1,)
    if isinstance(loss, _SCCELoss) or sparse_shape:
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)

