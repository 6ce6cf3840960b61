"""compile / fit / evaluate / predict of TrainingMixin, on a test double that satisfies the
contract a Model offers (call with ``training``, trainable_weights, losses, get/set_weights)."""
import re

import numpy as np
import pytest

import minidl
import minidl.functional as F
from minidl import Tensor, backend, losses, optimizers
from minidl.models.progbar import Progbar
from minidl.models.training import TrainingMixin


class MLP(TrainingMixin):
    """x -> relu(x W1 + b1) W2 + b2 -> activation; ``l2`` adds l2 * sum(W1^2) to ``losses``.
    With ``two_inputs`` the model takes [x_a, x_b] and uses x_a + x_b."""

    def __init__(self, n_in=4, n_hidden=16, n_out=3, activation='softmax', l2=0.0, two_inputs=False, seed=1):
        r = np.random.default_rng(seed)
        self.W1 = Tensor(r.normal(0, 0.5, (n_in, n_hidden)).astype(np.float32), requires_grad=True, name='d1/kernel')
        self.b1 = Tensor(np.zeros(n_hidden, np.float32), requires_grad=True, name='d1/bias')
        self.W2 = Tensor(r.normal(0, 0.5, (n_hidden, n_out)).astype(np.float32), requires_grad=True, name='d2/kernel')
        self.b2 = Tensor(np.zeros(n_out, np.float32), requires_grad=True, name='d2/bias')
        self.activation, self.l2, self.two_inputs = activation, l2, two_inputs
        self.stop_training = False
        self.name, self.layers = 'mlp', []
        self.calls = []                  # (training flag, input dtype) of every call

    @property
    def weights(self):
        return [self.W1, self.b1, self.W2, self.b2]

    trainable_weights = weights

    @property
    def losses(self):
        return [self.l2 * (self.W1 * self.W1).sum()] if self.l2 else []

    def get_weights(self):
        return [w.numpy().copy() for w in self.weights]

    def set_weights(self, values):
        for w, v in zip(self.weights, values):
            w.data[...] = backend.as_array(v)

    def save_weights(self, path):
        with open(path, 'wb') as f:  # the exact name (np.savez alone would append .npz)
            np.savez(f, *self.get_weights())

    def __call__(self, x, training=False):
        if self.two_inputs:
            x = x[0] + x[1]
        self.calls.append((training, x.dtype))
        z = F.relu(x @ self.W1 + self.b1) @ self.W2 + self.b2
        return {'softmax': F.softmax, 'sigmoid': F.sigmoid, 'linear': lambda t: t}[self.activation](z)


def blobs(n=240, seed=0):
    """Three separable classes in 4-D (float64, as users' NumPy data usually is)."""
    r = np.random.default_rng(seed)
    y = r.integers(0, 3, n)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], float)
    return centers[y] + r.normal(0, 0.7, (n, 4)), y


def test_training_loss_decreases_and_accuracy_rises():
    x, y = blobs()
    model = MLP()
    model.compile(optimizer=optimizers.Adam(0.01), loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(x, y, batch_size=32, epochs=8, verbose=0).history
    assert list(history) == ['accuracy', 'loss']
    assert len(history['loss']) == 8
    assert history['loss'][-1] < 0.6 * history['loss'][0]
    assert history['accuracy'][-1] > 0.9


def test_same_seed_gives_identical_history():
    x, y = blobs()

    def run():
        minidl.seed(123)
        model = MLP()
        model.compile(optimizers.SGD(0.05, momentum=0.9), 'sparse_categorical_crossentropy', ['acc'])
        return model.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0).history

    first, second = run(), run()
    assert first == second
    minidl.seed(7)
    model = MLP()
    model.compile(optimizers.SGD(0.05, momentum=0.9), 'sparse_categorical_crossentropy', ['acc'])
    assert model.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0).history != first


@pytest.mark.parametrize('loss, labels, metric_list, keys', [
    ('sparse_categorical_crossentropy', 'index', ['acc'], ['acc', 'loss', 'val_acc', 'val_loss']),
    ('categorical_crossentropy', 'onehot', ['accuracy', 'mae'],
     ['accuracy', 'loss', 'mae', 'val_accuracy', 'val_loss', 'val_mae']),
    ('mse', 'onehot', ['categorical_accuracy', 'mse'],
     ['categorical_accuracy', 'loss', 'mse', 'val_categorical_accuracy', 'val_loss', 'val_mse']),
    ('categorical_crossentropy', 'onehot', None, ['loss', 'val_loss']),
])
def test_history_keys_follow_keras_names(loss, labels, metric_list, keys):
    x, y = blobs(60)
    y = np.eye(3)[y] if labels == 'onehot' else y
    model = MLP()
    model.compile('rmsprop', loss, metric_list)
    history = model.fit(x, y, epochs=2, validation_data=(x[:20], y[:20]), verbose=0)
    assert list(history.history) == keys
    assert history.epoch == [0, 1] and model.history is history


