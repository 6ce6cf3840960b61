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
    """A callback from plain functions, one per hook, with Keras' arguments: ``on_epoch_begin(epoch,
    logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_train_batch_begin(batch, logs)`` and ``on_train_batch_end(batch, logs)`` (Keras 2:
    ``on_batch_begin``/``on_batch_end``), and the same for ``on_test_*`` and ``on_predict_*``
    (``on_test_begin(logs)``, ``on_test_batch_end(batch, logs)``, ...)."""

    _HOOKS = ('on_epoch_begin', 'on_epoch_end', 'on_train_begin', 'on_train_end', 'on_train_batch_begin',
              'on_train_batch_end', 'on_batch_begin', 'on_batch_end', 'on_test_begin', 'on_test_end',
              'on_test_batch_begin', 'on_test_batch_end', 'on_predict_begin', 'on_predict_end',
              'on_predict_batch_begin', 'on_predict_batch_end')

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        unknown = set(kwargs) - set(self._HOOKS)
        if unknown:
            raise TypeError(f'LambdaCallback got unknown hooks {sorted(unknown)}; known: {list(self._HOOKS)}.')
        functions = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                         on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                         on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in functions.items():
            if fn is not None:
                setattr(self, name, fn)


# --- TensorBoard, BackupAndRestore, SwapEMAWeights -------------------------------------------------------------
def _tensorboard():
    """The tensorboard package's event writer and protos (the optional extra ``[tensorboard]``)."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise ImportError('The TensorBoard callback writes event files with the tensorboard package: '
                          'pip install "minidl[tensorboard]" (or pip install tensorboard).') from None
    return EventFileWriter, event_pb2, summary_pb2


class _EventWriter:
    """Scalars, histograms, images and tensors as TensorBoard events in ``logdir``, written by the
    tensorboard package's own ``EventFileWriter`` (records with CRCs, the file named
    ``events.out.tfevents.<time>.<host>``)."""

    def __init__(self, logdir):
        EventFileWriter, self.event_pb2, self.summary_pb2 = _tensorboard()
        self.writer = EventFileWriter(logdir)

    def _write(self, value, step):
        summary = self.summary_pb2.Summary(value=[value])
        self.writer.add_event(self.event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalar(self, tag, value, step):
        self._write(self.summary_pb2.Summary.Value(tag=tag, simple_value=float(value)), step)

    def histogram(self, tag, values, step, buckets=30):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        counts, edges = np.histogram(values, bins=buckets, range=(lo, hi) if hi > lo else (lo - 0.5, hi + 0.5))
        histo = self.summary_pb2.HistogramProto(min=lo, max=hi, num=float(values.size), sum=float(values.sum()),
                                                sum_squares=float((values * values).sum()),
                                                bucket_limit=[float(e) for e in edges[1:]],
                                                bucket=[float(c) for c in counts])
        self._write(self.summary_pb2.Summary.Value(tag=tag, histo=histo), step)

    def image(self, tag, pixels, step):
        """``pixels``: a (height, width) array in [0, 1], written as an 8-bit grey PNG."""
        import io
        from PIL import Image
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels * 255 + 0.5, 0, 255).astype(np.uint8), mode='L').save(buffer, format='PNG')
        image = self.summary_pb2.Summary.Image(height=pixels.shape[0], width=pixels.shape[1], colorspace=1,
                                               encoded_image_string=buffer.getvalue())
        self._write(self.summary_pb2.Summary.Value(tag=tag, image=image), step)

    def text_tensor(self, tag, text, plugin, step):
        from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2
        metadata = self.summary_pb2.SummaryMetadata(
            plugin_data=self.summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin, content=b'1'))
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[text.encode('utf-8')],
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto())
        self._write(self.summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=tensor), step)

    def flush(self):
        self.writer.flush()

    def close(self):
        self.writer.close()


class TensorBoard(Callback):
    """Write logs that TensorBoard shows (``tensorboard --logdir logs``), as Keras 3 does:

    - every epoch, ``epoch_<metric>`` (and ``epoch_learning_rate``) in ``log_dir/train``, and the
      validation metrics as ``epoch_<metric>`` in ``log_dir/validation``;
    - with ``update_freq='batch'`` or an integer n, ``batch_<metric>`` every n training batches;
    - ``histogram_freq=n``: a histogram of every weight (``<weight path>/histogram``) every n
      epochs; ``write_images``: the weights as grey images (scaled to [0, 1] each);
    - ``write_steps_per_second``: ``batch_steps_per_second`` and ``epoch_steps_per_second``;
    - ``write_graph``: the model's Keras JSON config (the 'keras' tag, TensorBoard's graph_keras_model
      plugin), when the model has ``to_json``;
    - after ``evaluate``: ``evaluation_<metric>_vs_iterations`` at the optimizer's step.

    The files are written by the ``tensorboard`` package's own event writer (``pip install
    "minidl[tensorboard]"``), imported when the callback is created. Profiling (``profile_batch``)
    and embeddings (``embeddings_freq``) are not available on minidl's backends: they raise."""

    def __init__(self, log_dir='logs', histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq='epoch', profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        _tensorboard()
        if profile_batch:
            raise ValueError(f'TensorBoard: profiling is not available with minidl (profile_batch={profile_batch!r}); '
                             f'pass profile_batch=0, and time the layers with benchmarks/profile_gpu.py instead.')
        if embeddings_freq:
            raise ValueError(f'TensorBoard: embedding projections are not written by minidl '
                             f'(embeddings_freq={embeddings_freq!r}); pass embeddings_freq=0.')
        if update_freq != 'epoch' and update_freq != 'batch' and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, got "
                             f'{update_freq!r}.')
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == 'batch' else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._previous_epoch_iterations = 0
        self._epoch_start_time = self._batch_start_time = time.time()
        if self.update_freq == 'epoch' and not write_steps_per_second:
            # no batch hook: fit then computes no per-batch logs (a device sync each)
            self.on_train_batch_end = Callback.on_train_batch_end.__get__(self)

    def set_model(self, model):
        super().set_model(model)
        self._train_dir = os.path.join(self.log_dir, 'train')
        self._val_dir = os.path.join(self.log_dir, 'validation')
        self._writers = {}
        if self.write_graph and hasattr(model, 'to_json'):
            try:
                self._writer('train').text_tensor('keras', model.to_json(), 'graph_keras_model', step=0)
            except Exception as exc:        # a model that cannot be serialized still trains
                warnings.warn(f'TensorBoard: the model could not be written as JSON ({exc}); no graph is shown.',
                              stacklevel=2)

    def _writer(self, which):
        if which not in self._writers:
            self._writers[which] = _EventWriter(self._train_dir if which == 'train' else self._val_dir)
        return self._writers[which]

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.write_steps_per_second:
            elapsed = time.time() - self._batch_start_time
            self._writer('train').scalar('batch_steps_per_second', 1.0 / elapsed if elapsed > 0 else 0.0, step)
        if self.update_freq != 'epoch' and step % self.update_freq == 0 and isinstance(logs, dict):
            for name, value in logs.items():
                if np.ndim(value) == 0:
                    self._writer('train').scalar(f'batch_{name}', value, step)

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, 'optimizer', None)
        if optimizer is not None and hasattr(optimizer, 'iterations') and logs:
            for name, value in logs.items():
                if np.ndim(value) == 0:
                    self._writer('val').scalar(f'evaluation_{name}_vs_iterations', value, int(optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = int(self.model.optimizer.iterations)
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith('val_')}
        val = {k[4:]: v for k, v in logs.items() if k.startswith('val_')}
        optimizer = getattr(self.model, 'optimizer', None)
        if optimizer is not None and hasattr(optimizer, 'learning_rate'):
            train['learning_rate'] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            elapsed = time.time() - self._epoch_start_time
            done = int(self.model.optimizer.iterations) - self._previous_epoch_iterations
            train['steps_per_second'] = done / elapsed if elapsed > 0 else 0.0
        for which, values in (('train', train), ('val', val)):
            for name, value in values.items():
                if np.ndim(value) == 0:
                    self._writer(which).scalar(f'epoch_{name}', value, epoch)

    def _log_weights(self, epoch):
        writer = self._writer('train')
        for layer in getattr(self.model, 'layers', []):
            for weight in getattr(layer, 'weights', []):
                name = str(getattr(weight, 'path', None) or getattr(weight, 'name', 'weight')).replace(':', '_')
                values = weight.numpy()
                writer.histogram(f'{name}/histogram', values, epoch)
                if self.write_images:
                    image = _weight_image(values)
                    if image is not None:
                        writer.image(f'{name}/image', image, epoch)
        writer.flush()


def _weight_image(w):
    """A weight as a 2-D picture (Keras' layout: vectors as a row, matrices wide), scaled to [0, 1]."""
    w = np.squeeze(w)
    if w.ndim == 1:
        w = w[None, :]
    elif w.ndim == 2 and w.shape[0] > w.shape[1]:
        w = w.T
    elif w.ndim == 3:
        w = np.concatenate(list(np.moveaxis(w, -1, 0)), axis=0)
    elif w.ndim != 2:
        return None
    lo, hi = float(w.min()), float(w.max())
    return (w - lo) / (hi - lo) if hi > lo else np.zeros_like(w, dtype=np.float64)


class BackupAndRestore(Callback):
    """Back up the training state so that a run killed mid-way resumes where it was, as Keras 3:
    at the end of every epoch (or every ``save_freq`` batches) the model's weights, the
    optimizer's state, the epoch count and the random generator's state (so the next epoch's
    shuffling and dropout are those of an uninterrupted run) go to ``backup_dir``; ``fit``
    started again with the same callback restores them and continues at the interrupted epoch.
    The backup is one file written atomically (a crash leaves the previous one intact);
    ``double_checkpoint`` also keeps the previous backup as ``.bkp``, used when the latest cannot
    be read. With ``delete_checkpoint`` the folder is removed when training completes."""

    def __init__(self, backup_dir, save_freq='epoch', double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError('BackupAndRestore: backup_dir is empty; give the folder for the backup files.')
        if save_freq != 'epoch' and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)
                                         and save_freq > 0):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive integer (batches), got "
                             f'{save_freq!r}.')
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, 'latest.backup.npz')
        self._previous_path = self._path + '.bkp'
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    # --- restore -----------------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if not getattr(self.model, 'built', True):
            raise ValueError(f'BackupAndRestore: the model must be built before fit() (give Input(shape) or '
                             f'call it on a batch) so that its weights can be restored; '
                             f'{getattr(self.model, "name", "the model")} is not built.')
        if not os.path.exists(self._path) and not os.path.exists(self._previous_path):
            return
        try:
            self._restore(self._path)
        except (OSError, ValueError, KeyError) as exc:
            if not os.path.exists(self._previous_path):
                raise
            warnings.warn(f'BackupAndRestore: {self._path} could not be read ({exc}); restoring the previous backup '
                          f'{self._previous_path}.', stacklevel=2)
            self._restore(self._previous_path)

    def _restore(self, path):
        import json
        from . import backend
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data['metadata']).decode('utf-8'))
            weights = [data[f'model/{i}'] for i in range(meta['model_weights'])]
            store = {str(i): data[f'optimizer/{i}'] for i in range(meta['optimizer_variables'])}
        self.model.set_weights(weights)
        optimizer = getattr(self.model, 'optimizer', None)
        if optimizer is not None and store:
            if not getattr(optimizer, 'built', True):
                optimizer.build(list(self.model.trainable_weights))
            optimizer.load_own_variables(store)
        if meta.get('rng_state') is not None:
            backend.rng().bit_generator.state = meta['rng_state']
        self._current_epoch = meta['epoch']
        self.model._initial_epoch = meta['epoch']

    # --- back up ---------------------------------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == 'epoch':
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save()

    def _should_save_on_batch(self, batch):
        if self.save_freq == 'epoch':
            return False
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save(self):
        import json
        import shutil
        from . import backend
        from .atomic import atomic_path
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            with atomic_path(self._previous_path) as tmp:
                shutil.copyfile(self._path, tmp)
        arrays = {f'model/{i}': np.asarray(w) for i, w in enumerate(self.model.get_weights())}
        store = {}
        optimizer = getattr(self.model, 'optimizer', None)
        if optimizer is not None and hasattr(optimizer, 'save_own_variables'):
            optimizer.save_own_variables(store)
        arrays.update({f'optimizer/{k}': np.asarray(v) for k, v in store.items()})
        meta = {'epoch': self._current_epoch, 'batch': self._last_batch_seen,
                'model_weights': sum(k.startswith('model/') for k in arrays), 'optimizer_variables': len(store),
                'rng_state': backend.rng().bit_generator.state}
        arrays['metadata'] = np.frombuffer(json.dumps(meta).encode('utf-8'), dtype=np.uint8)
        with atomic_path(self._path) as tmp, open(tmp, 'wb') as f:
            np.savez(f, **arrays)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.isdir(self.backup_dir):
            import shutil
            shutil.rmtree(self.backup_dir)


