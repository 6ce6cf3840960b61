"""Metrics: every metric's result() after several update_state calls, with and without
sample_weight, against Keras 3; reset_state, state variables on the device, get_config, names,
Keras-style subclasses."""
import numpy as np
import pytest

import minidl
from minidl import Tensor, metrics

SIZES = (8, 5, 7)
C = 4


def batches(kind, rng, weighted):
    """Three batches of (y_true, y_pred, sample_weight) of kind ``kind``."""
    out = []
    for n in SIZES:
        w = rng.uniform(0.0, 2.0, n).astype(np.float32) if weighted else None
        if kind == 'binary':
            t = rng.integers(0, 2, (n, C)).astype(np.float32)
            p = rng.uniform(0, 1, (n, C)).astype(np.float32)
        elif kind == 'binary1':
            t = rng.integers(0, 2, (n, 1)).astype(np.float32)
            p = rng.uniform(0, 1, (n, 1)).astype(np.float32)
        elif kind == 'logits1':
            t = rng.integers(0, 2, (n, 1)).astype(np.float32)
            p = rng.standard_normal((n, 1)).astype(np.float32) * 3
        elif kind == 'onehot':
            t = np.eye(C, dtype=np.float32)[rng.integers(0, C, n)]
            p = rng.dirichlet(np.ones(C), n).astype(np.float32)
        elif kind == 'sparse':
            t = rng.integers(0, C, n)
            p = rng.dirichlet(np.ones(C), n).astype(np.float32)
        elif kind == 'sparse_col':
            t = rng.integers(0, C, (n, 1))
            p = rng.dirichlet(np.ones(C), n).astype(np.float32)
        elif kind == 'sorted_ids':
            t = rng.integers(0, C, n)
            p = np.argsort(-rng.uniform(size=(n, C)), axis=-1).astype(np.float32)
        elif kind == 'classes':
            t = rng.integers(0, 3, n)
            p = np.where(rng.uniform(size=n) < 0.6, t, rng.integers(0, 3, n))
            w = None if w is None else rng.integers(0, 3, n)
        elif kind == 'exact':
            t = rng.integers(0, 3, (n, 2)).astype(np.float32)
            p = np.where(rng.uniform(size=(n, 2)) < 0.5, t, rng.integers(0, 3, (n, 2))).astype(np.float32)
        elif kind == 'positive':
            t = rng.poisson(2.0, (n, C)).astype(np.float32)
            p = rng.uniform(0.2, 4, (n, C)).astype(np.float32)
        elif kind == 'signs':
            t = np.where(rng.integers(0, 2, (n, C)) == 1, 1.0, -1.0).astype(np.float32)
            p = rng.standard_normal((n, C)).astype(np.float32)
        else:
            t = rng.standard_normal((n, C)).astype(np.float32)
            p = (t + rng.standard_normal((n, C)) * 0.7).astype(np.float32)
        out.append((t, p, w))
    return out