def test_accuracy_is_binary_for_a_sigmoid_output():
    x, y = blobs(80)
    y = (y == 0).astype(np.float64)                  # shape (N,), model output (N, 1)
    model = MLP(n_out=1, activation='sigmoid')
    model.compile('adam', 'binary_crossentropy', ['accuracy'])
    model.fit(x, y, epochs=2, verbose=0)
    pred = model.predict(x)
    assert pred.shape == (80, 1)
    expected = ((pred[:, 0] > 0.5) == y).mean()
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(expected)


@pytest.mark.parametrize('loss, labels, message', [
    ('sparse_categorical_crossentropy', 'onehot', 'look one-hot'),
    ('categorical_crossentropy', 'index', 'sparse_categorical_crossentropy'),
    ('sparse_categorical_crossentropy', 'too_big', r'class indices in \[0, 3\)'),
])
def test_wrong_labels_raise_a_clear_error(loss, labels, message):
    x, y = blobs(40)
    y = {'onehot': np.eye(3)[y], 'index': y, 'too_big': y + 1}[labels]
    model = MLP()
    model.compile('adam', loss)
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, verbose=0)


def test_binary_crossentropy_rejects_class_indices():
    x, y = blobs(40)
    model = MLP(n_out=1, activation='sigmoid')
    model.compile('adam', 'binary_crossentropy')
    with pytest.raises(ValueError, match=r'labels in \[0, 1\]'):
        model.fit(x, y, verbose=0)


def test_data_errors():
    x, y = blobs(40)
    model = MLP()
    with pytest.raises(RuntimeError, match='compile'):
        model.fit(x, y)
    model.compile('adam', 'sparse_categorical_crossentropy')
    with pytest.raises(ValueError, match='different numbers of samples'):
        model.fit(x, y[:30], verbose=0)
    with pytest.raises(ValueError, match='labels y are missing'):
        model.fit(x, verbose=0)
    model.compile('adam', ['mse', 'mae'])  # a subclassed model's outputs are known at the first batch
    with pytest.raises(ValueError, match=r'list of 2 losses, but the model has 1 output'):
        model.fit(x, y, verbose=0)


def test_training_flag_only_in_fit_and_train_on_batch():
    x, y = blobs(64)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy')
    model.fit(x, y, batch_size=32, epochs=1, validation_data=(x[:32], y[:32]), verbose=0)
    assert [t for t, _ in model.calls] == [True, True, False]
    model.calls.clear()
    model.evaluate(x, y, batch_size=64, verbose=0)
    model.predict(x, batch_size=64)
    model.train_on_batch(x[:8], y[:8])
    model.test_on_batch(x[:8], y[:8])
    assert [t for t, _ in model.calls] == [False, False, True, False]


def test_inputs_become_float32_and_integers_stay_integer():
    model = MLP(n_out=1, activation='linear')
    model.compile('sgd', 'mse')
    model.train_on_batch(np.ones((4, 4)), np.zeros(4))
    model.predict(np.ones((4, 4), np.int32))
    assert model.calls[0][1] == np.float32 and model.calls[1][1] == np.int32


def test_regularization_penalty_is_added_to_the_loss():
    x, y = blobs(16)
    plain, regularized = MLP(), MLP(l2=0.01)
    for m in (plain, regularized):
        m.compile('sgd', 'sparse_categorical_crossentropy')
    penalty = 0.01 * float((plain.W1.data.astype(np.float64) ** 2).sum())
    assert regularized.test_on_batch(x, y) == pytest.approx(plain.test_on_batch(x, y) + penalty, rel=1e-5)
    before = regularized.W1.numpy().copy()
    regularized.train_on_batch(x, y)
    plain.train_on_batch(x, y)
    # the penalty's gradient 2 * l2 * W1 pulled the regularized kernel further towards zero
    step_plain = plain.W1.numpy() - before
    step_reg = regularized.W1.numpy() - before
    np.testing.assert_allclose(step_reg - step_plain, -0.01 * 2 * 0.01 * before, atol=1e-6)


