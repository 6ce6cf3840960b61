"""Models: Sequential (eager and lazy building, add/pop), functional graphs with branches, several
inputs and input-hidden concatenation, nested and subclassed models, weights, freezing, errors."""
import numpy as np
import pytest

from minidl import layers as L
from minidl import regularizers
from minidl.autograd import Tensor
from minidl.models import Model, Sequential


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_sequential_with_input_shape_builds_at_once():
    model = Sequential([L.Dense(4, activation='relu', input_shape=(3,)), L.Dense(2)])
    assert model.built and model.count_params() == 16 + 10
    assert model.input_shape == (None, 3) and model.output_shape == (None, 2)
    assert [layer.name for layer in model.layers] == ['dense', 'dense_1']
    assert model.name == 'sequential' and model.stop_training is False
    x = _data(5, 3)
    k1, b1, k2, b2 = model.get_weights()
    np.testing.assert_allclose(model(x).numpy(), np.maximum(x @ k1 + b1, 0) @ k2 + b2, rtol=1e-5)


def test_sequential_without_input_shape_builds_on_first_call():
    model = Sequential()
    model.add(L.Conv2D(2, 3))
    model.add(L.Flatten())
    model.add(L.Dense(1))
    assert not model.built
    with pytest.raises(ValueError, match='not built'):
        model.count_params()
    assert model(_data(2, 5, 5, 1)).shape == (2, 1)
    assert model.built and model.output_shape == (None, 1) and model.count_params() == 20 + 19


def test_sequential_starting_with_input_or_input_layer():
    a = Sequential([L.InputLayer((4,)), L.Dense(2)])
    b = Sequential()
    b.add(L.Input(shape=(4,)))
    b.add(L.Dense(2))
    for model in (a, b):
        assert model.built and model.input_shape == (None, 4) and len(model.layers) == 1


def test_sequential_pop_and_unique_names():
    model = Sequential([L.Dense(3, input_shape=(2,)), L.Dense(4), L.Dense(5)])
    model.pop()
    assert model.output_shape == (None, 4) and len(model.layers) == 2
    assert model(_data(1, 2)).shape == (1, 4)
    with pytest.raises(ValueError, match="'dense' is already in the model"):
        model.add(L.Dense(2, name='dense'))
    with pytest.raises(TypeError, match='needs a Layer'):
        model.add('dense')


def test_sequential_add_that_does_not_fit_raises_and_leaves_the_model_unchanged():
    model = Sequential([L.Dense(3, input_shape=(2,))])
    with pytest.raises(ValueError, match=r"'conv2d' \(Conv2D\) expects a 4-D input .*\(None, 3\)"):
        model.add(L.Conv2D(4, 3))
    assert len(model.layers) == 1 and model(_data(1, 2)).shape == (1, 3)


def test_sequential_rejects_data_of_another_shape():
    model = Sequential([L.Flatten(input_shape=(28, 28)), L.Dense(2)])
    with pytest.raises(ValueError, match=r"built for inputs of shape \(None, 28, 28\).*\(4, 784\)"):
        model(_data(4, 784))


def test_functional_concatenation_of_input_and_hidden_layer():
    x = L.Input((2,))
    h = L.Dense(1, activation='tanh')(x)
    out = L.Dense(1, activation='tanh')(L.Concatenate()([x, h]))
    model = Model(x, out)
    assert model.count_params() == 7 and model.name == 'model'
    assert [type(layer).__name__ for layer in model.layers] == ['InputLayer', 'Dense', 'Concatenate', 'Dense']
    data = _data(4, 2)
    k1, b1, k2, b2 = model.get_weights()
    hidden = np.tanh(data @ k1 + b1)
    expected = np.tanh(np.concatenate([data, hidden], 1) @ k2 + b2)
    np.testing.assert_allclose(model(data).numpy(), expected, rtol=1e-5)


def test_functional_branches_several_inputs_and_outputs():
    a, b = L.Input((3,), name='a'), L.Input((4,), name='b')
    left = L.Dense(5, name='left')(a)
    right = L.Dense(5, name='right')(b)
    summed = L.Add(name='sum')([left, right])
    out1 = L.Dense(1, name='out1')(summed)
    out2 = L.Dense(2, name='out2')(L.concatenate([summed, a]))
    model = Model([a, b], [out1, out2])
    assert model.input_shape == [(None, 3), (None, 4)] and model.output_shape == [(None, 1), (None, 2)]
    y1, y2 = model([_data(6, 3), _data(6, 4, seed=1)])
    assert y1.shape == (6, 1) and y2.shape == (6, 2)
    (y1.sum() + y2.sum()).backward()
    assert all(w.grad is not None for w in model.trainable_weights)
    with pytest.raises(ValueError, match='expects 2 input'):
        model(_data(6, 3))


def test_shared_layer_is_applied_twice_with_one_set_of_weights():
    shared = L.Dense(2, name='shared')
    x1, x2 = L.Input((3,)), L.Input((3,))
    model = Model([x1, x2], L.Add()([shared(x1), shared(x2)]))
    assert model.count_params() == 8
    a, b = _data(2, 3), _data(2, 3, seed=1)
    k, bias = shared.get_weights()
    np.testing.assert_allclose(model([a, b]).numpy(), (a @ k + bias) + (b @ k + bias), rtol=1e-5)


