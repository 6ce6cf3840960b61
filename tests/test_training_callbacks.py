"""The training-vocabulary callbacks: TensorBoard (event files read back by TensorBoard's own
reader), BackupAndRestore (a child process killed mid-training resumes to the same weights as an
uninterrupted run), SwapEMAWeights, and LambdaCallback with every Keras hook; EMA and schedules
through fit."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minidl
from minidl import callbacks, layers, models, optimizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_model(optimizer, seed=0):
    minidl.seed(seed)
    model = models.Sequential([layers.Input((4,)), layers.Dense(8, activation='relu'), layers.Dropout(0.2),
                               layers.Dense(3, activation='softmax')])
    model.compile(optimizer=optimizer, loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    return model


def blobs(n=96, seed=0):
    r = np.random.default_rng(seed)
    y = r.integers(0, 3, n)
    return (np.eye(3, 4)[y] * 2 + r.normal(0, 0.7, (n, 4))).astype(np.float32), y


# --- LambdaCallback ------------------------------------------------------------------------------------------
def test_lambda_callback_takes_every_keras_hook():
    seen = []
    hooks = {name: (lambda *args, _name=name: seen.append(_name)) for name in callbacks.LambdaCallback._HOOKS
             if name not in ('on_batch_begin', 'on_batch_end')}
    cb = callbacks.LambdaCallback(**hooks)
    x, y = blobs(32)
    model = small_model('adam')
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[cb])
    model.predict(x, batch_size=16, verbose=0, callbacks=[cb])
    for hook in ('on_train_begin', 'on_epoch_begin', 'on_train_batch_begin', 'on_train_batch_end', 'on_epoch_end',
                 'on_train_end', 'on_test_begin', 'on_test_end', 'on_predict_begin', 'on_predict_end'):
        assert hook in seen, hook
    keras2 = []
    cb = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: keras2.append(batch))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    assert keras2 == [0, 1]
    with pytest.raises(TypeError, match='unknown hooks'):
        callbacks.LambdaCallback(on_epoch_ends=print)


# --- TensorBoard ---------------------------------------------------------------------------------------------------
READ_BACK = textwrap.dedent('''
    import json, sys
    sys.modules['tensorflow'] = None       # TensorBoard's reader then uses its own stub of tf
    from tensorboard.backend.event_processing import event_accumulator as ea
    out = {}
    for run in ('train', 'validation'):
        acc = ea.EventAccumulator(sys.argv[1] + '/' + run, size_guidance={'scalars': 0, 'histograms': 0,
                                                                           'images': 0, 'tensors': 0})
        acc.Reload()
        tags = acc.Tags()
        out[run] = {'scalars': {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags['scalars']},
                    'histograms': {t: [[e.step, e.histogram_value.num, e.histogram_value.min,
                                        e.histogram_value.max] for e in acc.Histograms(t)] for t in tags['histograms']},
                    'images': {t: [[e.step, e.width, e.height] for e in acc.Images(t)] for t in tags['images']},
                    'tensors': sorted(tags['tensors'])}
    print(json.dumps(out))
''')


def read_back(log_dir):
    """Read the event files with TensorBoard's own EventAccumulator (in a child, without TensorFlow)."""
    proc = subprocess.run([sys.executable, '-c', READ_BACK, str(log_dir)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_tensorboard_event_files_are_read_back_by_tensorboard(tmp_path):
    pytest.importorskip('tensorboard')
    x, y = blobs(64)
    model = small_model(optimizers.Adam(optimizers.schedules.ExponentialDecay(0.01, 4, 0.5)))
    tb = callbacks.TensorBoard(log_dir=tmp_path, histogram_freq=2, update_freq=2, write_images=True,
                               write_steps_per_second=True)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_data=(x[:32], y[:32]),
                        callbacks=[tb]).history
    assert any(name.startswith('events.out.tfevents') for name in os.listdir(tmp_path / 'train'))
    logs = read_back(tmp_path)
    train, val = logs['train'], logs['validation']
    steps = [s for s, _ in train['scalars']['epoch_loss']]
    assert steps == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train['scalars']['epoch_loss']], history['loss'], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in train['scalars']['epoch_accuracy']], history['accuracy'], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in val['scalars']['epoch_loss']], history['val_loss'], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in train['scalars']['epoch_learning_rate']],
                               [0.01 * 0.5 ** (4 * (e + 1) / 4) for e in range(3)], rtol=1e-6)
    assert [s for s, _ in train['scalars']['batch_loss']] == [2, 4, 6, 8, 10, 12]       # every 2nd of 12 batches
    assert len(train['scalars']['batch_steps_per_second']) == 12
    assert 'epoch_steps_per_second' in train['scalars']
    kernel = [t for t in train['histograms'] if t.endswith('kernel/histogram')]
    assert len(kernel) == 2
    assert [h[0] for h in train['histograms'][kernel[0]]] == [0, 2]                       # histogram_freq=2
    assert train['histograms'][kernel[0]][0][1] == 4 * 8                                  # every entry counted
    assert len([t for t in train['images'] if t.endswith('kernel/image')]) == 2
    if hasattr(model, 'to_json'):
        assert 'keras' in train['tensors']


