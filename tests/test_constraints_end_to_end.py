"""Weight constraints end to end (issue 17): MaxNorm, NonNeg, UnitNorm and MinMaxNorm equal
Keras 3's projections and configs, and given to layers as ``kernel_constraint``/``bias_constraint``
(and the other ``*_constraint`` arguments) they are applied after every optimizer step of ``fit``,
so a model trains to the same weights as the same model in Keras 3, step after step."""
import numpy as np
import pytest

import minidl
from minidl import constraints, optimizers

CASES = [
    ('MaxNorm', {}),
    ('MaxNorm', {'max_value': 0.7, 'axis': 1}),
    ('NonNeg', {}),
    ('UnitNorm', {}),
    ('UnitNorm', {'axis': [0, 1, 2]}),
    ('MinMaxNorm', {}),
    ('MinMaxNorm', {'min_value': 0.5, 'max_value': 0.9, 'rate': 0.5, 'axis': [0, 1]}),
]


@pytest.mark.parametrize('name,kwargs', CASES)
def test_constraints_equal_keras_projections_and_configs(keras, name, kwargs):
    rng = np.random.default_rng(0)
    shape = (3, 3, 2, 4) if isinstance(kwargs.get('axis'), list) else (5, 4)
    w = rng.standard_normal(shape).astype(np.float32)
    ours, theirs = getattr(constraints, name)(**kwargs), getattr(keras.constraints, name)(**kwargs)
    got = ours(w)
    np.testing.assert_allclose(np.asarray(got), keras.ops.convert_to_numpy(theirs(w)), rtol=1e-6, atol=1e-7)
    assert got.dtype == w.dtype and got.shape == w.shape
    assert ours.get_config() == theirs.get_config()
    again = constraints.get(keras.constraints.serialize(theirs))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


@pytest.mark.parametrize('alias,cls', [('max_norm', 'MaxNorm'), ('non_neg', 'NonNeg'), ('unit_norm', 'UnitNorm'),
                                       ('min_max_norm', 'MinMaxNorm')])
def test_constraints_by_keras_names(keras, alias, cls):
    assert type(constraints.get(alias)).__name__ == cls == type(keras.constraints.get(alias)).__name__


def _model(lib):
    """Every kind of constrained weight in one small model (Dense kernel/bias, Conv2D kernel,
    PReLU alpha, BatchNormalization gamma/beta, Embedding is in its own test)."""
    c = lib.constraints
    return lib.models.Sequential([
        lib.layers.Input((5, 5, 2)),
        lib.layers.Conv2D(3, 3, kernel_constraint=c.UnitNorm(axis=[0, 1, 2]), bias_constraint=c.NonNeg()),
        lib.layers.BatchNormalization(beta_constraint=c.MaxNorm(0.05), gamma_constraint=c.MinMaxNorm(0.9, 1.0)),
        lib.layers.PReLU(alpha_constraint=c.NonNeg()),
        lib.layers.Flatten(),
        lib.layers.Dense(4, kernel_constraint=c.MaxNorm(0.3), bias_constraint=c.NonNeg()),
        lib.layers.Dense(1, kernel_constraint=c.MinMaxNorm(0.2, 0.4, rate=0.5)),
    ])


@pytest.mark.slow
def test_constrained_model_trains_as_in_keras_step_by_step(keras):
    """Three SGD steps of ``fit`` (batch 4 of 12 samples): every weight equals Keras' after each
    epoch, which only holds if each constraint is applied after each update (the Dense kernel's
    column norms stay at most 0.3, the biases non-negative, the conv filters of unit norm)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((12, 5, 5, 2)).astype(np.float32)
    y = rng.standard_normal((12, 1)).astype(np.float32)
    theirs, ours = _model(keras), _model(minidl)
    start = [w.copy() for w in theirs.get_weights()]
    start[6] = rng.uniform(-0.5, 0.5, start[6].shape).astype(np.float32)  # PReLU alpha: Keras starts it at 0
    theirs.set_weights(start)
    ours.set_weights(start)
    theirs.compile(optimizer=keras.optimizers.SGD(0.2, momentum=0.5), loss='mse')
    ours.compile(optimizer=optimizers.SGD(0.2, momentum=0.5), loss='mse')
    for epoch in range(3):
        ours.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
        theirs.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5, err_msg=f'after epoch {epoch + 1}')
    w = dict(zip(['conv_k', 'conv_b', 'gamma', 'beta', 'mean', 'var', 'alpha', 'd1_k', 'd1_b', 'd2_k', 'd2_b'],
                 ours.get_weights()))
    np.testing.assert_allclose(np.sqrt((w['conv_k'] ** 2).sum(axis=(0, 1, 2))), 1, rtol=1e-5)
    assert (w['conv_b'] >= 0).all() and (w['d1_b'] >= 0).all() and (w['alpha'] >= 0).all()
    assert (np.sqrt((w['d1_k'] ** 2).sum(axis=0)) <= 0.3 + 1e-6).all()
    assert 0.9 - 1e-6 <= np.sqrt((w['gamma'] ** 2).sum()) <= 1 + 1e-6  # a vector's axis 0 is the whole vector
    # The unconstrained model moves elsewhere: the constraints did something.
    free = minidl.models.Sequential([type(layer).from_config({k: v for k, v in layer.get_config().items()
                                                              if not k.endswith('_constraint')})
                                     for layer in _model(minidl).layers])
    free.build((None, 5, 5, 2))
    free.set_weights(start)
    free.compile(optimizer=optimizers.SGD(0.2, momentum=0.5), loss='mse')
    free.fit(x, y, batch_size=4, epochs=3, verbose=0, shuffle=False)
    assert not np.allclose(free.get_weights()[7], ours.get_weights()[7], atol=1e-3)


def test_embedding_constraint_and_config_round_trip(keras):
    def build(lib):
        return lib.models.Sequential([lib.layers.Input((3,), dtype='int32'),
                                      lib.layers.Embedding(6, 4, embeddings_constraint=lib.constraints.MaxNorm(0.5, 1)),
                                      lib.layers.Flatten(), lib.layers.Dense(1)])
    x = np.array([[0, 1, 2], [3, 4, 5], [1, 1, 1], [5, 0, 2]], np.int32)
    y = np.arange(4, dtype=np.float32)[:, None]
    theirs, ours = build(keras), build(minidl)
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.Adam(0.1), loss='mse')
    ours.compile(optimizer=optimizers.Adam(0.1), loss='mse')
    theirs.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
    ours.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    assert (np.sqrt((ours.get_weights()[0] ** 2).sum(axis=1)) <= 0.5 + 1e-6).all()
    config = ours.layers[0].get_config()
    assert config['embeddings_constraint'] == keras.constraints.serialize(theirs.layers[0].embeddings_constraint)
    again = minidl.layers.Embedding.from_config(config)
    assert isinstance(again.embeddings_constraint, constraints.MaxNorm)
    assert again.embeddings_constraint.get_config() == {'max_value': 0.5, 'axis': 1}