def test_graph_disconnected_and_bad_inputs_are_reported():
    x, other = L.Input((3,)), L.Input((3,), name='other')
    y = L.Add()([L.Dense(3)(x), other])
    with pytest.raises(ValueError, match="Graph disconnected.*'other'"):
        Model(x, y)
    with pytest.raises(TypeError, match='symbolic tensors'):
        Model(x, np.zeros(3))
    model = Model(x, L.Dense(2)(x))
    with pytest.raises(ValueError, match=r"input 'input_1' expects shape \(None, 3\).*\(2, 5\)"):
        model(_data(2, 5))


def test_functional_model_nested_in_sequential_and_frozen():
    inner_in = L.Input((4,))
    inner = Model(inner_in, L.Dense(3, name='inner_dense')(L.Dense(5, name='inner_hidden')(inner_in)), name='base')
    model = Sequential([L.InputLayer((4,)), inner, L.BatchNormalization(), L.Dense(2)])
    assert model.output_shape == (None, 2)
    assert model.count_params() == (25 + 18) + 12 + 8
    assert len(model.trainable_weights) == 4 + 2 + 2 and len(model.non_trainable_weights) == 2
    inner.trainable = False
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 6
    assert not inner.get_layer('inner_dense').kernel.requires_grad
    out = model(_data(3, 4), training=True)
    out.sum().backward()
    assert inner.get_layer('inner_dense').kernel.grad is None
    assert model.layers[-1].kernel.grad is not None
    inner.trainable = True
    assert len(model.trainable_weights) == 8


def test_partially_frozen_nested_model_counts():
    x = L.Input((4,))
    h = L.Dense(5, name='block1')(x)
    base = Model(x, L.Dense(3, name='block2')(h))
    for layer in base.layers:
        layer.trainable = layer.name == 'block2'
    outer_in = L.Input((4,))
    model = Model(outer_in, L.Dense(1)(base(outer_in)))
    trainable = sum(w.size for w in model.trainable_weights)
    assert trainable == 18 + 4 and model.count_params() == 25 + 18 + 4
    assert [type(layer).__name__ for layer in model.layers] == ['InputLayer', 'Model', 'Dense']


def test_sequential_nested_in_functional_model():
    block = Sequential([L.Dense(4, activation='relu'), L.Dense(4)], name='block')
    x = L.Input((3,))
    model = Model(x, L.Dense(1)(block(x)))
    assert block.built and block.output_shape == (None, 4)
    assert model(_data(2, 3)).shape == (2, 1) and model.count_params() == 16 + 20 + 5


def test_subclassed_model_tracks_layers_and_builds_on_call():
    class TwoLayer(Model):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(4, activation='relu', kernel_regularizer=regularizers.l2(0.1))
            self.out = L.Dense(1)

        def call(self, inputs, training=False):
            return self.out(self.hidden(inputs))

    model = TwoLayer()
    assert model.name == 'two_layer' and not model.built
    y = model(_data(3, 2))
    assert y.shape == (3, 1) and model.count_params() == 12 + 5
    assert model.layers == [model.hidden, model.out] and len(model.losses) == 1
    other = TwoLayer()
    other.build((None, 2))
    assert other.count_params() == 17


def test_model_losses_collect_every_regularizer():
    x = L.Input((3,))
    h = L.Dense(2, kernel_regularizer='l2')(x)
    model = Model(x, L.Dense(1, kernel_regularizer=regularizers.l1(0.5), bias_regularizer='l2')(h))
    assert len(model.losses) == 3
    total = model.losses[0]
    for t in model.losses[1:]:
        total = total + t
    total.backward()
    assert model.layers[1].kernel.grad is not None


def test_model_get_set_weights_in_layer_order_and_shape_errors():
    model = Sequential([L.Dense(3, input_shape=(2,)), L.BatchNormalization(), L.Dense(1)])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(2, 3), (3,), (3,), (3,), (3,), (3,), (3, 1), (1,)]
    initial = model.get_weights()
    model.set_weights([w + 1 for w in initial])
    for a, b in zip(model.get_weights(), initial):
        np.testing.assert_array_equal(a, b + 1)
    bad = [w for w in initial]
    bad[6] = np.zeros((1, 3))
    with pytest.raises(ValueError, match=r"'dense_1/kernel' has shape \(3, 1\).*\(1, 3\)"):
        model.set_weights(bad)


def test_get_layer_by_name_and_index():
    model = Sequential([L.Dense(3, input_shape=(2,), name='first'), L.Dense(1, name='last')])
    assert model.get_layer('last') is model.layers[-1] and model.get_layer(index=0).name == 'first'
    with pytest.raises(ValueError, match="No layer named 'nope'.*first"):
        model.get_layer('nope')


def test_symbolic_inputs_and_outputs_of_models():
    x = L.Input((5,))
    y = L.Dense(2)(x)
    model = Model(inputs=x, outputs=y)
    assert model.inputs == [x] and model.outputs == [y] and model.input is x
    seq = Sequential([L.Dense(2, input_shape=(5,))])
    assert seq.inputs[0].shape == (None, 5) and seq.outputs[0].shape == (None, 2)


def test_training_flag_reaches_dropout_inside_models():
    model = Sequential([L.Dropout(0.5, input_shape=(1000,))])
    x = np.ones((1, 1000), np.float32)
    np.testing.assert_array_equal(model(x).numpy(), x)
    assert (model(x, training=True).numpy() == 0).mean() > 0.3


def test_models_accept_tensors_and_keep_the_graph_for_backward():
    model = Sequential([L.Dense(1, input_shape=(3,))])
    x = Tensor(_data(2, 3), requires_grad=True)
    model(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.repeat(model.get_weights()[0].T, 2, 0), rtol=1e-6)