# (class name, kwargs, data kind)
CASES = [
    ('Accuracy', {}, 'exact'),
    ('BinaryAccuracy', {}, 'binary'),
    ('BinaryAccuracy', {'threshold': 0.7}, 'binary1'),
    ('CategoricalAccuracy', {}, 'onehot'),
    ('SparseCategoricalAccuracy', {}, 'sparse'),
    ('SparseCategoricalAccuracy', {}, 'sparse_col'),
    ('TopKCategoricalAccuracy', {'k': 2}, 'onehot'),
    ('SparseTopKCategoricalAccuracy', {'k': 2}, 'sparse'),
    ('SparseTopKCategoricalAccuracy', {'k': 2, 'from_sorted_ids': True}, 'sorted_ids'),
    ('MeanSquaredError', {}, 'real'),
    ('MeanAbsoluteError', {}, 'real'),
    ('MeanAbsolutePercentageError', {}, 'real'),
    ('MeanSquaredLogarithmicError', {}, 'positive'),
    ('RootMeanSquaredError', {}, 'real'),
    ('CosineSimilarity', {}, 'real'),
    ('LogCoshError', {}, 'real'),
    ('R2Score', {}, 'real'),
    ('R2Score', {'class_aggregation': 'variance_weighted_average'}, 'real'),
    ('R2Score', {'class_aggregation': None}, 'real'),
    ('R2Score', {'num_regressors': 2}, 'real'),
    ('KLDivergence', {}, 'onehot'),
    ('Poisson', {}, 'positive'),
    ('Hinge', {}, 'signs'),
    ('SquaredHinge', {}, 'binary'),
    ('CategoricalHinge', {}, 'onehot'),
    ('BinaryCrossentropy', {}, 'binary'),
    ('BinaryCrossentropy', {'from_logits': True, 'label_smoothing': 0.1}, 'logits1'),
    ('CategoricalCrossentropy', {'label_smoothing': 0.1}, 'onehot'),
    ('SparseCategoricalCrossentropy', {}, 'sparse'),
    ('TruePositives', {}, 'binary'),
    ('FalsePositives', {'thresholds': [0.3, 0.6]}, 'binary'),
    ('TrueNegatives', {'thresholds': [0.0, 0.5, 1.0]}, 'binary'),
    ('FalseNegatives', {}, 'binary1'),
    ('Precision', {}, 'binary'),
    ('Precision', {'thresholds': [0.2, 0.5, 0.8]}, 'binary'),
    ('Precision', {'top_k': 2}, 'onehot'),
    ('Precision', {'class_id': 1}, 'onehot'),
    ('Precision', {'top_k': 2, 'class_id': 2, 'thresholds': 0.1}, 'onehot'),
    ('Recall', {}, 'binary'),
    ('Recall', {'thresholds': [0.0, 0.25, 0.5, 0.75, 1.0]}, 'binary'),
    ('Recall', {'top_k': 1}, 'onehot'),
    ('Recall', {'class_id': 3}, 'onehot'),
    ('PrecisionAtRecall', {'recall': 0.6}, 'binary'),
    ('PrecisionAtRecall', {'recall': 0.5, 'num_thresholds': 1}, 'binary'),
    ('RecallAtPrecision', {'precision': 0.6, 'num_thresholds': 50}, 'binary'),
    ('RecallAtPrecision', {'precision': 0.5, 'class_id': 1}, 'onehot'),
    ('SensitivityAtSpecificity', {'specificity': 0.5}, 'binary'),
    ('SpecificityAtSensitivity', {'sensitivity': 0.7}, 'binary'),
    ('AUC', {}, 'binary'),
    ('AUC', {'num_thresholds': 37}, 'binary1'),
    ('AUC', {'curve': 'PR'}, 'binary'),
    ('AUC', {'curve': 'PR', 'summation_method': 'minoring'}, 'binary'),
    ('AUC', {'summation_method': 'majoring'}, 'binary'),
    ('AUC', {'curve': 'PRGAIN'}, 'binary'),
    ('AUC', {'multi_label': True}, 'binary'),
    ('AUC', {'multi_label': True, 'curve': 'PR', 'num_labels': C, 'label_weights': [1.0, 0.5, 2.0, 0.0]}, 'binary'),
    ('AUC', {'label_weights': [1.0, 0.5, 2.0, 0.0]}, 'binary'),
    ('AUC', {'from_logits': True}, 'logits1'),
    ('AUC', {'thresholds': [0.1, 0.35, 0.5, 0.9]}, 'binary'),
    ('F1Score', {}, 'onehot'),
    ('F1Score', {'average': 'micro', 'threshold': 0.3}, 'binary'),
    ('F1Score', {'average': 'macro'}, 'onehot'),
    ('F1Score', {'average': 'weighted', 'threshold': 0.5}, 'binary'),
    ('FBetaScore', {'beta': 2.0, 'average': 'macro', 'threshold': 0.4}, 'binary'),
    ('IoU', {'num_classes': 3, 'target_class_ids': [0, 2]}, 'classes'),
    ('MeanIoU', {'num_classes': 3}, 'classes'),
    ('MeanIoU', {'num_classes': 3, 'ignore_class': 1}, 'classes'),
    ('BinaryIoU', {'target_class_ids': [1], 'threshold': 0.4}, 'binary1'),
    ('OneHotIoU', {'num_classes': C, 'target_class_ids': [1, 3]}, 'onehot'),
    ('OneHotMeanIoU', {'num_classes': C}, 'onehot'),
]
IDS = [f'{name}-{kw}-{kind}' for name, kw, kind in CASES]


def as_numpy(value):
    return np.asarray(minidl.to_numpy(value.data if isinstance(value, Tensor) else value))