def test_loss_weights_scale_the_loss():
    x, y = blobs(16)
    model = MLP()
    model.compile('sgd', 'sparse_categorical_crossentropy')
    base = model.test_on_batch(x, y)
    model.compile('sgd', 'sparse_categorical_crossentropy', loss_weights=[0.5])
    assert model.test_on_batch(x, y) == pytest.approx(0.5 * base, rel=1e-6)


def test_evaluate_return_forms():
    x, y = blobs(50)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy')
    loss = model.evaluate(x, y, batch_size=8, verbose=0)
    assert isinstance(loss, float)
    # ('mse' against class indices is no metric in Keras 3: labels (N,) and predictions (N, 3) do not align)
    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy', 'sparse_categorical_crossentropy'])
    values = model.evaluate(x, y, batch_size=8, verbose=0)
    assert model.metrics_names == ['loss', 'accuracy', 'sparse_categorical_crossentropy'] and len(values) == 3
    assert values[0] == pytest.approx(loss, rel=1e-6)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(dict(zip(model.metrics_names, values)))
    pred = model.predict(x, batch_size=8)
    assert values[1] == pytest.approx((pred.argmax(1) == y).mean())


def test_evaluate_averages_the_loss_over_samples():
    x, y = blobs(50)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy')
    per_batch = [model.test_on_batch(x[i:i + 16], y[i:i + 16]) for i in range(0, 50, 16)]
    sizes = [16, 16, 16, 2]
    assert model.evaluate(x, y, batch_size=16, verbose=0) == pytest.approx(np.average(per_batch, weights=sizes))


def test_predict_gives_numpy_without_graph():
    x, _ = blobs(10)
    model = MLP()
    pred = model.predict(x, batch_size=3)
    assert isinstance(pred, np.ndarray) and pred.shape == (10, 3)
    np.testing.assert_allclose(pred, model(Tensor(x.astype(np.float32))).numpy(), rtol=1e-6)
    assert model.W1.grad is None


class FlowLike:
    """Like ImageDataGenerator.flow: endless iterator of (x, y) batches with __len__."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size, self.i = x, y, batch_size, 0
        self.served = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        return self

    def __next__(self):
        start = (self.i % len(self)) * self.batch_size
        self.i += 1
        self.served += 1
        return self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]


class SequenceLike:
    """A Keras Sequence: __len__, __getitem__ and on_epoch_end, no __next__."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size, self.epochs_ended = x, y, batch_size, 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[part], self.y[part]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_fit_on_generators():
    x, y = blobs(100)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy', ['accuracy'])
    train, val = FlowLike(x, y, 20), FlowLike(x[:40], y[:40], 20)
    history = model.fit(train, epochs=2, validation_data=val, verbose=0).history
    assert train.served == 2 * 5 and val.served == 2 * 2
    assert sorted(history) == ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    train2 = FlowLike(x, y, 20)
    model.fit_generator(train2, steps_per_epoch=3, epochs=2, validation_data=val, validation_steps=1, verbose=0)
    assert train2.served == 6
    seq = SequenceLike(x, y, 25)
    model.fit(seq, epochs=3, verbose=0)
    assert seq.epochs_ended == 3
    assert model.evaluate(FlowLike(x, y, 50), verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5)
    batches = (x[i:i + 30] for i in range(0, 100, 30))
    np.testing.assert_allclose(model.predict(batches), model.predict(x), rtol=1e-6)


def test_finite_generator_running_out_stops_training_with_a_warning():
    x, y = blobs(60)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy')
    batches = ((x[i:i + 20], y[i:i + 20]) for i in range(0, 60, 20))
    with pytest.warns(UserWarning, match='ran out of data'):
        history = model.fit(batches, steps_per_epoch=2, epochs=5, verbose=0)
    assert len(history.history['loss']) == 2


def test_steps_per_epoch_on_arrays_continues_across_epochs():
    x, y = blobs(100)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy')
    model.fit(x, y, batch_size=10, steps_per_epoch=3, epochs=2, verbose=0)
    assert len(model.calls) == 6


