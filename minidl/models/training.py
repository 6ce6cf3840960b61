"""Keras' training API as a mixin: ``compile``, ``fit``, ``evaluate``, ``predict``,
``train_on_batch``, ``test_on_batch`` (and Keras 2's ``fit_generator`` family).

One training step (``train_step``, which a subclass may override, as in Keras)::

    y_pred = model(x, training=True)
    loss = compute_loss(x, y, y_pred, sample_weight)     # sum of weighted output losses + model.losses
    loss.backward();  optimizer.apply_gradients((w.grad, w) for w in trainable weights)
    compute_metrics(x, y, y_pred, sample_weight)

Models may have several inputs and outputs (lists, or dicts keyed by name; see
``compile_utils``). ``fit`` takes ``sample_weight``, ``class_weight``, ``validation_data`` with
sample weights, ``validation_split``, ``validation_freq``, ``initial_epoch``, generators and
``Sequence``s (see ``data_adapter``). Float inputs become float32 on the active backend; integer
inputs (Embedding ids) stay integer. The loss, the metrics and the progress bar keep their sums
on the device and convert them only when a value is shown or at the end of an epoch.
"""
import inspect
import numbers
import sys
import warnings

import numpy as np

from .. import backend, callbacks as callbacks_module
from .. import optimizers as optimizers_module
from .. import tree
from ..autograd import Tensor, no_grad
from . import compile_utils, data_adapter
from .progbar import Progbar

_IGNORED_COMPILE_ARGS = ('run_eagerly', 'jit_compile', 'steps_per_execution', 'auto_scale_loss', 'sample_weight_mode',
                         'target_tensors', 'distribute')