@pytest.mark.parametrize('weighted', [False, True], ids=['unweighted', 'weighted'])
@pytest.mark.parametrize('i', range(len(CASES)), ids=IDS)
def test_every_metric_equals_keras_after_several_updates(keras, i, weighted):
    name, kw, kind = CASES[i]
    rng = np.random.default_rng(i)
    data = batches(kind, rng, weighted)
    if 'IoU' in name and weighted:                       # integer confusion counts: integer weights
        data = [(t, p, None if w is None else np.round(w * 2).astype(np.int32)) for t, p, w in data]
    ours = getattr(metrics, name)(**kw)
    theirs = getattr(keras.metrics, name)(**kw)
    for step, (t, p, w) in enumerate(data):
        ours.update_state(t, p, sample_weight=w)
        theirs.update_state(t, p, sample_weight=w)
        expected = keras.ops.convert_to_numpy(theirs.result())
        got = as_numpy(ours.result())
        assert got.shape == expected.shape, (step, got.shape, expected.shape)
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-6, err_msg=f'after update {step + 1}')
    ours.reset_state()
    theirs.reset_state()
    t, p, w = data[0]
    ours.update_state(t, p, sample_weight=w)
    theirs.update_state(t, p, sample_weight=w)
    np.testing.assert_allclose(as_numpy(ours.result()), keras.ops.convert_to_numpy(theirs.result()),
                               rtol=2e-5, atol=2e-6, err_msg='after reset_state')


@pytest.mark.parametrize('i', range(len(CASES)), ids=IDS)
def test_state_variables_match_keras_and_config_round_trips(keras, i):
    name, kw, kind = CASES[i]
    ours = getattr(metrics, name)(**kw)
    theirs = getattr(keras.metrics, name)(**kw)
    t, p, _ = batches(kind, np.random.default_rng(0), False)[0]
    ours.update_state(t, p)
    theirs.update_state(t, p)
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
    assert [tuple(v.shape) for v in ours.variables] == [tuple(v.shape) for v in theirs.variables]
    for v in ours.variables:
        assert isinstance(v, minidl.Variable) and not v.trainable
        assert type(v.data) is minidl.backend.xp().ndarray          # accumulated on the device
    extra = {'CosineSimilarity': {'axis'}}.get(name, set())
    ours_config, theirs_config = ours.get_config(), theirs.get_config()
    ours_config.pop('name'), theirs_config.pop('name')
    assert set(ours_config) == set(theirs_config) | extra
    for key, value in theirs_config.items():
        assert ours_config[key] == (list(value) if isinstance(value, tuple) else value) or \
            np.allclose(ours_config[key], value), key
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    rebuilt = keras.metrics.deserialize(metrics.serialize(ours))       # minidl's config reads in Keras
    assert type(rebuilt).__name__ == name


def test_mean_and_sum_weigh_values_as_keras(keras):
    rng = np.random.default_rng(0)
    ours_mean, theirs_mean = metrics.Mean(), keras.metrics.Mean()
    ours_sum, theirs_sum = metrics.Sum(), keras.metrics.Sum()
    for values, w in [(rng.standard_normal(5), None), (rng.standard_normal((4, 3)), rng.uniform(size=4)),
                      (np.float32(2.5), 3.0), (rng.standard_normal((3, 2)), rng.uniform(size=(3, 2))),
                      (rng.standard_normal(4), 0.5)]:
        for ours, theirs in ((ours_mean, theirs_mean), (ours_sum, theirs_sum)):
            ours.update_state(values, sample_weight=w)
            theirs.update_state(values, sample_weight=w)
            np.testing.assert_allclose(as_numpy(ours.result()), keras.ops.convert_to_numpy(theirs.result()),
                                       rtol=1e-5)


def test_result_is_a_0d_tensor_and_call_updates_then_returns():
    m = metrics.SparseCategoricalAccuracy()
    pred = np.eye(3, dtype=np.float32)
    m.update_state(np.array([0, 1, 2]), pred)                       # 3 right
    m.update_state(np.array([1]), pred[:1])                          # 1 wrong
    result = m.result()
    assert isinstance(result, Tensor) and result.shape == ()
    assert result.item() == pytest.approx(3 / 4)
    m.reset_state()
    assert m.result().item() == 0.0
    assert m(np.array([0]), pred[:1]).item() == 1.0


