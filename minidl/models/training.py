"""Keras' training API as a mixin: ``compile``, ``fit``, ``evaluate``, ``predict``,
``train_on_batch``, ``test_on_batch`` (and Keras 2's ``fit_generator`` family).

The model class that mixes it in provides ``self(x, training=...)`` -> Tensor,
``trainable_weights``, ``losses`` (regularization penalties as scalar Tensors),
``get_weights/set_weights``, ``save_weights`` and a ``stop_training`` attribute.

One training step::

    y_pred = model(x, training=True)
    total = loss(y, y_pred) * loss_weight + sum(model.losses)
    total.backward();  optimizer.apply_gradients((w.grad, w) for w in trainable weights)

Data: ``x`` is an array, a list of arrays (one per model input) or a source of batches: an
iterator/generator yielding ``(x, y)`` (such as ``ImageDataGenerator.flow``) or a
Keras-``Sequence``-like object with ``__len__`` and ``__getitem__``. Float inputs become float32
on the active backend; integer inputs (Embedding ids) stay integer. The loss, the metrics and the
progress bar keep their sums on the device and convert them only when a value is shown or at
the end of an epoch.
"""
import functools
import itertools
import math
import warnings

import numpy as np

from .. import backend, callbacks as callbacks_module, losses as losses_module
from .. import metrics as metrics_module, optimizers as optimizers_module
from ..autograd import Tensor, no_grad
from .progbar import Progbar

_IGNORED_COMPILE_ARGS = ('run_eagerly', 'jit_compile', 'steps_per_execution', 'auto_scale_loss')


