"""Callbacks: scripted epoch logs for the decision rules, and fit() runs on the test double."""
import math
import os

import numpy as np
import pytest

from minidl import callbacks, optimizers
from test_training import MLP, blobs


class StubModel:
    """What callbacks touch: weights, stop_training, an optimizer, save_weights."""

    def __init__(self):
        self.stop_training = False
        self.weights = [np.zeros(2)]
        self.optimizer = optimizers.SGD(0.1)
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]

    def save_weights(self, path):
        self.saved.append(path)


def drive(callback, values, key='val_loss', model=None):
    """Run the epoch hooks over a scripted sequence of monitored values; the model's weights
    are [epoch, epoch] during epoch ``epoch``. Returns the model and the epochs run."""
    model = model or StubModel()
    callback.set_model(model)
    callback.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        model.weights = [np.full(2, float(epoch))]
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {key: value, 'loss': 1.0})
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end()
    return model, ran


def test_early_stopping_stops_after_patience_and_restores_best():
    es = callbacks.EarlyStopping(monitor='val_loss', patience=2, restore_best_weights=True)
    model, ran = drive(es, [1.0, 0.8, 0.9, 0.85, 0.7, 0.6])
    assert ran == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])


def test_early_stopping_modes_min_delta_and_baseline():
    _, ran = drive(callbacks.EarlyStopping(monitor='val_accuracy', patience=1), [0.5, 0.6, 0.55, 0.9],
                   key='val_accuracy')
    assert ran == [0, 1, 2]                                     # 'auto' maximizes accuracies
    _, ran = drive(callbacks.EarlyStopping(monitor='val_loss', min_delta=0.15, patience=1), [1.0, 0.9, 0.5])
    assert ran == [0, 1]                                        # 0.9 is not better by more than 0.15
    _, ran = drive(callbacks.EarlyStopping(patience=2), [1.0, 0.9, 0.95, 0.97, 0.99])
    assert ran == [0, 1, 2, 3]
    _, ran = drive(callbacks.EarlyStopping(patience=2, baseline=0.5), [1.0, 0.9, 0.95, 0.97, 0.99])
    assert ran == [0, 1, 2]                                     # improvements that miss the baseline count as waiting
    model, ran = drive(callbacks.EarlyStopping(patience=5, restore_best_weights=True), [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])  # Keras 3: restored even without stopping
    with pytest.raises(ValueError, match="mode='min'"):
        callbacks.EarlyStopping(monitor='val_custom')


def test_early_stopping_missing_monitor_warns():
    with pytest.warns(UserWarning, match='val_acc'):
        _, ran = drive(callbacks.EarlyStopping(monitor='val_acc'), [1.0, 1.0, 1.0], key='val_accuracy')
    assert ran == [0, 1, 2]


def test_early_stopping_in_fit_restores_the_best_epoch_weights():
    x, y = blobs(64)
    model = MLP()
    model.compile(optimizers.SGD(0.05), 'sparse_categorical_crossentropy')
    snapshots = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    # min_delta larger than any change: only epoch 0 counts as an improvement.
    stop = callbacks.EarlyStopping(monitor='loss', min_delta=100.0, patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, callbacks=[record, stop], verbose=0)
    assert history.epoch == [0, 1, 2] and len(history.history['loss']) == 3
    for restored, best in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(restored, best)
    assert not np.array_equal(snapshots[0][0], snapshots[2][0])


def test_two_early_stoppings_stop_when_either_fires():
    x, y = blobs(64)
    model = MLP()
    model.compile(optimizers.SGD(0.05), 'sparse_categorical_crossentropy', ['accuracy'])
    patient = callbacks.EarlyStopping(monitor='val_loss', patience=50)
    eager = callbacks.EarlyStopping(monitor='val_accuracy', min_delta=2.0, patience=1)
    history = model.fit(x, y, epochs=10, validation_split=0.25, callbacks=[patient, eager], verbose=0)
    assert history.epoch == [0, 1]


def test_model_checkpoint_saves_only_improvements(tmp_path, capsys):
    path = os.path.join(tmp_path, 'w{epoch:02d}-{val_loss:.1f}.weights.h5')
    ckpt = callbacks.ModelCheckpoint(path, monitor='val_loss', save_best_only=True, save_weights_only=True, verbose=1)
    model, _ = drive(ckpt, [1.0, 1.2, 0.8, 0.9])
    assert [os.path.basename(p) for p in model.saved] == ['w01-1.0.weights.h5', 'w03-0.8.weights.h5']
    out = capsys.readouterr().out
    assert 'Epoch 2: val_loss did not improve from 1.00000' in out
    assert 'Epoch 3: val_loss improved from 1.00000 to 0.80000, saving model to' in out
    every = callbacks.ModelCheckpoint(path, save_weights_only=True)
    model, _ = drive(every, [1.0, 1.2, 0.8])
    assert len(model.saved) == 3
    threshold = callbacks.ModelCheckpoint(path, save_best_only=True, save_weights_only=True,
                                          initial_value_threshold=0.85)
    model, _ = drive(threshold, [1.0, 0.8])
    assert len(model.saved) == 1
    with pytest.raises(KeyError, match='val_acc'):
        drive(callbacks.ModelCheckpoint('{val_acc}.h5', save_weights_only=True), [1.0])