def test_mask_on_predictions_weighs_metric_values(keras):
    torch = pytest.importorskip('torch')
    rng = np.random.default_rng(1)
    t = rng.integers(0, 3, (4, 5))
    p = rng.dirichlet(np.ones(3), (4, 5)).astype(np.float32)
    mask = rng.uniform(size=(4, 5)) > 0.4
    y = Tensor(p)
    y._keras_mask = mask
    ty = torch.tensor(p)
    ty._keras_mask = torch.tensor(mask)
    ours, theirs = metrics.SparseCategoricalAccuracy(), keras.metrics.SparseCategoricalAccuracy()
    ours.update_state(t, y)
    theirs.update_state(t, ty)
    np.testing.assert_allclose(ours.result().item(), float(keras.ops.convert_to_numpy(theirs.result())), rtol=1e-6)


def test_keras_style_subclass_with_state_variables():
    """The custom metric of keras-io's 'Training & evaluation with the built-in methods' guide."""
    class CategoricalTruePositives(metrics.Metric):
        def __init__(self, name='categorical_true_positives', **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name='ctp', initializer='zeros')

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = np.reshape(np.argmax(y_pred, axis=1), (-1, 1))
            values = (np.asarray(y_true).astype('int32') == y_pred.astype('int32')).astype('float32')
            if sample_weight is not None:
                values = values * np.asarray(sample_weight, 'float32').reshape(-1, 1)
            self.true_positives.assign_add(np.sum(values))

        def result(self):
            return self.true_positives.value

        def reset_state(self):
            self.true_positives.assign(0.0)

    m = CategoricalTruePositives()
    m.update_state(np.array([[0], [1], [2]]), np.eye(3, dtype=np.float32))
    m.update_state(np.array([[1]]), np.eye(3, dtype=np.float32)[:1])
    assert m.result().item() == 3.0
    assert [v.path for v in m.variables] == ['categorical_true_positives/ctp']
    m.reset_state()
    assert m.result().item() == 0.0

    class WithoutSuper(metrics.Metric):
        def __init__(self):
            pass
    with pytest.raises(RuntimeError, match='super'):
        WithoutSuper().add_variable((), 'zeros')


def test_add_weight_keras2_style_and_default_reset_to_initial_values():
    class Count(metrics.Metric):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.n = self.add_weight(name='n', initializer='ones')
            self.inner = metrics.Mean()

        def update_state(self, values):
            self.n.assign_add(1.0)
            self.inner.update_state(values)

        def result(self):
            return self.n + self.inner.result()

    m = Count(name='count')
    m.update_state(np.array([2.0, 4.0]))
    assert m.result().item() == 5.0
    assert len(m.variables) == 3                       # its own, then the held metric's total and count
    m.reset_state()
    assert m.n.item() == 1.0 and m.inner.result().item() == 0.0


def test_metric_functions_follow_keras(keras):
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(8, 3)).astype(np.float32)
    idx = rng.integers(0, 3, 8)
    onehot = np.eye(3, dtype=np.float32)[idx]
    binary = rng.integers(0, 2, (8, 3)).astype(np.float32)
    for name, args in [('binary_accuracy', (binary, p)), ('categorical_accuracy', (onehot, p)),
                       ('sparse_categorical_accuracy', (idx, p)), ('sparse_categorical_accuracy', (idx[:, None], p)),
                       ('top_k_categorical_accuracy', (onehot, p, 2)), ('sparse_top_k_categorical_accuracy', (idx, p, 2)),
                       ('mean_squared_error', (onehot, p)), ('mean_absolute_error', (onehot, p)),
                       ('hinge', (binary, p)), ('kl_divergence', (onehot, p)), ('poisson', (onehot, p))]:
        ours = as_numpy(getattr(metrics, name)(*args))
        theirs = keras.ops.convert_to_numpy(getattr(keras.metrics, name)(*args))
        assert ours.shape == theirs.shape, name
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(as_numpy(metrics.binary_accuracy(binary, p, threshold=0.8)),
                               keras.ops.convert_to_numpy(keras.metrics.binary_accuracy(binary, p, threshold=0.8)))