class TrainingMixin:
    """compile / fit / evaluate / predict for a model (see the module docstring)."""

    # --- compile ----------------------------------------------------------------------------
    def compile(self, optimizer='rmsprop', loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile='auto', auto_scale_loss=True, **kwargs):
        """Choose the optimizer, the loss(es) and the metrics (names or objects, as in Keras; one
        per output, a list in output order, or a dict keyed by output name)."""
        unknown = set(kwargs) - set(_IGNORED_COMPILE_ARGS)
        if unknown:
            raise TypeError(f'compile() got unexpected arguments {sorted(unknown)}.')
        if _looks_like_metrics(loss_weights) and metrics is None:
            # Keras 2's order was compile(optimizer, loss, metrics, loss_weights): course code passes
            # metrics third, where Keras 3 expects loss_weights.
            loss_weights, metrics = None, loss_weights
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self.loss_weights = loss_weights
        names = compile_utils.output_structure_names(self)
        self.compiled_loss = compile_utils.CompileLoss(loss, loss_weights, names) if loss is not None else None
        self.compiled_metrics = compile_utils.CompileMetrics(metrics, weighted_metrics, names)
        self._compile_config = {'optimizer': optimizer, 'loss': loss, 'loss_weights': loss_weights,
                                'metrics': metrics, 'weighted_metrics': weighted_metrics, 'run_eagerly': run_eagerly,
                                'steps_per_execution': steps_per_execution, 'jit_compile': jit_compile}
        from .. import metrics as metrics_module
        self._loss_tracker = metrics_module.Mean(name='loss')
        self.stop_training = False
        self._is_compiled = True

    @property
    def compiled(self):
        return getattr(self, '_is_compiled', False)

    @property
    def metrics(self):
        """The loss tracker, the per-output loss trackers, then the compiled metrics (built at the
        first batch)."""
        if not self.compiled:
            return []
        out = [self._loss_tracker]
        if self.compiled_loss is not None:
            out.extend(self.compiled_loss.metrics)
        out.extend(self.compiled_metrics.metrics)
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _check_compiled(self, method):
        if not self.compiled:
            raise RuntimeError(f'You must call compile() before {method}(): e.g. '
                               f"model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', "
                               f"metrics=['accuracy']).")

    def get_compile_config(self):
        if not self.compiled:
            return None
        from ..saving.serialization_lib import serialize_keras_object
        config = dict(self._compile_config)
        config['optimizer'] = serialize_keras_object(self.optimizer)
        for key in ('loss', 'metrics', 'weighted_metrics'):
            config[key] = serialize_keras_object(config[key])
        return config

    def compile_from_config(self, config):
        from .. import losses as losses_module
        from ..saving.serialization_lib import deserialize_keras_object
        config = dict(config)
        optimizer = config.pop('optimizer', 'rmsprop')
        if isinstance(optimizer, dict):
            optimizer = deserialize_keras_object(optimizer, printable_module_name='optimizer')
        def loss_from_config(entry):
            # a serialized loss object, or one entry per output (a dict by output name, a list)
            if isinstance(entry, dict) and 'class_name' in entry:
                return losses_module.get(entry)
            if isinstance(entry, dict):
                return {name: loss_from_config(v) for name, v in entry.items()}
            if isinstance(entry, (list, tuple)):
                return [loss_from_config(v) for v in entry]
            return entry

        loss = loss_from_config(config.pop('loss', None))
        metrics = deserialize_keras_object(config.pop('metrics', None)) if isinstance(config.get('metrics'), dict) \
            else config.pop('metrics', None)
        self.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                     loss_weights=config.pop('loss_weights', None),
                     weighted_metrics=config.pop('weighted_metrics', None))

    def _logs(self):
        """Current metric values as floats, sorted by name as Keras 3 logs are (one sync each)."""
        logs = {}
        for m in self.metrics:
            value = m.result()
            if isinstance(value, dict):
                logs.update({k: float(v) for k, v in value.items()})
            else:
                logs[m.name] = float(value)
        return dict(sorted(logs.items()))

    # --- one step ------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss: the compiled loss(es) of the outputs plus ``self.losses`` (regularization
        penalties and ``add_loss`` terms)."""
        terms = []
        if self.compiled_loss is not None and y is not None:
            value = self.compiled_loss(y, y_pred, sample_weight)
            if value is not None:
                terms.append(value)
        for extra in self.losses:
            terms.append(extra if extra.ndim == 0 else extra.sum())
        if not terms:
            raise ValueError(f"Model '{self.name}' has no loss to compute: pass loss=... to compile(), or add one "
                             'with add_loss() in a layer or the model.')
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def _compute_loss(self, x, y, y_pred, sample_weight, training):
        if 'training' in inspect.signature(self.compute_loss).parameters:
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=training)
        else:
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        batch = _batch_size(x, y_pred)
        self._loss_tracker.update_state(loss.data if isinstance(loss, Tensor) else loss, sample_weight=batch)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics; returns the model's metric results (Keras' contract)."""
        if y is not None:
            if not self.compiled_metrics.built:
                self.compiled_metrics.build(y, y_pred, self.compiled_loss)
            self.compiled_metrics.update_state(y, y_pred, sample_weight)
        return _LAZY

    def get_metrics_result(self):
        return self._logs()

    def train_step(self, data):
        """One optimizer step on a batch ``(x, y, sample_weight)``."""
        x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        loss = self._compute_loss(x, y, y_pred, sample_weight, training=True)
        trainable = self._trainable_for_step()
        for w in trainable:
            w.grad = None
        if loss.requires_grad:
            loss.backward()
            self.optimizer.apply_gradients([(w.grad, w) for w in trainable])
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(data)
        with no_grad():
            y_pred = self(x, training=False)
            self._compute_loss(x, y, y_pred, sample_weight, training=False)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        x, _, _ = data_adapter.unpack_x_y_sample_weight(data)
        with no_grad():
            return self(x, training=False)

    def _trainable_for_step(self):
        """The trainable weights, read after the forward pass (the first batch may build the model:
        a Sequential without an input shape has no weights before it), once per fit."""
        cached = getattr(self, '_step_trainable', None)
        if cached is None:
            cached = list(self.trainable_weights)
            if getattr(self, '_in_fit', False):
                self._step_trainable = cached
        return cached

    def _run_train_batch(self, xb, yb, sb, class_weight):
        if class_weight is not None:
            sb = _apply_class_weight(yb, sb, class_weight)
        return self.train_step(_batch_tuple(_to_inputs(xb), yb, sb))

    # --- fit ----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose='auto', callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a ``History`` whose ``.history`` maps 'loss',
        metric names and their 'val_' versions to one value per epoch."""
        self._check_compiled('fit')
        verbose = _verbosity(verbose)
        batch_size = _check_count('fit', 'batch_size', batch_size, allow_none=True)
        epochs = _check_count('fit', 'epochs', epochs, minimum=0)
        initial_epoch = _check_count('fit', 'initial_epoch', initial_epoch, minimum=0)
        validation_freq = _check_count('fit', 'validation_freq', validation_freq)
        steps_per_epoch = _check_count('fit', 'steps_per_epoch', steps_per_epoch, allow_none=True)
        if not isinstance(validation_split, numbers.Real) or not 0.0 <= validation_split < 1.0:
            raise ValueError(f'fit(validation_split={validation_split!r}): the fraction must be in [0, 1), e.g. 0.2 '
                             'for the last 20% of the samples.')
        if class_weight is not None:
            if not isinstance(class_weight, dict):
                raise ValueError(f'fit(class_weight=...) must be a dict {{class index: weight}}, got '
                                 f'{type(class_weight).__name__}.')
            if self._graph_outputs_count() > 1:
                raise ValueError('fit(class_weight=...) is only supported for models with a single output; use '
                                 'sample_weight per output instead.')
        dist = _distributed_fit(self)  # issue 20: None unless the program runs on several MPI ranks
        if dist is not None:
            verbose, callbacks, validation_data = dist.fit_arguments(verbose, callbacks, validation_data)
        if validation_split and validation_data is None:
            if data_adapter.is_batch_source(x):
                raise ValueError('validation_split is only supported for array inputs, not for generators: '
                                 'pass validation_data=... instead.')
            (x, y, sample_weight), validation_data = data_adapter.split_validation(x, y, sample_weight,
                                                                                   validation_split)
        needs_y = self.compiled_loss is not None
        train = data_adapter.adapter(x, y, sample_weight, batch_size, shuffle, steps_per_epoch, 'fit', needs_y)
        if isinstance(train, data_adapter.ArrayBatches):
            self._check_data('fit', train.x, train.y)
        val = None
        if validation_data is not None:
            vx, vy, vsw = _unpack_validation(validation_data)
            val = data_adapter.adapter(vx, vy, vsw, validation_batch_size or batch_size, False, validation_steps,
                                       'validation', needs_y)
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(list(callbacks or []) + [history], model=self,
                                            params={'epochs': epochs, 'steps': train.steps, 'verbose': verbose})
        self.stop_training = False
        self._in_fit, self._step_trainable = True, None
        try:
            cbs.on_train_begin({})
            initial_epoch = getattr(self, '_initial_epoch', None) or initial_epoch   # set by BackupAndRestore
            self._initial_epoch = None
            epoch_logs = {}
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                cbs.on_epoch_begin(epoch, {})
                if verbose and epochs > 1:
                    print(f'Epoch {epoch + 1}/{epochs}')
                bar = Progbar(train.steps, verbose=verbose)
                step = 0
                batch_logs = None
                for step, (xb, yb, sb) in enumerate(train.epoch(), start=1):
                    cbs.on_train_batch_begin(step - 1, {})
                    batch_logs = self._run_train_batch(xb, yb, sb, class_weight)
                    if cbs.needs_batch_logs or bar.due():
                        logs = self._result_logs(batch_logs)
                        cbs.on_train_batch_end(step - 1, logs)
                        if bar.due():
                            bar.update(step, logs)
                    else:
                        cbs.on_train_batch_end(step - 1, None)
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
                epoch_logs = self._result_logs(batch_logs)
                if val is not None and (epoch + 1) % validation_freq == 0:
                    val_logs = self._evaluate_adapter(val, verbose=0, callbacks=None)
                    if dist is not None:  # issue 20: each rank validated its shard; the whole set's values
                        val_logs = dist.average_validation(val_logs, val)
                    epoch_logs.update({'val_' + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, epoch_logs)
                bar.update(step, epoch_logs, finalize=True)
                if self.stop_training:
                    break
            finalize = getattr(self.optimizer, 'finalize_variable_values', None)
            if finalize is not None:
                finalize(self.trainable_weights)
            cbs.on_train_end(dict(epoch_logs))
        finally:
            self._in_fit, self._step_trainable = False, None
        self.history = history
        return history

    def _result_logs(self, step_result):
        """Logs after a step: the metrics' results, or what a custom ``train_step`` returned."""
        if step_result is None or step_result is _LAZY:
            return self._logs()
        if isinstance(step_result, dict):
            return {k: float(v) for k, v in step_result.items()}
        return self._logs()

    def _graph_outputs_count(self):
        try:
            return len(self.outputs)
        except AttributeError:
            return 1

    def _check_data(self, method, x, y):
        """Clear errors for data that cannot train (strings fed to a numeric input) and one
        warning for NaN or infinite values."""
        for what, structure in (('x', x), ('y', y)):
            if structure is None:
                continue
            for a in tree.flatten(structure):
                kind = getattr(a, 'dtype', np.dtype('f')).kind
                if kind in 'USO' and not (what == 'x' and self._accepts_strings()):
                    raise ValueError(f'{method}: {what} holds text (dtype {a.dtype}), but the model computes on '
                                     'numbers. Turn the text into numbers first (e.g. layers.TextVectorization, '
                                     'or a vocabulary lookup), or start the model with a layer that takes strings.')
                if kind == 'f' and not bool(backend.get_array_module(a).isfinite(a).all()):
                    warnings.warn(f'{method}: {what} contains NaN or infinite values; the loss will likely become '
                                  'NaN. Clean the data, or add callbacks.TerminateOnNaN() to stop when it does.',
                                  stacklevel=3)

    def _accepts_strings(self):
        for layer in self._flatten_layers(include_self=False):
            if getattr(layer, 'accepts_string_inputs', False):
                return True
            dtype = getattr(layer, '_dtype', None)
            if type(layer).__name__ == 'InputLayer' and dtype is not None and dtype.kind in 'OUS':
                return True
        return False

    # --- evaluate / predict -----------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose='auto', sample_weight=None, steps=None, callbacks=None,
                 return_dict=False, **kwargs):
        """Loss and metrics on the data in inference mode: the loss alone, or
        ``[loss, *metrics]`` (a dict with ``return_dict``)."""
        self._check_compiled('evaluate')
        if kwargs:
            raise TypeError(f'evaluate() got unexpected arguments {sorted(kwargs)}.')
        batch_size = _check_count('evaluate', 'batch_size', batch_size, allow_none=True)
        steps = _check_count('evaluate', 'steps', steps, allow_none=True)
        data = data_adapter.adapter(x, y, sample_weight, batch_size, False, steps, 'evaluate',
                                    self.compiled_loss is not None)
        cbs = callbacks_module.CallbackList(callbacks, model=self,
                                            params={'steps': data.steps, 'verbose': _verbosity(verbose)})
        logs = self._evaluate_adapter(data, _verbosity(verbose), cbs)
        return self._format_results(logs, return_dict)

    def _evaluate_adapter(self, data, verbose, callbacks):
        cbs = callbacks or callbacks_module.CallbackList([], model=self)
        self.reset_metrics()
        cbs.on_test_begin({})
        bar = Progbar(data.steps, verbose=verbose)
        step = 0
        result = None
        for step, (xb, yb, sb) in enumerate(data.epoch(), start=1):
            cbs.on_test_batch_begin(step - 1, {})
            result = self.test_step(_batch_tuple(_to_inputs(xb), yb, sb))
            due = bar.due()
            if cbs.needs_test_batch_logs or due:
                logs = self._result_logs(result)
                cbs.on_test_batch_end(step - 1, logs)
                if due:
                    bar.update(step, logs)
            else:
                cbs.on_test_batch_end(step - 1, None)
        if step == 0:
            raise ValueError('evaluate: the data gave no batch.')
        logs = self._result_logs(result)
        bar.update(step, logs, finalize=True)
        cbs.on_test_end(dict(logs))
        return logs

    def _format_results(self, logs, return_dict):
        if return_dict:
            return logs
        order = [m.name for m in self.metrics if m.name in logs]
        values = [logs[name] for name in order] + [logs[k] for k in sorted(logs) if k not in order]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose='auto', steps=None, callbacks=None):
        """Model outputs for ``x`` (arrays or a source of batches) as NumPy arrays, in the model's
        output structure, computed in inference mode without recording a graph."""
        batch_size = _check_count('predict', 'batch_size', batch_size, allow_none=True)
        steps = _check_count('predict', 'steps', steps, allow_none=True)
        data = data_adapter.adapter(x, None, None, batch_size, False, steps, 'predict')
        if isinstance(data, data_adapter.ArrayBatches):
            self._check_data('predict', data.x, None)
        verbose = _verbosity(verbose)
        cbs = callbacks_module.CallbackList(callbacks, model=self, params={'steps': data.steps, 'verbose': verbose})
        cbs.on_predict_begin({})
        bar = Progbar(data.steps, verbose=verbose)
        outputs, step = [], 0
        for step, (xb, _, _) in enumerate(data.epoch(), start=1):
            cbs.on_predict_batch_begin(step - 1, {})
            out = self.predict_step((_to_inputs(xb),))
            host = tree.map_structure(lambda o: backend.to_numpy(o.data if isinstance(o, Tensor) else o), out)
            outputs.append(host)
            cbs.on_predict_batch_end(step - 1, {'outputs': host})
            if bar.due():
                bar.update(step)
        if step == 0:
            raise ValueError('predict: the data gave no batch.')
        bar.update(step, finalize=True)
        cbs.on_predict_end({})
        flat = [tree.flatten(o) for o in outputs]
        joined = [np.concatenate(parts) for parts in zip(*flat)]
        return tree.pack_sequence_as(outputs[0], joined) if tree.is_nested(outputs[0]) else joined[0]

    # --- single batches ------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False,
                       reset_metrics=True):
        """One training step on one batch; returns the loss (and metrics) of that batch, or the
        running values since the last reset with ``reset_metrics=False``."""
        self._check_compiled('train_on_batch')
        if reset_metrics:
            self.reset_metrics()
        result = self._run_train_batch(data_adapter.as_arrays(x), data_adapter.as_arrays(y),
                                       data_adapter.as_arrays(sample_weight), class_weight)
        return self._format_results(self._result_logs(result), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False, reset_metrics=True):
        """Loss (and metrics) of one batch in inference mode."""
        self._check_compiled('test_on_batch')
        if reset_metrics:
            self.reset_metrics()
        result = self.test_step(_batch_tuple(_to_inputs(data_adapter.as_arrays(x)), data_adapter.as_arrays(y),
                                             data_adapter.as_arrays(sample_weight)))
        return self._format_results(self._result_logs(result), return_dict)

    def predict_on_batch(self, x):
        out = self.predict_step((_to_inputs(data_adapter.as_arrays(x)),))
        return tree.map_structure(lambda o: backend.to_numpy(o.data if isinstance(o, Tensor) else o), out)

    # --- Keras 2 names ----------------------------------------------------------------------
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, class_weight=None, initial_epoch=0, shuffle=True,
                      **kwargs):
        """Keras 2's ``fit_generator``: ``fit`` on a source of ``(x, y)`` batches."""
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        class_weight=class_weight, initial_epoch=initial_epoch, shuffle=shuffle)

    def evaluate_generator(self, generator, steps=None, verbose=0, callbacks=None, **kwargs):
        return self.evaluate(generator, steps=steps, verbose=verbose, callbacks=callbacks)

    def predict_generator(self, generator, steps=None, verbose=0, callbacks=None, **kwargs):
        return self.predict(generator, steps=steps, verbose=verbose, callbacks=callbacks)


