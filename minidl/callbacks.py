"""Keras callbacks: hooks that ``Model.fit`` calls around epochs and batches.

A callback subclasses ``Callback`` and overrides any of ``on_train_begin/end(logs)``,
``on_epoch_begin/end(epoch, logs)``, ``on_train_batch_begin/end(batch, logs)`` (alias
``on_batch_begin/end``), ``on_test_begin/end``, ``on_predict_begin/end``. ``self.model`` is the
model being trained and ``self.params`` holds ``epochs``, ``steps`` and ``verbose``. Epoch
logs are Python floats keyed like Keras (``loss``, ``accuracy``, ``val_loss``, ...).

Batch logs cost a device sync, so ``fit`` computes them only when some callback overrides a
batch hook.
"""
import csv
import math
import os
import time
import warnings

import numpy as np


class Callback:
    """Base class; every hook does nothing."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)


def _overrides(callback, *names):
    """Whether ``callback`` does something in any of the hooks ``names``."""
    for name in names:
        method = getattr(callback, name)
        if getattr(method, '__func__', None) is not getattr(Callback, name):
            return True
    return False


class CallbackList:
    """Dispatches each hook to the callbacks that implement it, in order. Every hook receives a
    logs dict, as in Keras (empty at the ``*_begin`` hooks); batch logs cost a device sync, so the
    loops compute them only when some callback overrides the batch hook (``needs_batch_logs``)."""

    def __init__(self, callbacks=None, model=None, params=None):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f'callbacks must be Callback objects, got {type(cb).__name__}.')
            if model is not None:
                cb.set_model(model)
            cb.set_params(dict(params or {}))
        self._hooks = {}
        for hook, aliases in (('on_train_batch_begin', ('on_batch_begin',)), ('on_train_batch_end', ('on_batch_end',)),
                              ('on_test_batch_begin', ()), ('on_test_batch_end', ()),
                              ('on_predict_batch_begin', ()), ('on_predict_batch_end', ())):
            self._hooks[hook] = [cb for cb in self.callbacks if _overrides(cb, hook, *aliases)]
        self.needs_batch_logs = bool(self._hooks['on_train_batch_end'])
        self.needs_test_batch_logs = bool(self._hooks['on_test_batch_end'])

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None): self._call('on_train_begin', {} if logs is None else logs)
    def on_train_end(self, logs=None): self._call('on_train_end', {} if logs is None else logs)
    def on_epoch_begin(self, epoch, logs=None): self._call('on_epoch_begin', epoch, {} if logs is None else logs)
    def on_epoch_end(self, epoch, logs=None): self._call('on_epoch_end', epoch, {} if logs is None else logs)
    def on_test_begin(self, logs=None): self._call('on_test_begin', {} if logs is None else logs)
    def on_test_end(self, logs=None): self._call('on_test_end', {} if logs is None else logs)
    def on_predict_begin(self, logs=None): self._call('on_predict_begin', {} if logs is None else logs)
    def on_predict_end(self, logs=None): self._call('on_predict_end', {} if logs is None else logs)

    def _batch(self, hook, batch, logs):
        for cb in self._hooks[hook]:
            getattr(cb, hook)(batch, {} if logs is None else logs)

    def on_train_batch_begin(self, batch, logs=None): self._batch('on_train_batch_begin', batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._batch('on_train_batch_end', batch, logs)
    def on_test_batch_begin(self, batch, logs=None): self._batch('on_test_batch_begin', batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._batch('on_test_batch_end', batch, logs)
    def on_predict_batch_begin(self, batch, logs=None): self._batch('on_predict_batch_begin', batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._batch('on_predict_batch_end', batch, logs)


class History(Callback):
    """Records the epoch logs: ``history.history['val_loss'][i]`` is the value after epoch
    ``history.epoch[i]``. ``fit`` returns it and sets ``model.history``."""

    def __init__(self):
        super().__init__()
        self.epoch = []
        self.history = {}

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


def _monitor_mode(monitor, mode, owner):
    """'min' or 'max' for ``monitor`` (Keras' 'auto': losses and errors go down, accuracies up)."""
    if mode not in ('auto', 'min', 'max'):
        warnings.warn(f'{owner} mode {mode!r} is unknown, falling back to auto mode.', stacklevel=3)
        mode = 'auto'
    if mode != 'auto':
        return mode
    name = monitor[4:] if monitor.startswith('val_') else monitor
    if 'acc' in name or 'auc' in name or name.startswith('fmeasure') or name.startswith('f1'):
        return 'max'
    if 'loss' in name or 'error' in name or name in ('mae', 'mse', 'mape', 'msle', 'learning_rate'):
        return 'min'
    raise ValueError(f"{owner} cannot tell whether {monitor!r} should be minimized or maximized: "
                     f"pass mode='min' or mode='max'.")


def _monitor_value(logs, monitor, owner):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f'{owner} is conditioned on {monitor!r}, which is not available. Available keys: '
                      f'{", ".join(logs or {})}.', stacklevel=3)
    return value


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved (by more than ``min_delta``) for
    ``patience`` epochs. With ``restore_best_weights`` the weights of the best epoch are put
    back when training ends (Keras 3 does this whether or not training stopped early).
    ``baseline``: the wait only restarts when the value also beats it."""

    def __init__(self, monitor='val_loss', min_delta=0, patience=0, verbose=0, mode='auto', baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _monitor_mode(monitor, mode, 'EarlyStopping')
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.on_train_begin()

    def _improves(self, value, reference):
        if self.mode == 'min':
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == 'min' else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = _monitor_value(logs, self.monitor, 'EarlyStopping')
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f'Epoch {self.stopped_epoch + 1}: early stopping')
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f'Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.')
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the whole model (``model.save``: '.keras', or Keras 2's '.h5') or its weights
    (``save_weights_only``: '.weights.h5', or Keras 2's '.h5') after every epoch (or every
    ``save_freq`` batches), or with ``save_best_only`` only when ``monitor`` improved.
    ``filepath`` may hold ``{epoch}`` (1-based) and log keys, e.g.
    ``'w.{epoch:02d}-{val_loss:.2f}.weights.h5'``. A path that cannot work fails here, before
    any epoch is spent."""

    def __init__(self, filepath, monitor='val_loss', verbose=0, save_best_only=False, save_weights_only=False,
                 mode='auto', save_freq='epoch', initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        if save_freq != 'epoch' and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)
                                         and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive number of batches, got "
                             f'{save_freq!r}.')
        if save_weights_only and not self.filepath.endswith(('.weights.h5', '.h5')):
            raise ValueError(f'ModelCheckpoint: with save_weights_only=True the filepath must end in .weights.h5 '
                             f"(Keras 3's layout) or .h5 (Keras 2's), got {self.filepath!r}.")
        if not save_weights_only and not self.filepath.endswith(('.keras', '.h5')):
            raise ValueError(f'ModelCheckpoint: the filepath must end in .keras (the whole model, Keras 3) or .h5 '
                             f"(Keras 2's whole-model file), got {self.filepath!r}; to save weights only, pass "
                             "save_weights_only=True and a name ending in '.weights.h5'.")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.mode = _monitor_mode(monitor, mode, 'ModelCheckpoint') if save_best_only else mode
        self.best = initial_value_threshold
        if self.best is None:
            self.best = math.inf if self.mode == 'min' else -math.inf
        self._batches_seen = 0
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        if not self.save_weights_only and not hasattr(self.model, 'save'):
            raise ValueError('ModelCheckpoint: this model cannot be saved whole; pass save_weights_only=True and a '
                             "filepath ending in '.weights.h5'.")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == 'epoch':
            return
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self._checkpoint(self._current_epoch, dict(logs or {}), batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == 'epoch':
            self._checkpoint(epoch, logs or {})

    def _checkpoint(self, epoch, logs, batch=None):
        try:
            path = self.filepath.format(epoch=epoch + 1, batch=(batch or 0) + 1, **logs)
        except KeyError as exc:
            raise KeyError(f'ModelCheckpoint: filepath {self.filepath!r} uses the key {exc}, which is not in '
                           f'the logs ({", ".join(logs)}).') from None
        if self.save_best_only:
            current = _monitor_value(logs, self.monitor, 'ModelCheckpoint')
            if current is None:
                return
            better = current < self.best if self.mode == 'min' else current > self.best
            if not better:
                if self.verbose > 0:
                    print(f'Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}')
                return
            if self.verbose > 0:
                print(f'Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, '
                      f'saving model to {path}')
            self.best = current
        elif self.verbose > 0:
            print(f'Epoch {epoch + 1}: saving model to {path}')
        self._save(path)

    def _save(self, path):
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class CSVLogger(Callback):
    """Write the epoch logs to a CSV file, one row per epoch (header ``epoch`` + sorted keys),
    flushed and synced to disk after each row."""

    def __init__(self, filename, separator=',', append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.keys = None
        self._file = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        if exists:
            with open(self.filename, newline='') as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self.keys = header[1:] if header else None
        else:
            self.keys = None
        self._file = open(self.filename, 'a' if self.append else 'w', newline='')

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self._write_row(['epoch'] + self.keys)
        self._write_row([epoch] + [logs.get(k, 'NA') for k in self.keys])

    def _write_row(self, row):
        csv.writer(self._file, delimiter=self.separator, lineterminator='\n').writerow(row)
        self._file.flush()
        os.fsync(self._file.fileno())

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class LearningRateScheduler(Callback):
    """Set ``optimizer.learning_rate = schedule(epoch, lr)`` (or ``schedule(epoch)``) at the
    start of every epoch; the rate is logged as ``learning_rate``."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # a one-argument schedule, as Keras 1 allowed
            lr = self.schedule(epoch)
        lr = float(lr)
        if not math.isfinite(lr):
            raise ValueError(f'LearningRateScheduler: the schedule returned {lr!r} for epoch {epoch}.')
        optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f'\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.')

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs['learning_rate'] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` (not below ``min_lr``) when ``monitor`` has not
    improved by more than ``min_delta`` for ``patience`` epochs, then wait ``cooldown`` epochs."""

    def __init__(self, monitor='val_loss', factor=0.1, patience=10, verbose=0, mode='auto', min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f'ReduceLROnPlateau does not support a factor >= 1.0, got {factor}.')
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _monitor_mode(monitor, mode, 'ReduceLROnPlateau')
        self.min_delta = abs(float(min_delta))  # Keras takes the absolute value, as EarlyStopping does
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.on_train_begin()

    def _improves(self, value):
        if self.mode == 'min':
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == 'min' else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs['learning_rate'] = float(optimizer.learning_rate)
        current = _monitor_value(logs, self.monitor, 'ReduceLROnPlateau')
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f'\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.')
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss of a batch is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get('loss')
        if loss is not None and not math.isfinite(loss):
            print(f'Batch {batch}: Invalid loss, terminating training')
            self.model.stop_training = True


class TimeStopping(Callback):
    """Stop training before a wall-clock budget of ``seconds`` is spent: after an epoch, when
    the time used so far plus the last epoch's duration would pass the budget. At least one
    epoch always runs."""

    def __init__(self, seconds, verbose=0):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f'TimeStopping: seconds must be positive, got {seconds}.')
        self.seconds, self.verbose = float(seconds), verbose
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.start = self.epoch_start = time.perf_counter()
        self.stopped_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if now - self.start + (now - self.epoch_start) > self.seconds:
            self.model.stop_training = True
            self.stopped_epoch = epoch
            if self.verbose > 0:
                print(f'Epoch {epoch + 1}: TimeStopping after {now - self.start:.0f} s '
                      f'of a {self.seconds:.0f} s budget.')


class LambdaCallback(Callback):
    """A callback from plain functions: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_batch_begin(batch, logs)`` (or ``on_batch_begin``),
    ``on_train_batch_end(batch, logs)`` (or ``on_batch_end``), ``on_train_begin(logs)``,
    ``on_train_end(logs)``."""

    _HOOKS = ('on_epoch_begin', 'on_epoch_end', 'on_train_begin', 'on_train_end', 'on_train_batch_begin',
              'on_train_batch_end', 'on_batch_begin', 'on_batch_end')

    def __init__(self, **functions):
        super().__init__()
        unknown = set(functions) - set(self._HOOKS)
        if unknown:
            raise TypeError(f'LambdaCallback got unknown hooks {sorted(unknown)}; known: {list(self._HOOKS)}.')
        for name, fn in functions.items():
            if fn is not None:
                setattr(self, name, fn)