def test_model_checkpoint_in_fit_writes_files(tmp_path):
    x, y = blobs(40)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy')
    path = os.path.join(tmp_path, 'sub', 'best.weights.h5')
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(path, save_best_only=True, save_weights_only=True)])
    assert os.path.exists(path)


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    x, y = blobs(40)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy', ['accuracy'])
    path = os.path.join(tmp_path, 'log.csv')
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    lines = open(path).read().splitlines()
    assert lines[0] == 'epoch,accuracy,loss,val_accuracy,val_loss' and len(lines) == 3
    assert float(lines[2].split(',')[2]) == pytest.approx(history.history['loss'][1])
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path, append=True)])
    assert len(open(path).read().splitlines()) == 4
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path, separator=';')])
    lines = open(path).read().splitlines()
    assert len(lines) == 2 and lines[0] == 'epoch;accuracy;loss' and lines[1].startswith('0;')


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y = blobs(40)
    model = MLP()
    model.compile(optimizers.SGD(0.1), 'sparse_categorical_crossentropy')
    seen = []
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)
    probe = callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched, probe])
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    assert history.history['learning_rate'] == pytest.approx([0.1, 0.05, 0.025])
    one_arg = callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[one_arg])
    assert model.optimizer.learning_rate == pytest.approx(0.02)


def test_reduce_lr_on_plateau_patience_cooldown_and_min_lr():
    cb = callbacks.ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    model = StubModel()
    cb.set_model(model)
    cb.on_train_begin()
    rates = []
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5]):
        logs = {'val_loss': value}
        cb.on_epoch_end(epoch, logs)
        assert logs['learning_rate'] == pytest.approx(rates[-1] if rates else 0.1)
        rates.append(model.optimizer.learning_rate)
    # Keras' rule: the cooldown epoch counts towards the next patience window; the floor is min_lr.
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02])
    cb = callbacks.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.02)
    model, _ = drive(cb, [1.0, 1.0, 1.0, 1.0])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    with pytest.raises(ValueError, match='factor'):
        callbacks.ReduceLROnPlateau(factor=2.0)


def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    x, y = blobs(64)
    model = MLP()
    model.compile('sgd', 'sparse_categorical_crossentropy')
    model.W2.data[0, 0] = np.nan
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert len(model.calls) == 1 and history.epoch == [0]
    assert math.isnan(history.history['loss'][0])
    assert 'Batch 0: Invalid loss, terminating training' in capsys.readouterr().out


def test_time_stopping_stops_before_the_budget_is_passed(monkeypatch):
    """Epochs of 10 s on a fake clock with a 25 s budget: after epoch 2 another would end at
    30 s, so training stops there; a first epoch always runs, even when it alone is too long."""
    clock = [0.0]
    monkeypatch.setattr(callbacks.time, 'perf_counter', lambda: clock[0])
    tick = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: clock.__setitem__(0, clock[0] + 10))
    x, y = blobs(32)
    model = MLP()
    model.compile('sgd', 'sparse_categorical_crossentropy')
    stopper = callbacks.TimeStopping(25)
    assert model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[tick, stopper]).epoch == [0, 1]
    assert stopper.stopped_epoch == 1
    assert model.fit(x, y, batch_size=16, epochs=5, verbose=0,
                     callbacks=[tick, callbacks.TimeStopping(5)]).epoch == [0]
    with pytest.raises(ValueError, match='positive'):
        callbacks.TimeStopping(0)


def test_lambda_callback_and_batch_logs():
    x, y = blobs(48)
    model = MLP()
    model.compile('sgd', 'sparse_categorical_crossentropy', ['accuracy'])
    events = []
    cb = callbacks.LambdaCallback(on_train_begin=lambda logs: events.append('begin'),
                                  on_batch_end=lambda batch, logs: events.append((batch, sorted(logs))),
                                  on_epoch_end=lambda epoch, logs: events.append(('epoch', epoch)),
                                  on_train_end=lambda logs: events.append('end'))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    assert events == ['begin', (0, ['accuracy', 'loss']), (1, ['accuracy', 'loss']), (2, ['accuracy', 'loss']),
                      ('epoch', 0), 'end']
    with pytest.raises(TypeError, match='on_epoch_start'):
        callbacks.LambdaCallback(on_epoch_start=print)


def test_batch_logs_are_only_computed_when_a_callback_wants_them():
    quiet = callbacks.CallbackList([callbacks.History(), callbacks.EarlyStopping(), callbacks.CSVLogger('x.csv')])
    assert not quiet.needs_batch_logs

    class PerBatch(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            pass
    assert callbacks.CallbackList([PerBatch()]).needs_batch_logs
    assert callbacks.CallbackList([callbacks.TerminateOnNaN()]).needs_batch_logs
    with pytest.raises(TypeError, match='Callback'):
        callbacks.CallbackList([print])


def test_custom_callback_sees_model_and_params():
    x, y = blobs(40)
    model = MLP()
    model.compile('sgd', 'sparse_categorical_crossentropy')

    class Probe(callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seen = (self.model, dict(self.params))
    probe = Probe()
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[probe])
    assert probe.seen == (model, {'epochs': 2, 'steps': 4, 'verbose': 0})