def test_two_input_model_takes_a_list_of_arrays():
    x, y = blobs(40)
    model = MLP(two_inputs=True)
    model.compile('adam', 'sparse_categorical_crossentropy', ['accuracy'])
    history = model.fit([x / 2, x / 2], y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    assert len(history.history['val_accuracy']) == 2
    np.testing.assert_allclose(model.predict([x / 2, x / 2]), model.predict([x, np.zeros_like(x)]), rtol=1e-5)


def test_string_optimizer_and_frozen_learning_rate():
    x, y = blobs(32)
    model = MLP()
    model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy')
    assert isinstance(model.optimizer, optimizers.SGD)
    model.optimizer.learning_rate = 0.0
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- progress output -------------------------------------------------------------------------
BAR = r'(\d+)/\1 ━{20} \d+s \d+(us|ms|s)/step'


def test_verbose_1_prints_keras_bar_as_plain_lines(capsys):
    x, y = blobs(64)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy', ['accuracy'])
    model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Epoch 1/2' and lines[2] == 'Epoch 2/2' and len(lines) == 4
    assert re.fullmatch(BAR + r' - accuracy: \d\.\d{4} - loss: \d\.\d{4} - val_accuracy: \d\.\d{4} '
                        r'- val_loss: \d\.\d{4}', lines[1]), lines[1]
    assert lines[1].startswith('3/3 ')
    assert '\r' not in lines[1]


def test_verbose_2_prints_one_line_per_epoch_and_0_nothing(capsys):
    x, y = blobs(64)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy')
    model.fit(x, y, batch_size=16, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and re.fullmatch(r'4/4 - \d+s - \d+(us|ms|s)/step - loss: \d\.\d{4}', lines[1])
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ''
    model.evaluate(x, y, verbose=1)
    assert re.fullmatch(BAR + r' - loss: \d\.\d{4}\n', capsys.readouterr().out)


def test_progbar_prints_intermediate_lines_at_its_interval(capsys):
    bar = Progbar(10, verbose=1, interval=0.0)
    for step in range(1, 11):
        bar.update(step, {'loss': 1.0 / step}, finalize=step == 10)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    assert re.fullmatch(r' 5/10 ━{10}─{10} \d+s \d+(us|ms|s)/step - loss: 0\.2000', lines[4]), lines[4]
    assert lines[-1].startswith('10/10 ━━━━━━━━━━━━━━━━━━━━ ')
    last = Progbar(2, verbose=1, interval=0.0)
    last.update(1, {'loss': 1.0})
    last.update(2, {'loss': 1.0})                 # the last step waits for the final line
    last.update(2, {'loss': 1.0, 'val_loss': 2.0}, finalize=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].endswith('val_loss: 2.0000')
    quiet = Progbar(10, verbose=1, interval=3600)
    for step in range(1, 11):
        quiet.update(step, {'loss': 0.5}, finalize=step == 10)
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_progbar_rewrites_in_place_on_a_terminal(capsys, monkeypatch):
    import sys
    monkeypatch.setattr(sys.stdout, 'isatty', lambda: True, raising=False)
    bar = Progbar(4, verbose=1, interval=0.0)
    for step in range(1, 5):
        bar.update(step, {'loss': 0.25}, finalize=step == 4)
    out = capsys.readouterr().out
    assert out.count('\r') == 4 and out.count('\n') == 1 and out.endswith('\n')
    assert '\x1b[32m' in out                  # the done part of the bar is green, as in Keras


# --- with minidl's own layers and models ---------------------------------------------------------
def small_sequential(l2=0.0):
    from minidl import layers, models, regularizers
    return models.Sequential([
        layers.Input(shape=(4,)),
        layers.Dense(16, activation='relu', kernel_regularizer=regularizers.l2(l2) if l2 else None),
        layers.BatchNormalization(),
        layers.Dropout(0.3),
        layers.Dense(3, activation='softmax'),
    ])


def test_sequential_trains_reproducibly_with_dropout_and_batchnorm():
    x, y = blobs(120)

    def run():
        minidl.seed(5)
        model = small_sequential(l2=1e-3)
        model.compile(optimizers.Adam(0.01), 'sparse_categorical_crossentropy', ['accuracy'])
        return model, model.fit(x, y, batch_size=16, epochs=6, validation_split=0.25, verbose=0).history

    model, first = run()
    assert first == run()[1]
    assert first['loss'][-1] < 0.7 * first['loss'][0]
    assert model.evaluate(x, y, verbose=0, return_dict=True)['accuracy'] > 0.8  # chance is 1/3; 0.85-0.97 over seeds 0-7
    np.testing.assert_array_equal(model.predict(x), model.predict(x))      # inference: no dropout
    assert len(model.losses) == 1                                            # the l2 penalty is in the loss
    penalty = float(model.losses[0].data)
    data_loss = float(losses.sparse_categorical_crossentropy(y, model.predict(x)).mean().data)  # per-sample (Keras 3)
    assert model.evaluate(x, y, verbose=0)[0] == pytest.approx(data_loss + penalty, rel=1e-5)


def test_functional_two_input_model_and_integer_embedding_input():
    from minidl import layers, models
    a, b = layers.Input(shape=(4,)), layers.Input(shape=(3,))
    joined = layers.Concatenate()([a, layers.Dense(5, activation='relu')(b)])
    model = models.Model([a, b], layers.Dense(1, activation='sigmoid')(joined))
    model.compile('adam', 'binary_crossentropy', ['accuracy'])
    x, y = blobs(40)
    history = model.fit([x, x[:, :3]], (y == 0).astype(np.float32), epochs=2, batch_size=8, verbose=0)
    assert list(history.history) == ['accuracy', 'loss']

    ids = models.Sequential([layers.Input(shape=(6,), dtype='int32'), layers.Embedding(20, 4), layers.Flatten(),
                             layers.Dense(1, activation='sigmoid')])
    ids.compile('adam', 'binary_crossentropy')
    tokens = np.random.default_rng(0).integers(0, 20, (32, 6))
    ids.fit(tokens, np.ones(32), epochs=1, batch_size=8, verbose=0)
    assert ids.predict(tokens).shape == (32, 1)


def test_early_stopping_and_checkpoint_with_a_real_model(tmp_path):
    import os
    from minidl import callbacks
    x, y = blobs(80)
    model = small_sequential()
    model.compile(optimizers.SGD(0.05), 'sparse_categorical_crossentropy', ['accuracy'])
    path = os.path.join(tmp_path, 'best.weights.h5')
    snapshots = []
    history = model.fit(x, y, epochs=6, validation_split=0.25, verbose=0, callbacks=[
        callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights())),
        callbacks.ModelCheckpoint(path, monitor='val_loss', save_best_only=True, save_weights_only=True),
        # min_delta larger than any change: only epoch 0 counts as an improvement
        callbacks.EarlyStopping(monitor='loss', min_delta=100.0, patience=2, restore_best_weights=True)])
    assert history.epoch == [0, 1, 2]
    for restored, best in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(restored, best)
    best_epoch = int(np.argmin(history.history['val_loss']))
    fresh = small_sequential()
    fresh.load_weights(path)
    for loaded, best in zip(fresh.get_weights(), snapshots[best_epoch]):
        np.testing.assert_array_equal(loaded, best)