def test_tensorboard_argument_errors_and_missing_package_message(tmp_path, monkeypatch):
    pytest.importorskip('tensorboard')
    with pytest.raises(ValueError, match='profiling'):
        callbacks.TensorBoard(tmp_path, profile_batch=3)
    with pytest.raises(ValueError, match="update_freq must be 'epoch'"):
        callbacks.TensorBoard(tmp_path, update_freq=0)
    import builtins
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith('tensorboard'):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, '__import__', no_tensorboard)
    with pytest.raises(ImportError, match=r'minidl\[tensorboard\]'):
        callbacks.TensorBoard(tmp_path)


def test_tensorboard_per_epoch_adds_no_batch_hook(tmp_path):
    pytest.importorskip('tensorboard')
    cbs = callbacks.CallbackList([callbacks.TensorBoard(tmp_path)], params={})
    assert not cbs.needs_batch_logs        # no device sync per batch for epoch logs
    cbs = callbacks.CallbackList([callbacks.TensorBoard(tmp_path, update_freq='batch')], params={})
    assert cbs.needs_batch_logs


# --- BackupAndRestore ---------------------------------------------------------------------------------------------
CHILD = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    import minidl
    from minidl import callbacks, layers, models, optimizers
    backup, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    minidl.seed(0)
    r = np.random.default_rng(0)
    y = r.integers(0, 3, 96)
    x = (np.eye(3, 4)[y] * 2 + r.normal(0, 0.7, (96, 4))).astype(np.float32)
    model = models.Sequential([layers.Input((4,)), layers.Dense(8, activation='relu'), layers.Dropout(0.3),
                               layers.Dense(3, activation='softmax')])
    lr = optimizers.schedules.CosineDecay(0.02, 30, warmup_target=0.05, warmup_steps=6)
    model.compile(optimizers.AdamW(lr, weight_decay=0.01, use_ema=True), 'sparse_categorical_crossentropy',
                  ['accuracy'])

    class Kill(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if kill_at >= 0 and self.model.optimizer.iterations == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)        # no clean-up, no on_train_end

    seen = []
    model.fit(x, y, batch_size=16, epochs=5, verbose=0, shuffle=True,
              callbacks=[callbacks.BackupAndRestore(backup, save_freq='epoch'), Kill(),
                         callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    np.savez(out, *model.get_weights(), seen=np.array(seen), iterations=int(model.optimizer.iterations))
''')


def run_child(tmp_path, name, kill_at):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''), MINIDL_BACKEND='numpy')
    out = tmp_path / f'{name}.npz'
    proc = subprocess.run([sys.executable, '-c', CHILD, str(tmp_path / 'backup'), str(out), str(kill_at)], env=env,
                          capture_output=True, text=True, timeout=300)
    return proc, out


@pytest.mark.slow
def test_backup_and_restore_resumes_a_killed_run_to_the_same_weights(tmp_path):
    (tmp_path / 'a').mkdir()
    straight, straight_out = run_child(tmp_path / 'a', 'straight', -1)     # uninterrupted, its own backup folder
    assert straight.returncode == 0, straight.stderr[-2000:]
    killed, _ = run_child(tmp_path, 'killed', 15)            # 6 steps an epoch: killed in epoch 3
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    assert os.path.exists(tmp_path / 'backup' / 'latest.backup.npz')
    resumed, resumed_out = run_child(tmp_path, 'resumed', -1)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = np.load(straight_out), np.load(resumed_out)
    assert list(b['seen']) == [2, 3, 4]                        # resumed at the interrupted epoch
    assert int(b['iterations']) == int(a['iterations']) == 30  # with the optimizer's step count
    for key in a.files:
        if key.startswith('arr_'):
            np.testing.assert_array_equal(a[key], b[key])      # bit for bit: weights, Adam state, EMA, RNG
    assert not os.path.exists(tmp_path / 'backup')             # deleted once training completed


def test_backup_is_one_atomic_file_and_double_checkpoint_keeps_the_previous(tmp_path):
    x, y = blobs(32)
    model = small_model('adam')
    backup = callbacks.BackupAndRestore(tmp_path / 'bk', double_checkpoint=True, delete_checkpoint=False)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[backup])
    assert sorted(os.listdir(tmp_path / 'bk')) == ['latest.backup.npz', 'latest.backup.npz.bkp']
    with open(tmp_path / 'bk' / 'latest.backup.npz', 'wb') as f:
        f.write(b'broken')                                     # the latest unreadable: the previous one is used
    fresh = small_model('adam', seed=1)
    with pytest.warns(UserWarning, match='previous backup'):
        fresh.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[callbacks.BackupAndRestore(
            tmp_path / 'bk', double_checkpoint=True, delete_checkpoint=False)])
    with pytest.raises(ValueError, match="save_freq must be 'epoch'"):
        callbacks.BackupAndRestore(tmp_path, save_freq='batch')
    with pytest.raises(ValueError, match='backup_dir'):
        callbacks.BackupAndRestore('')


def test_backup_every_n_batches(tmp_path):
    x, y = blobs(64)
    model = small_model('sgd')
    saved = []
    backup = callbacks.BackupAndRestore(tmp_path / 'bk', save_freq=3, delete_checkpoint=False)
    original = backup._save
    backup._save = lambda: saved.append(int(model.optimizer.iterations)) or original()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[backup])
    assert saved == [3, 6]


# --- EMA, SwapEMAWeights ---------------------------------------------------------------------------------------
def test_fit_with_ema_ends_on_the_moving_averages_and_swap_evaluates_with_them():
    x, y = blobs(64)
    model = small_model(optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9))
    weights_seen = {}

    class Peek(callbacks.Callback):
        def on_train_end(self, logs=None):
            weights_seen['end'] = [w.copy() for w in self.model.get_weights()]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[Peek()])
    averages = [v.numpy() for v in model.optimizer._model_variables_moving_average]
    for w, a in zip(weights_seen['end'], averages):
        np.testing.assert_array_equal(w, a)                    # finalize_variable_values at the end of fit

    model = small_model(optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for v in model.trainable_weights:                          # make weights and averages differ
        v.assign(v.data + 1.0)
    trained = model.get_weights()
    averages = [v.numpy() for v in model.optimizer._model_variables_moving_average]
    swap = callbacks.SwapEMAWeights()
    loss_trained = model.evaluate(x, y, verbose=0, return_dict=True)['loss']
    loss_ema = model.evaluate(x, y, verbose=0, return_dict=True, callbacks=[swap])['loss']
    assert loss_ema != loss_trained
    model.set_weights(averages)
    assert model.evaluate(x, y, verbose=0, return_dict=True)['loss'] == pytest.approx(loss_ema)
    model.set_weights(trained)
    model.predict(x, verbose=0, callbacks=[swap])
    for w, t in zip(model.get_weights(), trained):             # swapped back after predict too
        np.testing.assert_array_equal(w, t)


def test_swap_on_epoch_keeps_the_averages_between_epochs():
    x, y = blobs(32)
    model = small_model(optimizers.Adam(0.01, use_ema=True))
    seen = []

    class Peek(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([w.copy() for w in self.model.get_weights()])
    swap = callbacks.SwapEMAWeights(swap_on_epoch=True)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[swap, Peek()])
    averages = model.optimizer._model_variables_moving_average
    assert swap._ema_weights_in_model
    for w, a in zip(seen[-1], averages):                      # the model held the averages at epoch end
        np.testing.assert_array_equal(w, a.numpy())
    with pytest.raises(ValueError, match='use_ema=True'):
        plain = small_model('adam')
        plain.fit(x, y, verbose=0, epochs=1)
        plain.evaluate(x, y, verbose=0, callbacks=[callbacks.SwapEMAWeights()])


# --- a schedule through fit --------------------------------------------------------------------------------------------
def test_schedule_steps_with_every_batch_and_is_logged_by_callbacks():
    x, y = blobs(64)
    schedule = optimizers.schedules.PiecewiseConstantDecay([4], [0.1, 0.01])
    model = small_model(optimizers.SGD(schedule))
    rates = []
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[callbacks.LambdaCallback(on_epoch_end=lambda e, logs: rates.append(
                  float(model.optimizer.learning_rate)))])
    assert rates == [0.1, pytest.approx(0.01)]                 # 4 steps, then 8
    scheduler = callbacks.LearningRateScheduler(lambda epoch: 0.5)
    scheduler.set_model(model)
    with pytest.raises(TypeError, match='LearningRateSchedule'):    # a schedule's rate cannot be set, as in Keras
        scheduler.on_epoch_begin(0)


# --- the example scripts, on synthetic data -----------------------------------------------------------
EXAMPLE_RUNS = [
    ('imbalanced_classification.py', ['--batch-size', '32'], ['imbalanced.none', 'imbalanced.balanced']),
    ('lr_schedules.py', ['--batch-size', '16'], ['tp4b.ej8_mnist_dense+constant', 'tp4b.ej8_mnist_dense+cosine']),
    ('cifar10_adamw_cosine.py', ['--batch-size', '16', '--train-size', '32', '--test-size', '16', '--width', '4',
                                 '--compare'], ['cifar10_adamw_cosine', 'cifar10_adamw_constant']),
]


@pytest.mark.slow
@pytest.mark.parametrize('script, flags, model_ids', EXAMPLE_RUNS, ids=[r[0][:-3] for r in EXAMPLE_RUNS])
def test_example_scripts_run_on_synthetic_data(script, flags, model_ids, tmp_path):
    import re
    env = dict(os.environ, MINIDL_DATA=str(tmp_path / 'no-datasets'), MPLBACKEND='Agg',
               PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'examples', script), '--synthetic', '--limit', '64',
                           '--epochs', '2', '--quiet', '--plot', str(tmp_path / 'h.png')] + flags,
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, f'{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    assert re.findall(r'RESULT model=(\S+)', proc.stdout) == model_ids
