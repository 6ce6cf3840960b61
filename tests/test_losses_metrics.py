"""Loss objects and names, label checks that say what the loss expects, and metrics."""
import numpy as np
import pytest

from minidl import Tensor, losses, metrics
from minidl.backend import to_numpy


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


# --- metrics ------------------------------------------------------------------------------------------
def test_metric_functions_against_numpy(rng):
    p = rng.uniform(size=(8, 3)).astype(np.float32)
    idx = rng.integers(0, 3, 8)
    onehot = np.eye(3, dtype=np.float32)[idx]
    binary = rng.integers(0, 2, (8, 3)).astype(np.float32)
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy(idx, p), idx == p.argmax(1))
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy(idx[:, None], p), idx == p.argmax(1))
    on_backend = Tensor(p)  # GPU predictions under MINIDL_BACKEND=cupy, with NumPy labels
    np.testing.assert_allclose(to_numpy(metrics.categorical_accuracy(onehot, on_backend)), idx == p.argmax(1))
    np.testing.assert_allclose(metrics.binary_accuracy(binary, p), (binary == (p > 0.5)).mean(1))
    np.testing.assert_allclose(metrics.binary_accuracy(binary, p, threshold=0.8), (binary == (p > 0.8)).mean(1))
    np.testing.assert_allclose(metrics.mean_absolute_error(onehot, p), np.abs(p - onehot).mean(1), rtol=1e-6)
    np.testing.assert_allclose(metrics.mean_squared_error(onehot, p), ((p - onehot) ** 2).mean(1), rtol=1e-6)
    np.testing.assert_allclose(metrics.binary_accuracy(binary[:, 0], p[:, :1]), binary[:, 0] == (p[:, 0] > 0.5))


def test_metric_averages_over_samples_across_batches_of_different_sizes():
    m = metrics.SparseCategoricalAccuracy()
    pred = np.eye(3, dtype=np.float32)
    m.update_state(np.array([0, 1, 2]), pred)                       # 3 right
    m.update_state(np.array([1]), pred[:1])                          # 1 wrong
    assert m.result() == pytest.approx(3 / 4)
    m.reset_state()
    assert m.result() == 0.0
    assert m(np.array([0]), pred[:1]) == 1.0


def test_mean_weights_scalars_by_sample_weight():
    mean = metrics.Mean('loss')
    mean.update_state(np.float32(2.0), sample_weight=3)
    mean.update_state(np.float32(6.0), sample_weight=1)
    assert mean.result() == pytest.approx(3.0)


def test_metrics_get_names_objects_and_functions():
    assert metrics.get('mae').name == 'mae' and isinstance(metrics.get('mae'), metrics.MeanAbsoluteError)
    assert metrics.get('mean_squared_error').name == 'mean_squared_error'
    assert metrics.get('binary_accuracy').name == 'binary_accuracy'
    assert metrics.BinaryAccuracy().name == 'binary_accuracy'
    assert metrics.CategoricalAccuracy().name == 'categorical_accuracy'
    obj = metrics.BinaryAccuracy(threshold=0.3)
    assert metrics.get(obj) is obj

    def within_tenth(y_true, y_pred):
        return (abs(y_true - y_pred) < 0.1).mean()
    custom = metrics.get(within_tenth)
    assert custom.name == 'within_tenth'
    custom.update_state(np.array([[0.0], [1.0]]), np.array([[0.05], [0.5]]))   # scalar 0.5 for 2 samples
    custom.update_state(np.array([[0.0]]), np.array([[0.0]]))                  # scalar 1.0 for 1 sample
    assert custom.result() == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match='compile'):
        metrics.get('accuracy')
    with pytest.raises(ValueError, match='Unknown metric'):
        metrics.get('f1_score')


@pytest.mark.parametrize('loss, y_shape, p_shape, cls', [
    (losses.BinaryCrossentropy(), (5, 1), (5, 1), metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(), (5, 4), (5, 4), metrics.BinaryAccuracy),   # multi-label, Keras 2 rule
    (losses.MeanSquaredError(), (5,), (5, 1), metrics.BinaryAccuracy),
    (losses.SparseCategoricalCrossentropy(), (5,), (5, 4), metrics.SparseCategoricalAccuracy),
    (losses.MeanSquaredError(), (5, 1), (5, 4), metrics.SparseCategoricalAccuracy),
    (losses.CategoricalCrossentropy(), (5, 4), (5, 4), metrics.CategoricalAccuracy),
    (losses.MeanSquaredError(), (5, 4), (5, 4), metrics.CategoricalAccuracy),
])
def test_accuracy_resolves_from_loss_and_shapes(loss, y_shape, p_shape, cls):
    m = metrics.resolve_accuracy('acc', loss, y_shape, p_shape)
    assert type(m) is cls and m.name == 'acc'
