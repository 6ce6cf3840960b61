"""The Keras 3 layer contract: calls with several tensor arguments and keyword arguments, the
training flag seen by nested calls, masks carried on tensors, add_loss, activity regularizers,
automatic configs, and functional models with several inputs and outputs (lists and dicts)."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, Tensor
from minidl.layers import Layer


class Scale(Layer):
    """y = inputs * factor + offset, with a keyword argument and a second tensor argument."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, inputs_shape, offset_shape=None):
        self.shapes_seen = (inputs_shape, offset_shape)
        self.w = self.add_weight(shape=(inputs_shape[-1],), initializer='ones')

    def call(self, inputs, offset=None, power=1):
        y = inputs * self.w * self.factor
        if power != 1:
            y = y ** power
        return y if offset is None else y + offset


def test_several_tensor_arguments_and_keywords_eagerly():
    layer = Scale(3.0)
    x = np.ones((2, 4), np.float32)
    out = layer(x, offset=np.full((2, 4), 0.5, np.float32), power=2)
    np.testing.assert_allclose(out.numpy(), 9.5)
    assert layer.shapes_seen == ((None, 4), (None, 4))


def test_several_tensor_arguments_in_a_functional_graph():
    a, b = layers.Input((4,), name='a'), layers.Input((4,), name='b')
    out = Scale(2.0)(a, offset=b)
    model = models.Model([a, b], out)
    x = np.ones((3, 4), np.float32)
    np.testing.assert_allclose(model.predict([x, 2 * x], verbose=0), 4.0)
    np.testing.assert_allclose(model.predict({'a': x, 'b': 2 * x}, verbose=0), 4.0)


class Recorder(Layer):
    def call(self, inputs, training=None):
        self.seen = training
        return inputs


