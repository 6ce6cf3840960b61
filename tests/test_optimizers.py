"""Optimizers follow Keras' update rules: a float64 NumPy transcription of each formula, and
torch.optim where the two rules coincide."""
import numpy as np
import pytest

from minidl import Tensor, optimizers


def weights_and_grads(rng, steps):
    shapes = [(4, 3), (3,)]
    w0 = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(steps)]
    return w0, grads


def run_minidl(opt, w0, grads):
    ws = [Tensor(w.astype(np.float32), requires_grad=True) for w in w0]
    for step in grads:
        opt.apply_gradients([(g.astype(np.float32), w) for g, w in zip(step, ws)])
    return [w.numpy() for w in ws]


def reference(update, state_init, w0, grads):
    """Apply ``update(w, g, state, t) -> (w, state)`` (float64) step by step, t = 1, 2, ..."""
    ws = [w.copy() for w in w0]
    states = [state_init(w) for w in w0]
    for t, step in enumerate(grads, start=1):
        for i, g in enumerate(step):
            ws[i], states[i] = update(ws[i], g, states[i], t)
    return ws


def sgd_ref(lr, momentum=0.0, nesterov=False, decay=0.0):
    def update(w, g, m, t):
        lr_t = lr / (1 + decay * (t - 1))
        if not momentum:
            return w - lr_t * g, m
        m = momentum * m - lr_t * g
        return (w + momentum * m - lr_t * g if nesterov else w + m), m
    return update, np.zeros_like


def adam_ref(lr=1e-3, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    def update(w, g, s, t):
        m, v, vhat = s
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vhat = np.maximum(vhat, v)
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha * m / (np.sqrt(vhat if amsgrad else v) + eps), (m, v, vhat)
    return update, lambda w: (np.zeros_like(w),) * 3


def rmsprop_ref(lr=1e-3, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    def update(w, g, s, t):
        v, a, b = s
        v = rho * v + (1 - rho) * g * g
        a = rho * a + (1 - rho) * g
        step = lr * g / np.sqrt((v - a * a if centered else v) + eps)
        if momentum:
            b = momentum * b + step
            return w - b, (v, a, b)
        return w - step, (v, a, b)
    return update, lambda w: (np.zeros_like(w),) * 3


def adagrad_ref(lr=1e-3, init=0.1, eps=1e-7):
    def update(w, g, acc, t):
        acc = acc + g * g
        return w - lr * g / np.sqrt(acc + eps), acc
    return update, lambda w: np.full_like(w, init)


def adadelta_ref(lr=1e-3, rho=0.95, eps=1e-7):
    def update(w, g, s, t):
        acc_g, acc_d = s
        acc_g = rho * acc_g + (1 - rho) * g * g
        delta = -np.sqrt(acc_d + eps) / np.sqrt(acc_g + eps) * g
        acc_d = rho * acc_d + (1 - rho) * delta * delta
        return w + lr * delta, (acc_g, acc_d)
    return update, lambda w: (np.zeros_like(w),) * 2


CASES = [
    (lambda: optimizers.SGD(), sgd_ref(0.01)),
    (lambda: optimizers.SGD(lr=0.1, momentum=0.9), sgd_ref(0.1, 0.9)),
    (lambda: optimizers.SGD(0.05, momentum=0.8, nesterov=True), sgd_ref(0.05, 0.8, True)),
    (lambda: optimizers.SGD(lr=0.01, decay=0.1, momentum=0.9, nesterov=True), sgd_ref(0.01, 0.9, True, 0.1)),
    (lambda: optimizers.Adam(), adam_ref()),
    (lambda: optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3), adam_ref(0.01, 0.8, 0.99, 1e-3)),
    (lambda: optimizers.Adam(0.01, amsgrad=True), adam_ref(0.01, amsgrad=True)),
    (lambda: optimizers.RMSprop(), rmsprop_ref()),
    (lambda: optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True),
     rmsprop_ref(0.01, 0.8, 0.5, centered=True)),
    (lambda: optimizers.Adagrad(), adagrad_ref()),
    (lambda: optimizers.Adagrad(lr=1.0, initial_accumulator_value=0.5), adagrad_ref(1.0, 0.5)),
    (lambda: optimizers.Adadelta(), adadelta_ref()),
    (lambda: optimizers.Adadelta(learning_rate=1.0, rho=0.9), adadelta_ref(1.0, 0.9)),
]


@pytest.mark.parametrize('make, ref', CASES)
def test_update_rule_matches_formula(make, ref, rng):
    w0, grads = weights_and_grads(rng, steps=5)
    ours = run_minidl(make(), w0, grads)
    expected = reference(*ref, w0, grads)
    for a, b in zip(ours, expected):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


