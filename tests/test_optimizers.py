"""Optimizers: every optimizer and option against Keras 3 in float64 (weights and every state
variable after 1, 5 and 20 steps, to 1e-6), the fused fast forms against the readable reference
rules, PyTorch as a second oracle, Keras 2's lr/decay, state saving, configs, schedules."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import Tensor, Variable, constraints, optimizers
from minidl.optimizers import schedules

SHAPES = [(4, 3), (3,), (2, 2, 2)]
CHECK_AT = (1, 5, 20)


def problem(seed, steps=20, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    w0 = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) * (1 + 0.5 * rng.uniform()) for s in shapes] for _ in range(steps)]
    return w0, grads


def run_minidl(make, w0, grads, constraint=None, dtype=np.float64, record=CHECK_AT):
    ws = [Variable(w.astype(dtype), name=f'w{i}', constraint=constraint) for i, w in enumerate(w0)]
    opt = make(optimizers)
    out = {}
    for step, gs in enumerate(grads, start=1):
        opt.apply([g.astype(dtype) for g in gs], ws)
        if step in record:
            out[step] = ([w.numpy().copy() for w in ws], [(v.path, v.numpy().copy()) for v in opt.variables])
    return out, opt, ws


def run_keras(keras, make, w0, grads, constraint=None, record=CHECK_AT):
    keras.config.set_floatx('float64')
    try:
        ws = [keras.Variable(w.copy(), dtype='float64', name=f'w{i}') for i, w in enumerate(w0)]
        if constraint is not None:
            for w in ws:
                w.constraint = constraint(keras)
        opt = make(keras.optimizers)
        out = {}
        for step, gs in enumerate(grads, start=1):
            opt.apply([keras.ops.convert_to_tensor(g) for g in gs], ws)
            if step in record:
                out[step] = ([keras.ops.convert_to_numpy(w) for w in ws],
                             [(v.path, keras.ops.convert_to_numpy(v)) for v in opt.variables])
        return out, opt
    finally:
        keras.config.set_floatx('float32')


def _local(path):
    name = path.split('/')[-1]
    return 'variable' if name.startswith('variable') else name


def cosine(m):
    return m.schedules.CosineDecay(0.05, 12, alpha=0.1, warmup_target=0.2, warmup_steps=4)


CASES = {
    'SGD': lambda m: m.SGD(),
    'SGD(momentum)': lambda m: m.SGD(0.05, momentum=0.9),
    'SGD(nesterov)': lambda m: m.SGD(0.05, momentum=0.8, nesterov=True),
    'Adam': lambda m: m.Adam(),
    'Adam(options)': lambda m: m.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3),
    'Adam(amsgrad)': lambda m: m.Adam(0.01, amsgrad=True),
    'AdamW': lambda m: m.AdamW(0.01),
    'AdamW(wd, amsgrad)': lambda m: m.AdamW(0.02, weight_decay=0.1, amsgrad=True),
    'Adamax': lambda m: m.Adamax(0.01),
    'Adamax(options)': lambda m: m.Adamax(0.02, beta_1=0.7, beta_2=0.9, epsilon=1e-4),
    'Nadam': lambda m: m.Nadam(0.01),
    'Nadam(options)': lambda m: m.Nadam(0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-5),
    'Lion': lambda m: m.Lion(0.001),
    'Lion(options)': lambda m: m.Lion(0.003, beta_1=0.8, beta_2=0.9),
    'Ftrl': lambda m: m.Ftrl(0.05),
    'Ftrl(l1, l2, shrinkage, beta)': lambda m: m.Ftrl(0.05, learning_rate_power=-0.7, initial_accumulator_value=0.3,
                                                      l1_regularization_strength=0.01, l2_regularization_strength=0.02,
                                                      l2_shrinkage_regularization_strength=0.03, beta=0.1),
    'RMSprop': lambda m: m.RMSprop(),
    'RMSprop(centered, momentum)': lambda m: m.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
    'RMSprop(momentum)': lambda m: m.RMSprop(0.01, momentum=0.9),
    'Adagrad': lambda m: m.Adagrad(0.05),
    'Adagrad(options)': lambda m: m.Adagrad(0.1, initial_accumulator_value=0.5, epsilon=1e-4),
    'Adadelta': lambda m: m.Adadelta(1.0),
    'Adadelta(options)': lambda m: m.Adadelta(0.5, rho=0.9, epsilon=1e-5),
    # every option of the base class, on several optimizers
    'Adam(weight_decay)': lambda m: m.Adam(0.01, weight_decay=0.05),
    'SGD(momentum, weight_decay)': lambda m: m.SGD(0.05, momentum=0.9, weight_decay=0.01),
    'Adam(clipnorm)': lambda m: m.Adam(0.01, clipnorm=1.5),
    'SGD(clipvalue)': lambda m: m.SGD(0.1, clipvalue=0.5),
    'RMSprop(global_clipnorm)': lambda m: m.RMSprop(0.01, global_clipnorm=2.0),
    'Adam(use_ema)': lambda m: m.Adam(0.01, use_ema=True),
    'SGD(use_ema, overwrite)': lambda m: m.SGD(0.1, momentum=0.5, use_ema=True, ema_momentum=0.9,
                                               ema_overwrite_frequency=3),
    'Adam(gradient_accumulation)': lambda m: m.Adam(0.01, gradient_accumulation_steps=3),
    'Nadam(gradient_accumulation, ema)': lambda m: m.Nadam(0.01, gradient_accumulation_steps=2, use_ema=True),
    'SGD(loss_scale_factor)': lambda m: m.SGD(0.1, loss_scale_factor=8.0),
    'AdamW(schedule, clipnorm, ema, accumulation)': lambda m: m.AdamW(cosine(m), weight_decay=0.1, clipnorm=1.0,
                                                                      use_ema=True, gradient_accumulation_steps=2),
    'SGD(ExponentialDecay)': lambda m: m.SGD(m.schedules.ExponentialDecay(0.1, 3, 0.5, staircase=True), momentum=0.9),
    'Adam(PiecewiseConstantDecay)': lambda m: m.Adam(m.schedules.PiecewiseConstantDecay([4, 10], [0.1, 0.01, 0.001])),
    'RMSprop(PolynomialDecay)': lambda m: m.RMSprop(m.schedules.PolynomialDecay(0.01, 8, 0.001, power=2.0)),
    'Adagrad(InverseTimeDecay)': lambda m: m.Adagrad(m.schedules.InverseTimeDecay(0.1, 2, 0.5)),
    'Lion(CosineDecayRestarts)': lambda m: m.Lion(m.schedules.CosineDecayRestarts(0.01, 3, t_mul=1.5, m_mul=0.8,
                                                                                  alpha=0.05)),
}


@pytest.mark.parametrize('name', list(CASES))
def test_every_optimizer_and_option_equals_keras_in_float64(keras, name):
    w0, grads = problem(sum(map(ord, name)))
    ours, _, _ = run_minidl(CASES[name], w0, grads)
    theirs, _ = run_keras(keras, CASES[name], w0, grads)
    for step in CHECK_AT:
        for a, b in zip(ours[step][0], theirs[step][0]):
            # (minidl keeps the learning rate as a float32 number, Keras here as float64: 2e-8 relative per
            # step, which shows only on weights that cross zero, hence the absolute tolerance)
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8 * np.abs(b).max(), err_msg=f'weights after {step}')
        # Both number default names per process ('sgd_2/...', Nadam's unnamed 'variable_3'): compare the
        # names inside the optimizer, without those counters
        assert [_local(p) for p, _ in ours[step][1]] == [_local(p) for p, _ in theirs[step][1]], 'variables, order'
        for (path, a), (_, b) in zip(ours[step][1], theirs[step][1]):
            if path.endswith('learning_rate'):       # a float32 number in minidl, as Keras' floatx
                np.testing.assert_allclose(a, b, rtol=1e-7)
                continue
            # (Keras clips by norm with a float32 intermediate: 1e-8 relative differences in float64)
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7 * np.abs(b).max(), err_msg=f'{path} after {step}')


@pytest.mark.parametrize('name', ['Adam', 'SGD(momentum)', 'Nadam'])
def test_constraints_apply_after_each_update_like_keras(keras, name):
    w0, grads = problem(3)
    ours, _, _ = run_minidl(CASES[name], w0, grads, constraint=constraints.MaxNorm(1.0))
    theirs, _ = run_keras(keras, CASES[name], w0, grads, constraint=lambda k: k.constraints.MaxNorm(1.0))
    for step in CHECK_AT:
        for a, b in zip(ours[step][0], theirs[step][0]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_callable_learning_rate_and_finalize_variable_values_like_keras(keras):
    w0, grads = problem(4)
    for module in ('ours', 'theirs'):
        pass
    ours, opt, ws = run_minidl(lambda m: m.Adam(lambda: 0.02, use_ema=True), w0, grads)
    theirs, kopt = run_keras(keras, lambda m: m.Adam(lambda: 0.02, use_ema=True), w0, grads)
    for a, b in zip(ours[20][0], theirs[20][0]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    averages = [v.numpy().copy() for v in opt._model_variables_moving_average]
    opt.finalize_variable_values(ws)
    for w, a in zip(ws, averages):
        np.testing.assert_array_equal(w.numpy(), a)


# --- the fast forms against the reference rules ------------------------------------------------------------------
FAST = ['SGD', 'SGD(momentum)', 'SGD(nesterov)', 'Adam', 'Adam(amsgrad)', 'AdamW', 'RMSprop',
        'RMSprop(centered, momentum)', 'RMSprop(momentum)', 'Adagrad', 'Adadelta', 'Lion']


@pytest.mark.parametrize('name', FAST)
@given(shapes=st.lists(st.lists(st.integers(1, 5), min_size=0, max_size=3).map(tuple), min_size=1, max_size=3),
       seed=st.integers(0, 2 ** 16))
def test_fast_forms_equal_the_reference_rules(name, shapes, seed):
    w0, grads = problem(seed, steps=6, shapes=shapes)
    minidl.kernels.reset_launches()
    fast, _, _ = run_minidl(CASES[name], w0, grads, dtype=np.float32, record=(6,))
    assert minidl.kernels.launches() or minidl.kernels_mode() == 'reference', 'a fast form ran'
    with minidl.use_kernels('reference'):
        minidl.kernels.reset_launches()
        reference, _, _ = run_minidl(CASES[name], w0, grads, dtype=np.float32, record=(6,))
        assert not minidl.kernels.launches()
    for a, b in zip(fast[6][0], reference[6][0]):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)
    for (path, a), (_, b) in zip(fast[6][1], reference[6][1]):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7, err_msg=path)


def test_every_fast_form_is_registered_against_an_optimizer():
    ops = {e.op for e in minidl.kernels.registered() if e.op.startswith('optimizer.')}
    assert ops == {'optimizer.sgd', 'optimizer.adam', 'optimizer.rmsprop', 'optimizer.adagrad',
                   'optimizer.adadelta', 'optimizer.lion'}
    assert {getattr(optimizers, c)._kernel for c in ('SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'Adadelta',
                                                     'Lion')} <= ops


# --- PyTorch, Keras 2 --------------------------------------------------------------------------------------------------
TORCH_CASES = [
    (lambda m: m.SGD(0.1, momentum=0.9), lambda p, t: t.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda m: m.SGD(0.1, momentum=0.9, nesterov=True), lambda p, t: t.optim.SGD(p, lr=0.1, momentum=0.9,
                                                                                  nesterov=True)),
    (lambda m: m.Adam(0.01, epsilon=1e-12), lambda p, t: t.optim.Adam(p, lr=0.01, eps=1e-12)),
    (lambda m: m.Adam(0.01, epsilon=1e-12, amsgrad=True), lambda p, t: t.optim.Adam(p, lr=0.01, eps=1e-12,
                                                                                     amsgrad=True)),
    (lambda m: m.AdamW(0.01, weight_decay=0.1, epsilon=1e-12),
     lambda p, t: t.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-12)),
    (lambda m: m.Adamax(0.01, epsilon=1e-12), lambda p, t: t.optim.Adamax(p, lr=0.01, eps=1e-12)),
    (lambda m: m.RMSprop(0.01, momentum=0.5, centered=True, epsilon=0.0),
     lambda p, t: t.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, eps=0.0)),
    (lambda m: m.Adagrad(0.1, epsilon=0.0), lambda p, t: t.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1,
                                                                          eps=0.0)),
    (lambda m: m.Adadelta(1.0), lambda p, t: t.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-7)),
]


@pytest.mark.parametrize('make, make_torch', TORCH_CASES)
def test_matches_torch_optim(make, make_torch):
    torch = pytest.importorskip('torch')
    w0, grads = problem(5, steps=6)
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in w0]
    opt = make_torch(params, torch)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        opt.step()
    ours, _, _ = run_minidl(make, w0, grads, record=(6,))
    for a, p in zip(ours[6][0], params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-6, atol=1e-9)


def test_keras2_lr_and_time_based_decay():
    w0, grads = problem(6, steps=5)
    ours, opt, _ = run_minidl(lambda m: m.SGD(lr=0.1, decay=0.5, momentum=0.9), w0, grads, record=(5,))
    ws, m = [w.copy() for w in w0], [np.zeros_like(w) for w in w0]
    for t, gs in enumerate(grads):
        lr = 0.1 / (1 + 0.5 * t)
        for i, g in enumerate(gs):
            m[i] = 0.9 * m[i] - lr * g
            ws[i] = ws[i] + m[i]
    for a, b in zip(ours[5][0], ws):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert opt.lr == pytest.approx(0.1) and opt.get_config()['decay'] == 0.5
    opt.lr = 0.25
    assert opt.learning_rate == 0.25


# --- API ----------------------------------------------------------------------------------------------------------------
def test_apply_gradients_step_iterations_and_in_place_updates():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    frozen = Tensor(np.ones(2, np.float32), requires_grad=True)
    buffer = w.data
    w.grad = Tensor(np.array([1.0, 2.0, 3.0], np.float32))
    opt = optimizers.SGD(0.5)
    with pytest.warns(UserWarning, match='gradients do not exist'):
        assert opt.step([w, frozen]) == 1
    assert w.data is buffer
    np.testing.assert_allclose(w.numpy(), [0.5, 0.0, -0.5])
    np.testing.assert_array_equal(frozen.numpy(), 1.0)
    assert opt.iterations == 1 and int(opt.iterations) == 1 and opt.iterations.numpy() == 1
    opt.apply([np.ones(3, np.float32), None])          # grads alone, in the built order
    assert opt.iterations == 2
    with pytest.raises(ValueError, match='no gradients'):
        opt.apply([None, None])
    with pytest.raises(ValueError, match='unknown variable'):
        opt.apply([np.ones(3, np.float32)], [Tensor(np.ones(3, np.float32), requires_grad=True)])


def test_no_slot_or_scratch_allocation_after_the_first_step(rng):
    ws = [Tensor(rng.normal(size=s).astype(np.float32), requires_grad=True) for s in [(5, 4), (4,)]]
    opt = optimizers.Adam()
    for w in ws:
        w.grad = Tensor(np.ones(w.shape, np.float32))
    opt.step(ws)
    from minidl.kernels import optimizers as fast
    slots, scratch = [id(v.data) for v in opt.variables], {k: id(b) for k, b in fast._scratch.items()}
    opt.step(ws)
    assert [id(v.data) for v in opt.variables] == slots
    assert {k: id(b) for k, b in fast._scratch.items()} == scratch
    assert len(opt.variables) == 2 + 4                 # iteration, learning_rate, momentum and velocity per weight


def test_learning_rate_is_settable_schedules_are_not():
    opt = optimizers.get('sgd')
    assert opt.learning_rate == pytest.approx(0.01)
    opt.learning_rate = 0.5
    assert opt.lr == 0.5
    opt.lr = 0.25
    assert opt.learning_rate == 0.25
    opt.learning_rate.assign(0.125)                      # Keras 3 callbacks do this
    assert float(opt.learning_rate) == 0.125 and opt.learning_rate.numpy() == np.float32(0.125)
    with pytest.raises(ValueError, match='learning_rate'):
        opt.learning_rate = -1.0
    scheduled = optimizers.Adam(schedules.ExponentialDecay(0.1, 10, 0.5))
    assert scheduled.learning_rate == pytest.approx(0.1)
    with pytest.raises(TypeError, match='LearningRateSchedule'):
        scheduled.learning_rate = 0.01
    assert [v.name for v in scheduled.variables] == ['iteration']


@pytest.mark.parametrize('name, cls, lr', [('adam', optimizers.Adam, 1e-3), ('SGD', optimizers.SGD, 1e-2),
                                           ('rmsprop', optimizers.RMSprop, 1e-3), ('adagrad', optimizers.Adagrad, 1e-3),
                                           ('Adadelta', optimizers.Adadelta, 1e-3), ('adamw', optimizers.AdamW, 1e-3),
                                           ('nadam', optimizers.Nadam, 1e-3), ('adamax', optimizers.Adamax, 1e-3),
                                           ('lion', optimizers.Lion, 1e-3), ('ftrl', optimizers.Ftrl, 1e-3)])
def test_get_by_name_uses_keras3_defaults(name, cls, lr):
    opt = optimizers.get(name)
    assert type(opt) is cls and opt.learning_rate == pytest.approx(lr)
    assert optimizers.get(opt) is opt


def test_argument_errors_say_what_is_allowed():
    with pytest.raises(ValueError, match='adamq'):
        optimizers.get('adamq')
    with pytest.raises(ValueError, match='betas'):
        optimizers.Adam(betas=(0.9, 0.99))
    with pytest.raises(ValueError, match='only one of clipnorm'):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match='gradient_accumulation_steps'):
        optimizers.SGD(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match='ema_momentum'):
        optimizers.SGD(use_ema=True, ema_momentum=1.5)
    with pytest.raises(ValueError, match='weight_decay'):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match='beta_1'):
        optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match='learning_rate_power'):
        optimizers.Ftrl(learning_rate_power=0.5)


def test_gradient_shape_mismatch_names_the_weight():
    w = Tensor(np.ones((2, 2), np.float32), requires_grad=True, name='dense/kernel')
    with pytest.raises(ValueError, match='dense_kernel'):
        optimizers.SGD().apply_gradients([(np.ones(3, np.float32), w)])


@pytest.mark.parametrize('name', ['Adam(use_ema)', 'Nadam(gradient_accumulation, ema)', 'Ftrl', 'SGD(momentum)',
                                  'AdamW(schedule, clipnorm, ema, accumulation)'])
def test_save_and_load_own_variables_resume_exactly_and_load_into_keras(keras, name):
    w0, grads = problem(7, steps=10)
    straight, _, _ = run_minidl(CASES[name], w0, grads, record=(10,))
    # five steps, save, a fresh optimizer built and loaded, five more steps
    ws = [Variable(w.copy(), name=f'w{i}') for i, w in enumerate(w0)]
    first = CASES[name](optimizers)
    for gs in grads[:5]:
        first.apply(gs, ws)
    store = {}
    first.save_own_variables(store)
    assert sorted(store, key=int) == [str(i) for i in range(len(first.variables))]
    second = CASES[name](optimizers)
    second.build(ws)
    second.load_own_variables(store)
    for gs in grads[5:]:
        second.apply(gs, ws)
    for a, b in zip(ws, straight[10][0]):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12)
    # the same store read by Keras' own optimizer continues the same way
    keras.config.set_floatx('float64')
    try:
        kws = [keras.Variable(v, dtype='float64', name=f'w{i}') for i, v in enumerate(_weights_after(name, w0, grads[:5]))]
        kopt = CASES[name](keras.optimizers)
        kopt.build(kws)
        kopt.load_own_variables(store)
        for gs in grads[5:]:
            kopt.apply([keras.ops.convert_to_tensor(g) for g in gs], kws)
        for a, b in zip(kws, straight[10][0]):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(a), b, rtol=1e-6, atol=1e-9)
    finally:
        keras.config.set_floatx('float32')


def _weights_after(name, w0, grads):
    out, _, _ = run_minidl(CASES[name], w0, grads, record=(len(grads),))
    return out[len(grads)][0]


def test_load_own_variables_with_another_count_warns_and_skips():
    opt = optimizers.Adam()
    with pytest.warns(UserWarning, match='Skipping variable loading'):
        opt.load_own_variables({'0': np.array(3), '1': np.array(0.1), '2': np.zeros(3)})


@pytest.mark.parametrize('name', ['SGD(nesterov)', 'Adam(amsgrad)', 'AdamW(wd, amsgrad)', 'Adamax', 'Nadam', 'Lion',
                                  'Ftrl(l1, l2, shrinkage, beta)', 'RMSprop(centered, momentum)', 'Adagrad',
                                  'Adadelta', 'AdamW(schedule, clipnorm, ema, accumulation)',
                                  'SGD(use_ema, overwrite)'])
def test_get_config_equals_keras_and_round_trips(keras, name):
    ours, theirs = CASES[name](optimizers), CASES[name](keras.optimizers)
    a, b = ours.get_config(), theirs.get_config()
    a.pop('name'), b.pop('name')
    assert set(a) == set(b)
    for key in b:
        if isinstance(b[key], float):
            assert a[key] == pytest.approx(b[key], rel=1e-7), key
        elif isinstance(b[key], dict):
            assert a[key]['class_name'] == b[key]['class_name'] and a[key]['config'] == b[key]['config'], key
        else:
            assert a[key] == b[key], key
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    # minidl's config reads in Keras, and Keras' (whatever module it names) in minidl
    assert type(keras.optimizers.deserialize(optimizers.serialize(ours))).__name__ == type(ours).__name__
    back = optimizers.get(keras.optimizers.serialize(theirs))
    assert type(back) is type(ours) and back.get_config().keys() == ours.get_config().keys()


def test_keras2_config_with_lr_and_decay_loads():
    opt = optimizers.deserialize({'class_name': 'Adam', 'config': {'name': 'Adam', 'lr': 0.01, 'decay': 1e-4,
                                                                   'beta_1': 0.9, 'beta_2': 0.999, 'epsilon': 1e-7,
                                                                   'amsgrad': False}})
    assert type(opt) is optimizers.Adam and opt.learning_rate == pytest.approx(0.01) and opt.decay == 1e-4


def test_default_names_follow_keras():
    assert optimizers.Adam().name.startswith('adam') and optimizers.AdamW().name.startswith('adam_w')
    assert optimizers.SGD(name='sgd_main').name == 'sgd_main'


# --- schedules -------------------------------------------------------------------------------------------------------
SCHEDULES = [
    ('ExponentialDecay', dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.6)),
    ('ExponentialDecay', dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.6, staircase=True)),
    ('InverseTimeDecay', dict(initial_learning_rate=0.2, decay_steps=5, decay_rate=0.3)),
    ('InverseTimeDecay', dict(initial_learning_rate=0.2, decay_steps=5, decay_rate=0.3, staircase=True)),
    ('PiecewiseConstantDecay', dict(boundaries=[10, 25, 40], values=[1.0, 0.5, 0.1, 0.01])),
    ('PolynomialDecay', dict(initial_learning_rate=0.1, decay_steps=30, end_learning_rate=0.01, power=0.5)),
    ('PolynomialDecay', dict(initial_learning_rate=0.1, decay_steps=12, end_learning_rate=0.0, power=2.0, cycle=True)),
    ('CosineDecay', dict(initial_learning_rate=0.1, decay_steps=40)),
    ('CosineDecay', dict(initial_learning_rate=0.1, decay_steps=40, alpha=0.2)),
    ('CosineDecay', dict(initial_learning_rate=0.0, decay_steps=30, warmup_target=0.5, warmup_steps=10)),
    ('CosineDecay', dict(initial_learning_rate=0.01, decay_steps=20, alpha=0.1, warmup_target=0.2, warmup_steps=7)),
    ('CosineDecayRestarts', dict(initial_learning_rate=0.1, first_decay_steps=8)),
    ('CosineDecayRestarts', dict(initial_learning_rate=0.1, first_decay_steps=5, t_mul=1.0, m_mul=0.7, alpha=0.1)),
    ('CosineDecayRestarts', dict(initial_learning_rate=0.1, first_decay_steps=6, t_mul=3.0, m_mul=0.5)),
]


@pytest.mark.parametrize('name, kwargs', SCHEDULES, ids=[f'{n}-{k}' for n, k in SCHEDULES])
def test_every_schedule_equals_keras_at_many_steps(keras, name, kwargs):
    ours, theirs = getattr(schedules, name)(**kwargs), getattr(keras.optimizers.schedules, name)(**kwargs)
    keras.config.set_floatx('float64')
    try:
        steps = list(range(0, 120)) + [150, 333, 1000]
        expected = [float(keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(s, dtype='float64'))))
                    for s in steps]
    finally:
        keras.config.set_floatx('float32')
    np.testing.assert_allclose([ours(s) for s in steps], expected, rtol=1e-6, atol=1e-9)
    assert ours.get_config() == theirs.get_config()
    rebuilt = schedules.deserialize(keras.optimizers.schedules.serialize(theirs))
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()


def test_schedule_arguments_are_checked_and_custom_schedules_work():
    with pytest.raises(ValueError, match='decay_steps must be > 0'):
        schedules.CosineDecay(0.1, 0)
    with pytest.raises(ValueError, match='one entry fewer'):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])

    class Halving(schedules.LearningRateSchedule):
        def __init__(self, lr):
            self.lr = lr

        def __call__(self, step):
            return self.lr / 2 ** (step // 2)

        def get_config(self):
            return {'lr': self.lr}
    w = Variable(np.zeros(1))
    opt = optimizers.SGD(Halving(1.0))
    for _ in range(4):
        opt.apply([np.ones(1)], [w])
    np.testing.assert_allclose(w.numpy(), [-(1 + 1 + 0.5 + 0.5)])


@pytest.mark.gpu
@pytest.mark.parametrize('name', FAST + ['Adamax', 'Nadam', 'Ftrl', 'AdamW(schedule, clipnorm, ema, accumulation)'])
def test_cupy_updates_match_numpy(name):
    """The fused CUDA kernels and the CuPy paths follow the same rule as the NumPy path."""
    pytest.importorskip('cupy')
    w0, grads = problem(0, steps=5, shapes=[(64, 33), (33,)])
    results = {}
    for backend in ('numpy', 'cupy'):
        minidl.set_backend(backend)
        try:
            results[backend] = run_minidl(CASES[name], w0, grads, dtype=np.float32, record=(5,))[0][5][0]
        finally:
            minidl.set_backend('numpy')
    for a, b in zip(results['cupy'], results['numpy']):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
