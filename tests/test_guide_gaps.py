"""Gaps that keras-io's developer guides found after the import swap
(benchmarks/keras_guides/RESULTS.md): each a small piece of Keras 3's surface."""
import numpy as np
import pytest

import minidl
from minidl import layers, losses, metrics, models


def test_zero_grad_clears_every_weights_gradient():
    model = models.Sequential([layers.Input((3,)), layers.Dense(4), layers.Dense(2)])
    model(np.ones((5, 3), np.float32)).sum().backward()
    assert all(w.grad is not None for w in model.trainable_weights)
    model.zero_grad(set_to_none=False)
    assert all(np.all(w.grad.numpy() == 0) for w in model.trainable_weights)
    model.zero_grad()
    assert all(w.grad is None for w in model.trainable_weights)


def test_losses_and_metrics_take_torch_tensors_as_labels():
    torch = pytest.importorskip('torch')
    labels = np.array([0, 2, 1])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], np.float32)
    expected = losses.SparseCategoricalCrossentropy()(labels, probs).numpy()
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy()(torch.tensor(labels), probs).numpy(), expected)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(torch.tensor(labels), probs)
    assert float(m.result()) == 1.0


def test_utils_exports_keras_serialization_names():
    from minidl import saving, utils
    for name in ('register_keras_serializable', 'serialize_keras_object', 'deserialize_keras_object',
                 'get_registered_name', 'get_registered_object', 'custom_object_scope', 'CustomObjectScope',
                 'get_custom_objects'):
        assert getattr(utils, name) is getattr(saving, name)


def test_variable_from_an_initializer_shape_and_dtype():
    v = minidl.Variable(initializer='ones', shape=(2, 3), dtype='float32', trainable=False, name='v')
    assert v.shape == (2, 3) and v.dtype == np.float32 and not v.requires_grad
    np.testing.assert_array_equal(v.numpy(), np.ones((2, 3)))
    assert minidl.Variable(np.zeros(3), dtype='float64').dtype == np.float64
    with pytest.raises(ValueError, match='needs a shape'):
        minidl.Variable(initializer='zeros')


def test_summary_of_an_unbuilt_model_shows_its_layers_as_keras_3_does():
    model = models.Sequential([layers.Dense(2, activation='relu'), layers.Dense(3)])
    lines = []
    model.summary(print_fn=lines.append)
    rows = [line for line in lines if line.startswith('dense')]
    assert len(rows) == 2 and all('?' in r and '0 (unbuilt)' in r for r in rows)
    assert 'Total params: 0 (unbuilt)' in lines


def test_variable_and_torch_labels_agree_with_keras_3(keras):
    import torch
    theirs = keras.Variable(initializer='ones', shape=(2, 3), dtype='float32', trainable=False)
    ours = minidl.Variable(initializer='ones', shape=(2, 3), dtype='float32', trainable=False)
    np.testing.assert_array_equal(ours.numpy(), keras.ops.convert_to_numpy(theirs))
    assert ours.trainable == theirs.trainable and str(ours.dtype) == theirs.dtype
    labels = torch.tensor([0, 2, 1])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], np.float32)
    expected = keras.ops.convert_to_numpy(keras.losses.SparseCategoricalCrossentropy()(labels, torch.tensor(probs)))
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy()(labels, probs).numpy(), expected, rtol=1e-6)