TORCH_CASES = [
    (lambda: optimizers.SGD(0.1, momentum=0.9), lambda p, t: t.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
     lambda p, t: t.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    (lambda: optimizers.Adam(0.01, epsilon=1e-12), lambda p, t: t.optim.Adam(p, lr=0.01, eps=1e-12)),
    (lambda: optimizers.Adam(0.01, epsilon=1e-12, amsgrad=True),
     lambda p, t: t.optim.Adam(p, lr=0.01, eps=1e-12, amsgrad=True)),
    (lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True, epsilon=0.0),
     lambda p, t: t.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, eps=0.0)),
    (lambda: optimizers.Adagrad(0.1, epsilon=0.0),
     lambda p, t: t.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0.0)),
    (lambda: optimizers.Adadelta(1.0), lambda p, t: t.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-7)),
]


@pytest.mark.parametrize('make, make_torch', TORCH_CASES)
def test_matches_torch_optim(make, make_torch, rng):
    torch = pytest.importorskip('torch')
    w0, grads = weights_and_grads(rng, steps=6)
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in w0]
    opt = make_torch(params, torch)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        opt.step()
    for a, p in zip(run_minidl(make(), w0, grads), params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_step_reads_grad_and_updates_in_place():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    frozen = Tensor(np.ones(2, np.float32), requires_grad=True)
    buffer = w.data
    w.grad = Tensor(np.array([1.0, 2.0, 3.0], np.float32))
    opt = optimizers.SGD(0.5)
    opt.step([w, frozen])
    assert w.data is buffer
    np.testing.assert_allclose(w.numpy(), [0.5, 0.0, -0.5])
    np.testing.assert_array_equal(frozen.numpy(), 1.0)
    assert opt.iterations == 1


def test_no_slot_or_scratch_allocation_after_first_step(rng):
    ws = [Tensor(rng.normal(size=s).astype(np.float32), requires_grad=True) for s in [(5, 4), (4,)]]
    opt = optimizers.Adam()
    for w in ws:
        w.grad = Tensor(np.ones(w.shape, np.float32))
    opt.step(ws)
    slots, scratch = [id(a) for a in opt.variables()], id(opt._scratch)
    opt.step(ws)
    assert [id(a) for a in opt.variables()] == slots and id(opt._scratch) == scratch
    assert len(slots) == 4  # momentum and velocity per weight


def test_learning_rate_is_settable_and_lr_alias():
    opt = optimizers.get('sgd')
    assert opt.learning_rate == pytest.approx(0.01)
    opt.learning_rate = 0.5
    assert opt.lr == 0.5
    opt.lr = 0.25
    assert opt.learning_rate == 0.25
    with pytest.raises(ValueError, match='learning_rate'):
        opt.learning_rate = -1.0


@pytest.mark.parametrize('name, cls, lr', [('adam', optimizers.Adam, 1e-3), ('SGD', optimizers.SGD, 1e-2),
                                           ('rmsprop', optimizers.RMSprop, 1e-3),
                                           ('adagrad', optimizers.Adagrad, 1e-3),
                                           ('Adadelta', optimizers.Adadelta, 1e-3)])
def test_get_by_name_uses_keras3_defaults(name, cls, lr):
    opt = optimizers.get(name)
    assert type(opt) is cls and opt.learning_rate == pytest.approx(lr)
    assert optimizers.get(opt) is opt


def test_get_rejects_unknown_names_and_arguments():
    with pytest.raises(ValueError, match='adamw'):
        optimizers.get('adamw')
    with pytest.raises(TypeError, match='betas'):
        optimizers.Adam(betas=(0.9, 0.99))


def test_gradient_shape_mismatch_names_the_weight():
    w = Tensor(np.ones((2, 2), np.float32), requires_grad=True, name='dense/kernel')
    with pytest.raises(ValueError, match='dense/kernel'):
        optimizers.SGD().apply_gradients([(np.ones(3, np.float32), w)])


@pytest.mark.gpu
@pytest.mark.parametrize('make', [lambda: optimizers.Adam(1e-2), lambda: optimizers.Adam(1e-2, amsgrad=True),
                                  lambda: optimizers.SGD(0.1, momentum=0.9),
                                  lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
                                  lambda: optimizers.SGD(0.1), lambda: optimizers.RMSprop(1e-2)])
def test_cupy_updates_match_numpy(make):
    """The fused CuPy update kernels follow the same rule as the NumPy path, step by step."""
    import minidl
    pytest.importorskip('cupy')
    rng = np.random.default_rng(0)
    w0, grads = [rng.normal(size=(64, 33))], [[rng.normal(size=(64, 33))] for _ in range(5)]
    results = {}
    for backend in ('numpy', 'cupy'):
        minidl.set_backend(backend)
        try:
            results[backend] = run_minidl(make(), w0, grads)[0]
        finally:
            minidl.set_backend('numpy')
    np.testing.assert_allclose(results['cupy'], results['numpy'], rtol=1e-5, atol=1e-6)
