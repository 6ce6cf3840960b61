"""Loss objects and names, configs, and label checks that say what the loss expects (the metrics' tests are in
test_metrics.py)."""
import numpy as np
import pytest

from minidl import Tensor, losses


@pytest.mark.parametrize('name, cls', [
    ('mse', losses.MeanSquaredError), ('MSE', losses.MeanSquaredError), ('mean_squared_error', losses.MeanSquaredError),
    ('mae', losses.MeanAbsoluteError), ('mean_absolute_error', losses.MeanAbsoluteError),
    ('binary_crossentropy', losses.BinaryCrossentropy), ('BinaryCrossentropy', losses.BinaryCrossentropy),
    ('categorical_crossentropy', losses.CategoricalCrossentropy),
    ('sparse_categorical_crossentropy', losses.SparseCategoricalCrossentropy),
    ('hinge', losses.Hinge), ('squared_hinge', losses.SquaredHinge), ('categorical_hinge', losses.CategoricalHinge),
])
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_objects_classes_functions_callables_and_configs():
    obj = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(obj) is obj
    assert type(losses.get(losses.Hinge)) is losses.Hinge
    assert type(losses.get(losses.categorical_crossentropy)) is losses.CategoricalCrossentropy
    assert losses.get(None) is None
    config = losses.serialize(losses.Huber(delta=0.3, reduction='sum'))
    assert config['module'] == 'keras.losses' and config['class_name'] == 'Huber'
    rebuilt = losses.get(config)
    assert type(rebuilt) is losses.Huber and rebuilt.delta == 0.3 and rebuilt.reduction == 'sum'
    custom = losses.get(lambda t, p: ((p - t) ** 2).mean())
    assert isinstance(custom, losses.LossFunctionWrapper)
    with pytest.raises(ValueError, match='known names'):
        losses.get('cross_entropy')


@pytest.mark.parametrize('name', ['MeanSquaredError', 'MeanAbsoluteError', 'MeanAbsolutePercentageError',
                                  'MeanSquaredLogarithmicError', 'LogCosh', 'Hinge', 'SquaredHinge',
                                  'CategoricalHinge', 'KLDivergence', 'Poisson', 'BinaryCrossentropy',
                                  'BinaryFocalCrossentropy', 'CategoricalCrossentropy',
                                  'CategoricalFocalCrossentropy', 'SparseCategoricalCrossentropy',
                                  'Huber', 'CosineSimilarity'])
def test_get_config_has_keras_keys_and_round_trips(keras, name):
    ours, theirs = getattr(losses, name)(), getattr(keras.losses, name)()
    extra = {'Huber': {'delta'}, 'CosineSimilarity': {'axis'}}.get(name, set())   # Keras 3 drops them
    assert set(ours.get_config()) == set(theirs.get_config()) | extra
    assert {k: v for k, v in ours.get_config().items() if k not in extra} == theirs.get_config()
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    # minidl's serialized config loads in Keras, and Keras' in minidl
    assert type(keras.losses.deserialize(losses.serialize(ours))).__name__ == name
    assert type(losses.get(keras.losses.serialize(theirs))) is type(ours)


def test_loss_names_follow_keras():
    assert losses.MeanSquaredError().name == 'mean_squared_error'
    assert losses.Huber().name == 'huber_loss'
    assert losses.LogCosh().name == 'log_cosh'


def test_sparse_labels_become_integers_and_lose_a_trailing_axis():
    y = losses.SparseCategoricalCrossentropy().prepare_labels(np.array([[0.0], [2.0]]), np.ones((2, 3), np.float32))
    assert y.shape == (2,) and y.dtype.kind == 'i'


def test_binary_labels_without_trailing_axis_are_accepted():
    p = Tensor(np.array([[0.9], [0.2]], np.float32))
    a = losses.BinaryCrossentropy()(np.array([1, 0]), p)
    b = losses.BinaryCrossentropy()(np.array([[1.0], [0.0]]), p)
    assert float(a.data) == pytest.approx(float(b.data))


def test_labels_are_checked_once_per_call(monkeypatch):
    calls = []
    original = losses.check_labels
    monkeypatch.setattr(losses, 'check_labels', lambda *a, **k: calls.append(1) or original(*a, **k))
    losses.SparseCategoricalCrossentropy()(np.array([0, 1]), np.full((2, 3), 1 / 3, np.float32))
    losses.SparseCategoricalCrossentropy(reduction='none')(np.array([0, 1]), np.full((2, 3), 1 / 3, np.float32),
                                                           sample_weight=np.ones(2))
    assert len(calls) == 2


@pytest.mark.parametrize('loss, labels, pred_shape, message', [
    (losses.SparseCategoricalCrossentropy(), np.eye(3)[[0, 1, 2, 1]], (4, 3), 'look one-hot'),
    (losses.SparseCategoricalCrossentropy(), np.array([0, 1, 3, 1]), (4, 3), r'\[0, 3\)'),
    (losses.SparseCategoricalCrossentropy(), np.array([0.5, 1, 2, 1]), (4, 3), 'whole numbers'),
    (losses.CategoricalCrossentropy(), np.array([0, 1, 2, 1]), (4, 3), 'sparse_categorical_crossentropy'),
    (losses.CategoricalCrossentropy(), np.ones((4, 2)), (4, 3), r'\(N, 3\)'),
    (losses.BinaryCrossentropy(), np.array([0, 1, 2, 1]), (4, 1), r'\[0, 1\]'),
    (losses.BinaryCrossentropy(), np.ones((4, 2)), (4, 1), r'shaped like the predictions \(N, 1\)'),
    (losses.MeanSquaredError(), np.ones((4, 10)), (4, 1), r'got labels of shape \(N, 10\)'),
    (losses.MeanSquaredError(), np.array(['a', 'b', 'c', 'd']), (4, 1), 'numeric'),
])
def test_wrong_labels_get_a_message_saying_what_the_loss_expects(loss, labels, pred_shape, message):
    with pytest.raises(ValueError, match=message) as info:
        loss(labels, np.full(pred_shape, 0.5, np.float32))
    assert type(loss).__name__ in str(info.value)