class TrainingMixin:
    """compile / fit / evaluate / predict for a model (see the module docstring)."""

    # --- compile ----------------------------------------------------------------------------
    def compile(self, optimizer='rmsprop', loss=None, metrics=None, loss_weights=None, **kwargs):
        """Choose the optimizer, loss and metrics (names or objects, as in Keras)."""
        unknown = set(kwargs) - set(_IGNORED_COMPILE_ARGS)
        if unknown:
            raise TypeError(f'compile() got unexpected arguments {sorted(unknown)}.')
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self.compiled_loss = losses_module.get(_single_output(loss, 'loss')) if loss is not None else None
        self._loss_weight = float(_single_output(loss_weights, 'loss_weights')) if loss_weights is not None else 1.0
        self._metric_specs = _metric_list(metrics)
        self._compiled_metrics = None           # built at the first batch: 'accuracy' needs the shapes
        self._loss_tracker = metrics_module.Mean(name='loss')
        self.stop_training = False
        self._is_compiled = True

    @property
    def metrics(self):
        """The loss tracker followed by the compiled metrics (built at the first batch)."""
        if not getattr(self, '_is_compiled', False):
            return []
        return [self._loss_tracker] + list(self._compiled_metrics or [])

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def _check_compiled(self, method, need_loss=True):
        if not getattr(self, '_is_compiled', False):
            raise RuntimeError(f'You must call compile() before {method}(): e.g. '
                               f"model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', "
                               f"metrics=['accuracy']).")
        if need_loss and self.compiled_loss is None:
            raise ValueError(f'{method}() needs a loss: pass loss=... to compile().')

    def _build_metrics(self, y_true, y_pred):
        if self._compiled_metrics is not None:
            return
        built = []
        for spec in self._metric_specs:
            if isinstance(spec, str) and spec.lower() in ('accuracy', 'acc'):
                built.append(metrics_module.resolve_accuracy(spec, self.compiled_loss, y_true.shape, y_pred.shape))
            else:
                built.append(metrics_module.get(spec))
        self._compiled_metrics = built

    def _reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _logs(self):
        """Current metric values as floats, sorted by name as Keras 3 logs are (one sync each)."""
        return dict(sorted((m.name, m.result()) for m in self.metrics))

    # --- one step ------------------------------------------------------------------------------
    def _compute_loss(self, y_batch, y_pred):
        """Labels on the device, and the total loss (weighted loss + regularization penalties)."""
        y_true = y_batch
        loss = self.compiled_loss(y_batch, y_pred)   # labels checked and converted once, inside
        if self._loss_weight != 1.0:
            loss = loss * self._loss_weight
        penalties = self.losses
        if penalties:
            loss = functools.reduce(lambda a, b: a + b, penalties, loss)
        return y_true, loss

    def _update_metrics(self, y_true, y_pred, loss):
        self._build_metrics(y_true, y_pred)
        n = y_pred.shape[0]
        self._loss_tracker.update_state(loss.data, sample_weight=n)
        for m in self._compiled_metrics:
            m.update_state(y_true, y_pred.data)

    def _train_step(self, x_batch, y_batch, trainable):
        for w in trainable:
            w.grad = None
        y_pred = _single_prediction(self(_to_inputs(x_batch), training=True))
        y_true, loss = self._compute_loss(y_batch, y_pred)
        if loss.requires_grad:
            loss.backward()
            self.optimizer.apply_gradients([(w.grad, w) for w in trainable])
        self._update_metrics(y_true, y_pred, loss)

    def _test_step(self, x_batch, y_batch):
        with no_grad():
            y_pred = _single_prediction(self(_to_inputs(x_batch), training=False))
            y_true, loss = self._compute_loss(y_batch, y_pred)
        self._update_metrics(y_true, y_pred, loss)

    # --- fit ----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None):
        """Train for ``epochs`` epochs; returns a ``History`` whose ``.history`` maps 'loss',
        metric names and their 'val_' versions to one value per epoch."""
        self._check_compiled('fit')
        verbose = _verbosity(verbose)
        if validation_split and validation_data is None:
            if _is_batch_source(x):
                raise ValueError('validation_split is only supported for array inputs, not for generators: '
                                 'pass validation_data=... instead.')
            x, y, validation_data = _split(x, y, validation_split)
        train = _adapter(x, y, batch_size, shuffle, steps_per_epoch, 'fit')
        val = None
        if validation_data is not None:
            vx, vy = _unpack_validation(validation_data)
            val = _adapter(vx, vy, validation_batch_size or batch_size, False, validation_steps, 'validation')
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(list(callbacks or []) + [history], model=self,
                                            params={'epochs': epochs, 'steps': train.steps, 'verbose': verbose})
        trainable = list(self.trainable_weights)
        self.stop_training = False
        cbs.on_train_begin()
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            if verbose and epochs > 1:
                print(f'Epoch {epoch + 1}/{epochs}')
            bar = Progbar(train.steps, verbose=verbose)
            step = 0
            for step, (xb, yb) in enumerate(train.epoch(), start=1):
                cbs.on_train_batch_begin(step - 1)
                self._train_step(xb, yb, trainable)
                cbs.on_train_batch_end(step - 1, self._logs() if cbs.needs_batch_logs else None)
                if bar.due():
                    bar.update(step, self._logs())
                if self.stop_training:
                    break
            if train.exhausted:
                warnings.warn(f'fit: the input ran out of data after {step} step(s) of epoch {epoch + 1}; '
                              f'training stops. Give a generator that repeats, or fewer steps_per_epoch.',
                              stacklevel=2)
                self.stop_training = True
            if step == 0:
                warnings.warn(f'fit: the input gave no batch in epoch {epoch + 1}; training stops.', stacklevel=2)
                break
            epoch_logs = self._logs()
            if val is not None:
                epoch_logs.update({'val_' + k: v for k, v in self._evaluate_adapter(val, verbose=0).items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            bar.update(step, epoch_logs, finalize=True)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        self.history = history
        return history

    # --- evaluate / predict -----------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, steps=None, callbacks=None, return_dict=False):
        """Loss and metrics on the data in inference mode: the loss alone, or
        ``[loss, *metrics]`` (a dict with ``return_dict``)."""
        self._check_compiled('evaluate')
        data = _adapter(x, y, batch_size, False, steps, 'evaluate')
        cbs = callbacks_module.CallbackList(callbacks, model=self, params={'steps': data.steps, 'verbose': verbose})
        cbs.on_test_begin()
        logs = self._evaluate_adapter(data, _verbosity(verbose))
        cbs.on_test_end(logs)
        return self._format_results(logs, return_dict)

    def _evaluate_adapter(self, data, verbose):
        self._reset_metrics()
        bar = Progbar(data.steps, verbose=verbose)
        step = 0
        for step, (xb, yb) in enumerate(data.epoch(), start=1):
            self._test_step(xb, yb)
            if bar.due():
                bar.update(step, self._logs())
        if step == 0:
            raise ValueError('evaluate: the data gave no batch.')
        logs = self._logs()
        bar.update(step, logs, finalize=True)
        return logs

    def _format_results(self, logs, return_dict):
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Model outputs for ``x`` (arrays or a source of batches) as one NumPy array, computed in
        inference mode without recording a graph."""
        data = _adapter(x, None, batch_size, False, steps, 'predict')
        cbs = callbacks_module.CallbackList(callbacks, model=self, params={'steps': data.steps, 'verbose': verbose})
        cbs.on_predict_begin()
        bar = Progbar(data.steps, verbose=_verbosity(verbose))
        outputs, step = [], 0
        with no_grad():
            for step, (xb, _) in enumerate(data.epoch(), start=1):
                out = self(_to_inputs(xb), training=False)
                outputs.append([backend.to_numpy(o.data) for o in out] if isinstance(out, (list, tuple))
                               else backend.to_numpy(out.data))
                if bar.due():
                    bar.update(step)
        if step == 0:
            raise ValueError('predict: the data gave no batch.')
        bar.update(step, finalize=True)
        cbs.on_predict_end()
        if isinstance(outputs[0], list):
            return [np.concatenate(parts) for parts in zip(*outputs)]
        return np.concatenate(outputs)

    # --- single batches ------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, reset_metrics=True, return_dict=False):
        """One training step on one batch; returns the loss (and metrics) of that batch, or the
        running values since the last reset with ``reset_metrics=False``."""
        self._check_compiled('train_on_batch')
        if reset_metrics:
            self._reset_metrics()
        self._train_step(_as_batch_arrays(x), _as_batch_arrays(y), list(self.trainable_weights))
        return self._format_results(self._logs(), return_dict)

    def test_on_batch(self, x, y=None, reset_metrics=True, return_dict=False):
        """Loss (and metrics) of one batch in inference mode."""
        self._check_compiled('test_on_batch')
        if reset_metrics:
            self._reset_metrics()
        self._test_step(_as_batch_arrays(x), _as_batch_arrays(y))
        return self._format_results(self._logs(), return_dict)

    def predict_on_batch(self, x):
        with no_grad():
            return backend.to_numpy(_single_prediction(self(_to_inputs(_as_batch_arrays(x)), training=False)).data)

    # --- Keras 2 names ----------------------------------------------------------------------
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, initial_epoch=0, shuffle=True):
        """Keras 2's ``fit_generator``: ``fit`` on a source of ``(x, y)`` batches."""
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        initial_epoch=initial_epoch, shuffle=shuffle)

    def evaluate_generator(self, generator, steps=None, verbose=0, callbacks=None):
        return self.evaluate(generator, steps=steps, verbose=verbose, callbacks=callbacks)

    def predict_generator(self, generator, steps=None, verbose=0, callbacks=None):
        return self.predict(generator, steps=steps, verbose=verbose, callbacks=callbacks)


# --- helpers: compile arguments ------------------------------------------------------------------
def _single_output(value, what):
    """minidl models have one output: accept a value, or a one-element list or dict of it."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f'compile(): {what} has {len(value)} entries, but minidl models have a single '
                             f'output; pass one {what[:-1] if what.endswith("s") else what}.')
        return value[0]
    return value


def _metric_list(metrics):
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        metrics = _single_output(metrics, 'metrics')
    if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
        return [metrics]
    return list(metrics)


def _verbosity(verbose):
    return 1 if verbose == 'auto' else int(verbose)


# --- helpers: data -----------------------------------------------------------------------------------
def _is_array(a):
    return isinstance(a, (np.ndarray, Tensor)) or backend.is_cupy(a)


def _is_batch_source(x):
    """A generator, an iterator or a Sequence-like object (not an array or list of arrays)."""
    if x is None or _is_array(x) or isinstance(x, (list, tuple, dict, str)) or hasattr(x, '__array__'):
        return False  # arrays, lists of arrays, and array-likes such as pandas DataFrames
    return hasattr(x, '__next__') or hasattr(x, '__iter__') or (hasattr(x, '__getitem__') and hasattr(x, '__len__'))


def _as_batch_arrays(x):
    """An array, or a list of arrays for several inputs (nested Python lists become one array)."""
    if x is None:
        return None
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)) and x and all(_is_array(a) for a in x):
        return [a.data if isinstance(a, Tensor) else a for a in x]
    if isinstance(x, dict):
        raise ValueError('Inputs given as a dict are not supported: pass an array, or a list of arrays in '
                         'the order of the model inputs.')
    return x if _is_array(x) else np.asarray(x)


def _to_inputs(x):
    """Model inputs as Tensors on the active backend: floats as float32, integers kept."""
    if isinstance(x, list):
        return [_to_input(a) for a in x]
    return _to_input(x)


def _to_input(a):
    if a.dtype.kind in 'fb' and a.dtype != backend.floatx:
        a = a.astype(backend.floatx)  # on the host when ``a`` is there: half the bytes to transfer
    return Tensor(backend.as_array(a))


def _single_prediction(out):
    if isinstance(out, (list, tuple)):
        if len(out) != 1:
            raise ValueError(f'The model returned {len(out)} outputs; compile/fit support a single output.')
        out = out[0]
    return out


def _unpack_validation(data):
    if _is_batch_source(data):
        return data, None
    if isinstance(data, (list, tuple)) and len(data) == 2:
        return data
    if isinstance(data, (list, tuple)) and len(data) == 3:
        raise ValueError('validation_data with sample weights (x, y, w) is not supported: pass (x, y).')
    raise ValueError('validation_data must be a tuple (x_val, y_val) or a generator of (x, y) batches.')


def _split(x, y, fraction):
    """Keras' validation_split: the last ``fraction`` of the samples (taken before shuffling)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f'validation_split must be in (0, 1), got {fraction}.')
    xs = _as_batch_arrays(x)
    n = len(xs[0] if isinstance(xs, list) else xs)
    cut = int(math.ceil(n * (1.0 - fraction)))
    if cut >= n:
        raise ValueError(f'validation_split={fraction} leaves no validation sample out of {n}.')
    head = [a[:cut] for a in xs] if isinstance(xs, list) else xs[:cut]
    tail = [a[cut:] for a in xs] if isinstance(xs, list) else xs[cut:]
    y = _as_batch_arrays(y)
    return head, y[:cut], (tail, y[cut:])


def _adapter(x, y, batch_size, shuffle, steps, method):
    if _is_batch_source(x):
        if y is not None:
            raise ValueError(f'{method}: y must not be given when x is a generator of (x, y) batches.')
        return _BatchSource(x, steps, method)
    if x is None:
        raise ValueError(f'{method}: no input data (x is None).')
    return _ArrayBatches(_as_batch_arrays(x), _as_batch_arrays(y), batch_size, shuffle, steps, method)


class _ArrayBatches:
    """Batches of in-memory arrays, shuffled once per pass (with minidl's seeded generator)."""

    def __init__(self, x, y, batch_size, shuffle, steps, method):
        self.xs = x if isinstance(x, list) else [x]
        self.multi = isinstance(x, list)
        self.y = y
        if y is None and method not in ('predict',):
            raise ValueError(f'{method}: labels y are missing.')
        lengths = {len(a) for a in self.xs}
        if y is not None:
            lengths.add(len(y))
        if len(lengths) != 1:
            raise ValueError(f'{method}: x and y have different numbers of samples: '
                             f'{[len(a) for a in self.xs]} inputs and {None if y is None else len(y)} labels.')
        self.n = lengths.pop()
        if self.n == 0:
            raise ValueError(f'{method}: the input arrays are empty.')
        self.batch_size = int(batch_size or 32)
        self.shuffle = shuffle
        self.batches_per_pass = -(-self.n // self.batch_size)
        self.steps = int(steps) if steps is not None else self.batches_per_pass
        self._stream = self._endless() if steps is not None else None
        self.exhausted = False

    def epoch(self):
        if self._stream is not None:
            return itertools.islice(self._stream, self.steps)
        return self._one_pass()

    def _endless(self):
        while True:
            yield from self._one_pass()

    def _one_pass(self):
        order = backend.rng().permutation(self.n) if self.shuffle else None
        for start in range(0, self.n, self.batch_size):
            if order is None:
                pick = slice(start, start + self.batch_size)
                take = lambda a: a[pick]  # noqa: E731
            else:
                idx = order[start:start + self.batch_size]
                take = functools.partial(_take, idx=idx)
            xb = [take(a) for a in self.xs]
            yield (xb if self.multi else xb[0]), (None if self.y is None else take(self.y))


def _take(a, idx):
    if isinstance(a, np.ndarray):
        return a.take(idx, axis=0)
    return a[backend.get_array_module(a).asarray(idx)]


class _BatchSource:
    """Batches from a generator, an iterator (``ImageDataGenerator.flow``) or a Sequence."""

    def __init__(self, source, steps, method):
        self.source = source
        self.method = method
        if steps is None and hasattr(source, '__len__'):
            steps = len(source)
        self.steps = int(steps) if steps is not None else None
        self.sequence = not hasattr(source, '__next__') and hasattr(source, '__getitem__') \
            and hasattr(source, '__len__')
        self._iterator = None
        self.exhausted = False

    def epoch(self):
        self.exhausted = False
        if self.sequence:
            return self._sequence_epoch()
        return self._iterator_epoch()

    def _sequence_epoch(self):
        count = len(self.source)
        for i in range(self.steps):
            yield self._unpack(self.source[i % count])
        if hasattr(self.source, 'on_epoch_end'):
            self.source.on_epoch_end()

    def _iterator_epoch(self):
        if self._iterator is None or self.steps is None:
            self._iterator = self.source if hasattr(self.source, '__next__') else iter(self.source)
        produced = 0
        while self.steps is None or produced < self.steps:
            try:
                item = next(self._iterator)
            except StopIteration:
                self._iterator = None
                self.exhausted = self.steps is not None
                return
            produced += 1
            yield self._unpack(item)

    def _unpack(self, item):
        if isinstance(item, tuple):
            if len(item) == 3:
                raise ValueError(f'{self.method}: the generator yields (x, y, sample_weight); sample weights '
                                 'are not supported.')
            if len(item) == 2:
                return _as_batch_arrays(item[0]), _as_batch_arrays(item[1])
            if len(item) == 1:
                item = item[0]
        if self.method == 'predict':
            return _as_batch_arrays(item), None
        raise ValueError(f'{self.method}: the generator must yield (x, y) tuples, got {type(item).__name__}.')
