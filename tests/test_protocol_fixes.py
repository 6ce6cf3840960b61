"""Fixes found by comparing minidl's training protocol with Keras 3: each test failed before."""
import numpy as np
import pytest

from minidl import callbacks, layers, models


def _model():
    model = models.Sequential([layers.Input((3,)), layers.Dense(2, activation='softmax')])
    model.compile('sgd', 'sparse_categorical_crossentropy', metrics=['accuracy'])
    return model


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def _record(name):
        def hook(self, *args):
            logs = args[-1]
            assert isinstance(logs, dict), f'{name} got logs={logs!r}'
            self.calls.append(name)
        return hook

    for _name in ('on_train_begin', 'on_train_end', 'on_epoch_begin', 'on_epoch_end', 'on_train_batch_begin',
                  'on_train_batch_end', 'on_test_begin', 'on_test_end', 'on_test_batch_begin', 'on_test_batch_end',
                  'on_predict_begin', 'on_predict_end', 'on_predict_batch_begin', 'on_predict_batch_end'):
        locals()[_name] = _record(_name)
    del _name


def test_every_hook_gets_a_logs_dict_and_test_and_predict_batch_hooks_are_called():
    model = _model()
    x, y = np.zeros((8, 3), np.float32), np.zeros(8, np.int64)
    rec = Recorder()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[rec], validation_data=(x, y))
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[rec])
    model.predict(x, batch_size=4, verbose=0, callbacks=[rec])
    for hook in ('on_train_begin', 'on_epoch_begin', 'on_train_batch_begin', 'on_test_begin',
                 'on_test_batch_begin', 'on_test_batch_end', 'on_predict_begin', 'on_predict_batch_begin',
                 'on_predict_batch_end', 'on_predict_end', 'on_train_end'):
        assert hook in rec.calls, hook
    assert rec.calls.count('on_test_batch_end') == 2 and rec.calls.count('on_predict_batch_end') == 2


def test_validation_split_cuts_at_floor_as_keras():
    model = _model()
    x, y = np.zeros((30, 3), np.float32), np.zeros(30, np.int64)
    seen = []

    class Count(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
    model.fit(x, y, batch_size=1, epochs=1, validation_split=0.25, verbose=0, shuffle=False, callbacks=[Count()])
    assert len(seen) == 22  # floor(30 * 0.75); the ceil rule trained on 23


def test_reduce_lr_on_plateau_takes_the_absolute_min_delta():
    assert callbacks.ReduceLROnPlateau(min_delta=-0.5).min_delta == 0.5


@pytest.mark.parametrize('kwargs, match', [({'batch_size': 0}, 'batch_size'), ({'batch_size': -1}, 'batch_size'),
                                           ({'epochs': -1}, 'epochs'), ({'validation_split': 1.0}, r'\[0, 1\)'),
                                           ({'validation_split': -0.1}, r'\[0, 1\)'), ({'batch_size': 2.5}, 'integer')])
def test_fit_rejects_impossible_arguments_and_leaves_the_weights(kwargs, match):
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(np.zeros((8, 3), np.float32), np.zeros(8, np.int64), verbose=0, **kwargs)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_strings_fed_to_a_numeric_model_say_what_to_do():
    model = _model()
    with pytest.raises(ValueError, match='holds text'):
        model.fit(np.array([['a', 'b', 'c']] * 4), np.zeros(4, np.int64), verbose=0)
    with pytest.raises(ValueError, match='holds text'):
        model.predict(np.array([['a', 'b', 'c']]))


def test_nan_in_the_data_warns_once_and_training_runs():
    model = _model()
    x = np.zeros((8, 3), np.float32)
    x[0, 0] = np.nan
    with pytest.warns(UserWarning, match='NaN or infinite') as record:
        model.fit(x, np.zeros(8, np.int64), verbose=0, epochs=2)
    assert sum('NaN or infinite' in str(w.message) for w in record) == 1


def test_unknown_names_fail_at_compile_and_list_the_known_ones():
    model = _model()
    with pytest.raises(ValueError, match='known names'):
        model.compile('sgd', 'sparse_categorical_crossentropy', metrics=['acuracy'])
    with pytest.raises(ValueError, match='known names'):
        model.compile('sgd', 'sparse_categorical_crosentropy')
    with pytest.raises(ValueError, match='known names'):
        model.compile('sgdd', 'mse')


def test_invalid_layer_arguments_fail_with_the_layer_and_the_value():
    for make, match in ((lambda: layers.Dense(0), 'units must be a positive integer'),
                        (lambda: layers.Dense(-3), 'units must be a positive integer'),
                        (lambda: layers.Conv2D(8, 0), 'kernel_size must be a positive int'),
                        (lambda: layers.Embedding(0, 3), 'input_dim must be a positive integer')):
        with pytest.raises(ValueError, match=match):
            make()
    model = models.Sequential([layers.Input((3, 3, 1)), layers.Conv2D(2, 2)])
    with pytest.raises(ValueError, match='larger than the input'):
        model.add(layers.MaxPooling2D(4))


def test_sample_and_class_weights_change_the_loss_as_weights():
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 3), np.float32), rng.integers(0, 2, 16)
    model = _model()
    weights = np.where(y == 1, 3.0, 1.0).astype(np.float32)
    by_sample = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)['loss']
    model.compile('sgd', 'sparse_categorical_crossentropy')
    plain = model.evaluate(x, y, verbose=0)
    assert by_sample != pytest.approx(plain)
    h1 = _model()
    h1.set_weights(model.get_weights())
    a = h1.fit(x, y, sample_weight=weights, epochs=1, shuffle=False, batch_size=16, verbose=0).history['loss']
    h2 = _model()
    h2.set_weights(model.get_weights())
    b = h2.fit(x, y, class_weight={0: 1.0, 1: 3.0}, epochs=1, shuffle=False, batch_size=16, verbose=0).history['loss']
    assert a == pytest.approx(b)


def test_functional_inference_drops_each_activation_after_its_last_use():
    """_Graph.run releases a tensor once no later layer reads it, so an inference holds only the
    activations still needed (issue 19's memory gap: a ResNet50 batch kept every intermediate)."""
    import weakref
    seen = {}

    class Probe(layers.Layer):
        def __init__(self, key, check=None, **kw):
            super().__init__(**kw)
            self.key, self.check = key, check

        def call(self, x):
            if self.check is not None:
                seen[self.check + '_alive'] = seen[self.check]() is not None
            y = x * 2.0
            seen[self.key] = weakref.ref(y)
            return y

    inputs = layers.Input((3,))
    a = Probe('a', name='a')(inputs)
    b = Probe('b', name='b')(a)
    c = Probe('c', check='a', name='c')(b)           # a's output was read by b only: gone by now
    skip = layers.Add()([Probe('d', check='b', name='d')(c), Probe('e', name='e')(inputs)])
    model = models.Model(inputs, [skip, b])          # b is an output too: kept to the end
    x = np.ones((2, 3), np.float32)
    outs = model.predict(x, verbose=0)
    assert seen['a_alive'] is False
    assert seen['b_alive'] is True
    np.testing.assert_allclose(outs[0], 16 * x + 2 * x)
    np.testing.assert_allclose(outs[1], 4 * x)