class _Lazy:
    """What the default ``train_step`` returns: "read the metrics when the logs are needed"."""


_LAZY = _Lazy()


# --- helpers --------------------------------------------------------------------------------------------
def _distributed_fit(model):
    """minidl.distributed's hooks for this fit when the program runs on several ranks, else None
    (issue 20). Looked up in sys.modules: fit never imports the package, nor MPI."""
    dist = sys.modules.get('minidl.distributed')
    return dist.fit_session(model) if dist is not None else None


def _looks_like_metrics(value):
    """Metric names, objects or functions (never loss weights, which are numbers)."""
    leaves = tree.flatten(value) if isinstance(value, (list, tuple, dict)) else [value]
    return value is not None and bool(leaves) and all(
        isinstance(v, str) or callable(v) or hasattr(v, 'update_state') for v in leaves)


def _verbosity(verbose):
    if verbose == 'auto':
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}.")
    return int(verbose)


def _check_count(method, name, value, allow_none=False, minimum=1):
    """An integer argument: ``batch_size``, ``epochs``, ``steps``... (floats that are whole numbers pass)."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value) == int(value) \
        and int(value) >= minimum
    if not ok:
        hint = {'batch_size': ' (the number of samples per step, e.g. 32)',
                'epochs': ' (the number of passes over the data; 0 trains nothing)'}.get(name, '')
        raise ValueError(f'{method}({name}={value!r}): {name} must be an integer >= {minimum}{hint}.')
    return int(value)


def _batch_tuple(x, y, sw):
    if sw is None:
        return (x, y) if y is not None else (x,)
    return (x, y, sw)


def _apply_class_weight(y, sample_weight, class_weight):
    if y is None:
        raise ValueError('fit(class_weight=...) needs labels y.')
    target = tree.flatten(y)[0]
    weights = data_adapter.class_weight_to_sample_weight(target, class_weight)
    if sample_weight is not None:
        weights = weights * backend.to_numpy(tree.flatten(sample_weight)[0]).reshape(weights.shape[0], -1)[:, 0]
    return weights


def _batch_size(x, y_pred):
    for leaf in tree.flatten(x) + tree.flatten(y_pred):
        shape = getattr(leaf, 'shape', None)
        if shape:
            return shape[0]
    return 1


def _unpack_validation(data):
    if data_adapter.is_batch_source(data):
        return data, None, None
    if isinstance(data, (list, tuple)) and len(data) in (2, 3):
        return tuple(data) + (None,) * (3 - len(data))
    raise ValueError('validation_data must be a tuple (x_val, y_val) or (x_val, y_val, val_sample_weight), or a '
                     'generator/Sequence of batches.')


def _to_inputs(x):
    """Model inputs as Tensors on the active backend: floats as float32, integers kept; the
    structure (list/tuple/dict) is kept."""
    return tree.map_structure(_to_input, x)


def _to_input(a):
    if a is None or isinstance(a, Tensor):
        return a
    if not hasattr(a, 'dtype'):
        a = np.asarray(a)
    if a.dtype.kind in 'USO':
        return Tensor(np.asarray(a)) if not backend.is_cupy(a) else Tensor(a)
    if a.dtype.kind in 'fb' and a.dtype != backend.floatx:
        a = a.astype(backend.floatx)  # on the host when ``a`` is there: half the bytes to transfer
    return Tensor(backend.as_array(a))