def test_array_likes_are_arrays_not_generators():
    class Frame:
        """Like a pandas DataFrame: iterable (over column names) but convertible to an array."""
        def __init__(self, values):
            self.values = values

        def __array__(self, dtype=None, copy=None):
            return self.values

        def __iter__(self):
            return iter(['a', 'b', 'c', 'd'])

        def __len__(self):
            return len(self.values)

    x, y = blobs(40)
    model = MLP()
    model.compile('adam', 'sparse_categorical_crossentropy')
    model.fit(Frame(x), list(y), batch_size=10, verbose=0)
    assert len(model.calls) == 4


def test_fit_matches_a_torch_training_loop():
    """One epoch of fit (no shuffling) equals the same Adam steps on the same weights in torch:
    mean loss over the batch plus the l2 penalty, in batch order, the last batch partial."""
    torch = pytest.importorskip('torch')
    from minidl import layers, models, regularizers
    x, y = blobs(50)
    model = models.Sequential([layers.Input(shape=(4,)),
                               layers.Dense(8, activation='relu', kernel_regularizer=regularizers.l2(0.01)),
                               layers.Dense(3, activation='softmax')])
    model.compile(optimizers.Adam(0.01), 'sparse_categorical_crossentropy')
    params = [torch.tensor(w.astype(np.float64), requires_grad=True) for w in model.get_weights()]
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history

    opt = torch.optim.Adam(params, lr=0.01, eps=1e-7)
    k1, b1, k2, b2 = params
    total, count = 0.0, 0
    for i in range(0, 50, 16):
        xb, yb = torch.tensor(x[i:i + 16]), torch.tensor(y[i:i + 16])
        logits = torch.relu(xb @ k1 + b1) @ k2 + b2
        loss = torch.nn.functional.cross_entropy(logits, yb) + 0.01 * (k1 ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total, count = total + loss.item() * len(xb), count + len(xb)
    assert history['loss'][0] == pytest.approx(total / count, rel=1e-5)
    for ours, theirs in zip(model.get_weights(), params):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-4, atol=1e-5)