def test_metrics_get_names_objects_functions_and_configs():
    assert metrics.get('mae').name == 'mae' and isinstance(metrics.get('mae'), metrics.MeanAbsoluteError)
    for name, cls in [('auc', metrics.AUC), ('precision', metrics.Precision), ('recall', metrics.Recall),
                      ('true_positives', metrics.TruePositives), ('false_negatives', metrics.FalseNegatives),
                      ('f1_score', metrics.F1Score), ('r2_score', metrics.R2Score),
                      ('top_k_categorical_accuracy', metrics.TopKCategoricalAccuracy),
                      ('sparse_top_k_categorical_accuracy', metrics.SparseTopKCategoricalAccuracy),
                      ('root_mean_squared_error', metrics.RootMeanSquaredError), ('mape', metrics.MeanAbsolutePercentageError),
                      ('msle', metrics.MeanSquaredLogarithmicError), ('cosine_similarity', metrics.CosineSimilarity),
                      ('logcosh', metrics.LogCoshError), ('kl_divergence', metrics.KLDivergence),
                      ('poisson', metrics.Poisson), ('hinge', metrics.Hinge), ('squared_hinge', metrics.SquaredHinge),
                      ('categorical_hinge', metrics.CategoricalHinge), ('AUC', metrics.AUC)]:
        m = metrics.get(name)
        assert type(m) is cls and m.name == name, name
    obj = metrics.BinaryAccuracy(threshold=0.3)
    assert metrics.get(obj) is obj
    config = metrics.serialize(metrics.AUC(curve='PR', num_thresholds=33))
    rebuilt = metrics.get(config)
    assert type(rebuilt) is metrics.AUC and rebuilt.curve == 'PR' and rebuilt.num_thresholds == 33

    def within_tenth(y_true, y_pred):
        return (abs(np.asarray(y_true) - np.asarray(y_pred)) < 0.1).mean(axis=-1)
    custom = metrics.get(within_tenth)
    assert custom.name == 'within_tenth'
    custom.update_state(np.array([[0.0], [1.0]]), np.array([[0.05], [0.5]]))
    custom.update_state(np.array([[0.0]]), np.array([[0.0]]))
    assert custom.result().item() == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match='compile'):
        metrics.get('accuracy')
    with pytest.raises(ValueError, match='Unknown metric'):
        metrics.get('f2_score')
    with pytest.raises(ValueError, match='needs arguments'):
        metrics.get('mean_io_u')


def test_default_names_are_made_unique_like_keras():
    first, second = metrics.AUC(), metrics.AUC()
    assert second.name.startswith('auc') and first.name != second.name
    assert metrics.AUC(name='auc_roc').name == 'auc_roc'


def test_argument_errors_name_the_metric_and_value():
    with pytest.raises(ValueError, match=r'Threshold values must be in \[0, 1\]'):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match='AUC: invalid curve'):
        metrics.AUC(curve='ROCK')
    with pytest.raises(ValueError, match='F1Score: average'):
        metrics.F1Score(average='mean')
    with pytest.raises(ValueError, match='recall must be in'):
        metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match='out of range'):
        metrics.IoU(3, [0, 3])


@pytest.mark.parametrize('loss, y_shape, p_shape, cls', [
    (minidl.losses.BinaryCrossentropy(), (5, 1), (5, 1), metrics.BinaryAccuracy),
    (minidl.losses.BinaryCrossentropy(), (5, 4), (5, 4), metrics.BinaryAccuracy),   # multi-label, Keras 2 rule
    (minidl.losses.MeanSquaredError(), (5,), (5, 1), metrics.BinaryAccuracy),
    (minidl.losses.SparseCategoricalCrossentropy(), (5,), (5, 4), metrics.SparseCategoricalAccuracy),
    (minidl.losses.MeanSquaredError(), (5, 1), (5, 4), metrics.SparseCategoricalAccuracy),
    (minidl.losses.CategoricalCrossentropy(), (5, 4), (5, 4), metrics.CategoricalAccuracy),
    (minidl.losses.MeanSquaredError(), (5, 4), (5, 4), metrics.CategoricalAccuracy),
])
def test_accuracy_resolves_from_loss_and_shapes(loss, y_shape, p_shape, cls):
    m = metrics.resolve_accuracy('acc', loss, y_shape, p_shape)
    assert type(m) is cls and m.name == 'acc'


@pytest.mark.gpu
@pytest.mark.parametrize('i', range(len(CASES)), ids=IDS)
def test_cupy_metrics_match_numpy(i):
    pytest.importorskip('cupy')
    name, kw, kind = CASES[i]
    data = batches(kind, np.random.default_rng(i), True)
    results = {}
    for backend in ('numpy', 'cupy'):
        minidl.set_backend(backend)
        try:
            m = getattr(metrics, name)(**kw)
            for t, p, w in data:
                m.update_state(t, minidl.backend.as_array(p), sample_weight=w)
            results[backend] = as_numpy(m.result())
        finally:
            minidl.set_backend('numpy')
    np.testing.assert_allclose(results['cupy'], results['numpy'], rtol=1e-5, atol=1e-6)