class Outer(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = Recorder()

    def call(self, inputs, training=None):
        return self.inner(inputs)


def test_training_flows_to_nested_calls_and_defaults_come_from_the_signature():
    outer = Outer()
    x = np.zeros((1, 2), np.float32)
    outer(x, training=True)
    assert outer.inner.seen is True
    outer(x)
    assert outer.inner.seen is None
    rec = Recorder()
    rec(x, training=False)
    assert rec.seen is False


class MaskedSum(Layer):
    def compute_mask(self, inputs, mask=None):
        return None  # consumes the mask

    def call(self, inputs, mask=None):
        self.mask = mask
        if mask is None:
            return minidl.functional.sum(inputs, axis=1)
        return minidl.functional.sum(inputs * mask[..., None].astype(np.float32), axis=1)


def test_masks_travel_from_embedding_to_a_layer_that_takes_them():
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    emb = layers.Embedding(5, 3, mask_zero=True, embeddings_initializer='ones')
    summed = MaskedSum()
    out = summed(emb(ids))
    np.testing.assert_array_equal(summed.mask, ids != 0)
    np.testing.assert_allclose(out.numpy(), [[2, 2, 2], [1, 1, 1]])
    inputs = layers.Input((4,), dtype='int32')
    model = models.Model(inputs, MaskedSum()(layers.Embedding(5, 3, mask_zero=True,
                                                              embeddings_initializer='ones')(inputs)))
    np.testing.assert_allclose(model.predict(ids, verbose=0), [[2, 2, 2], [1, 1, 1]])


def test_a_layer_without_masking_warns_once_that_it_drops_the_mask():
    ids = np.array([[1, 0]])
    x = layers.Embedding(3, 2, mask_zero=True)(ids)
    flat = layers.Flatten()
    with pytest.warns(UserWarning, match='destroy the mask'):
        flat(x)


class Penalised(Layer):
    def call(self, inputs):
        self.add_loss(minidl.functional.sum(inputs) * 0.0 + 1.5)
        return inputs


def test_add_loss_is_collected_per_call_and_cleared_by_the_next_outer_call():
    inputs = layers.Input((2,))
    model = models.Model(inputs, layers.Dense(1, kernel_regularizer='l2')(Penalised()(inputs)))
    model(np.ones((2, 2), np.float32))
    assert len(model.losses) == 2  # the add_loss term and the L2 penalty
    model(np.ones((2, 2), np.float32))
    assert len(model.losses) == 2
    assert float(model.losses[0]) == 1.5


def test_compile_without_a_loss_trains_on_added_losses():
    inputs = layers.Input((3,))
    dense = layers.Dense(1)
    out = dense(inputs)
    model = models.Model(inputs, out)

    class SquaredOutput(Layer):
        def call(self, x):
            self.add_loss(minidl.functional.mean(x * x))
            return x
    model = models.Model(inputs, SquaredOutput()(out))
    model.compile(minidl.optimizers.SGD(0.1))
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    history = model.fit(x, epochs=5, batch_size=16, verbose=0)
    assert history.history['loss'][-1] < history.history['loss'][0]


def test_activity_regularizer_adds_penalty_over_batch_size():
    layer = layers.Dense(2, activity_regularizer=minidl.regularizers.L1(0.1), kernel_initializer='ones',
                         use_bias=False)
    x = np.ones((4, 3), np.float32)
    layer(x)
    # L1 of the (4, 2) output of 3s is 0.1 * 24, divided by the batch size 4
    assert float(layer.losses[0]) == pytest.approx(0.1 * 24 / 4)


class AutoConfig(Layer):
    def __init__(self, units=3, note='x', **kwargs):
        super().__init__(**kwargs)
        self.units, self.note = units, note

    def call(self, inputs):
        return inputs


def test_automatic_config_of_a_custom_layer_round_trips():
    layer = AutoConfig(units=5, name='auto')
    config = layer.get_config()
    assert config['units'] == 5 and config['note'] == 'x' and config['name'] == 'auto'
    clone = AutoConfig.from_config(config)
    assert clone.units == 5 and clone.name == 'auto'


def test_dict_inputs_and_outputs_and_multi_output_history_names():
    a, b = layers.Input((4,), name='a'), layers.Input((3,), name='b')
    h = layers.Dense(5, activation='relu')(layers.Concatenate()([a, b]))
    model = models.Model({'a': a, 'b': b}, {'reg': layers.Dense(2, name='reg')(h),
                                            'cls': layers.Dense(1, activation='sigmoid', name='cls')(h)})
    rng = np.random.default_rng(0)
    x = {'a': rng.random((20, 4), np.float32), 'b': rng.random((20, 3), np.float32)}
    y = {'reg': rng.random((20, 2), np.float32), 'cls': (rng.random((20, 1)) > 0.5).astype(np.float32)}
    model.compile('adam', loss={'reg': 'mse', 'cls': 'binary_crossentropy'}, metrics={'cls': ['accuracy']},
                  loss_weights={'reg': 0.5, 'cls': 2.0})
    history = model.fit(x, y, epochs=1, batch_size=10, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ['cls_accuracy', 'cls_loss', 'loss', 'reg_loss', 'val_cls_accuracy',
                                       'val_cls_loss', 'val_loss', 'val_reg_loss']
    out = model.predict(x, verbose=0)
    assert set(out) == {'reg', 'cls'} and out['reg'].shape == (20, 2)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs['loss'] == pytest.approx(0.5 * logs['reg_loss'] + 2.0 * logs['cls_loss'], rel=1e-5)


def test_list_outputs_evaluate_in_keras_order():
    inputs = layers.Input((4,))
    o1, o2 = layers.Dense(2, name='o1')(inputs), layers.Dense(1, activation='sigmoid', name='o2')(inputs)
    model = models.Model(inputs, [o1, o2])
    model.compile('sgd', loss=['mse', 'binary_crossentropy'], metrics=[['mae'], ['accuracy']])
    rng = np.random.default_rng(1)
    x, y = rng.random((8, 4), np.float32), [rng.random((8, 2), np.float32), np.ones((8, 1), np.float32)]
    values = model.evaluate(x, y, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert values == [logs[k] for k in ('loss', 'o1_loss', 'o2_loss', 'o1_mae', 'o2_accuracy')]
    with pytest.raises(ValueError, match='list of 2 lists'):
        model.compile('sgd', loss='mse', metrics=['mae'])
        model.fit(x, y, verbose=0)


def test_sequential_without_input_shape_trains_from_the_first_fit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    model = models.Sequential([layers.Dense(8, activation='relu'), layers.Dense(1, activation='sigmoid')])
    model.compile(minidl.optimizers.SGD(0.5), 'binary_crossentropy')
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    losses = history.history['loss']
    assert losses[2] < losses[0]  # before the fix the first fit trained nothing: the loss stayed flat


def test_symbolic_arithmetic_and_slicing_record_op_nodes():
    inputs = layers.Input((4,))
    out = (inputs * 2.0 + 1.0)[:, :2]
    model = models.Model(inputs, out)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_allclose(model.predict(x, verbose=0), (x * 2 + 1)[:, :2])
    assert out.shape == (None, 2)


def test_layer_input_and_output_properties():
    inputs = layers.Input((3,), name='x_in')
    dense = layers.Dense(2)
    out = dense(inputs)
    assert dense.input is inputs and dense.output is out
    dense(layers.Input((3,)))
    with pytest.raises(AttributeError, match='called 2 times'):
        dense.output


def test_keras2_positional_metrics_still_work():
    model = models.Sequential([layers.Input((2,)), layers.Dense(2, activation='softmax')])
    model.compile('adam', 'sparse_categorical_crossentropy', ['accuracy'])
    model.fit(np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]), verbose=0)
    assert model.metrics_names == ['loss', 'accuracy']


def test_eager_tensor_inputs_keep_their_tensor():
    layer = layers.Dense(2)
    t = Tensor(np.ones((1, 3), np.float32), requires_grad=True)
    layer(t).sum().backward()
    assert t.grad is not None


class TwoOutputs(Layer):
    def call(self, inputs):
        return inputs * 2.0, minidl.functional.sum(inputs, axis=-1)


def test_a_layer_with_several_symbolic_outputs():
    inputs = layers.Input((3,))
    doubled, total = TwoOutputs()(inputs)
    assert doubled.shape == (None, 3) and total.shape == (None,)
    model = models.Model(inputs, [doubled, total])
    out = model.predict(np.ones((2, 3), np.float32), verbose=0)
    np.testing.assert_allclose(out[0], 2.0)
    np.testing.assert_allclose(out[1], 3.0)


def test_the_models_training_flag_overrides_a_recorded_one_as_in_keras():
    inputs = layers.Input((100,))
    out = layers.Dropout(0.5)(inputs, training=True)  # recorded in the node
    model = models.Model(inputs, out)
    x = np.ones((4, 100), np.float32)
    np.testing.assert_array_equal(model(x, training=False).numpy(), x)  # the call's value wins
    assert (model(x).numpy() == 0).any()  # no value given: the recorded training=True applies