class SwapEMAWeights(Callback):
    """With an optimizer built with ``use_ema=True``: evaluate and predict with the moving-average
    weights (they are swapped into the model for the test/predict loops and swapped back after),
    and with ``swap_on_epoch`` also keep them in the model from each epoch's end to the next
    epoch's start (so checkpoints save them; after the last epoch the averages take the final
    weights, as Keras does)."""

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizer(self):
        optimizer = getattr(self.model, 'optimizer', None)
        optimizer = getattr(optimizer, 'inner_optimizer', optimizer)
        if optimizer is None or not hasattr(optimizer, '_model_variables_moving_average'):
            raise ValueError(f'SwapEMAWeights must be used with an optimizer built with use_ema=True; got '
                             f'use_ema={getattr(optimizer, "use_ema", None)} (or the optimizer has taken no step '
                             f'yet).')
        return optimizer

    def _swap_variables(self):
        optimizer = self._optimizer()
        for var, average in zip(optimizer._trainable_variables, optimizer._model_variables_moving_average):
            current = var.data.copy()
            var.assign(average.data)
            average.assign(current)

    def _finalize_ema_values(self):
        optimizer = self._optimizer()
        for var, average in zip(optimizer._trainable_variables, optimizer._model_variables_moving_average):
            average.assign(var.data)

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
            if epoch == self.params.get('epochs', 0) - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_predict_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_predict_end(self, logs=None):
        # (Keras 3.15 tests `not self._ema_weights_in_model` here and so leaves the averages in the model
        # after predict; minidl swaps the trained weights back, as on_test_end does.)
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False
