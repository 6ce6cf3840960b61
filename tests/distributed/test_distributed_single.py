"""minidl.distributed in a world of one rank (a plain ``python -m pytest`` run, no MPI): nothing is
imported, every collective returns its input, and every wrapper is the thing it wraps."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import Tensor, layers, models, optimizers
from minidl import distributed as dist
from minidl.distributed import core
from minidl.functional.norm import batch_norm
from minidl.testing import gradcheck

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def one():
    """A world of one (skipped when the suite itself runs under mpiexec)."""
    if dist.size() > 1:
        pytest.skip('single-process behaviour; this run has several ranks')
    return dist


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PMI', 'OMPI_', 'PMIX', 'MV2_', 'MPI_', 'HYDRA'))}
    env.pop('MINIDL_DISTRIBUTED', None)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.update(extra)
    return env


@pytest.mark.slow
def test_import_and_init_never_import_mpi4py_outside_a_launcher():
    code = ('import sys, minidl, minidl.distributed as d; import minidl.layers, minidl.models;'
            'd.init(); d.init(); assert (d.size(), d.rank(), d.local_rank()) == (1, 0, 0);'
            'assert "mpi4py" not in sys.modules, "mpi4py imported"; print("ok")')
    for extra in ({}, {'PMI_SIZE': '1', 'PMI_RANK': '0'}, {'MINIDL_DISTRIBUTED': '0', 'PMI_SIZE': '4'}):
        out = subprocess.run([sys.executable, '-c', code], env=_clean_env(**extra), capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0 and out.stdout.strip() == 'ok', (extra, out.stderr[-2000:])


@pytest.mark.parametrize('environ,expected', [
    ({}, False), ({'PMI_SIZE': '2', 'PMI_RANK': '1'}, True), ({'PMI_SIZE': '1', 'PMI_RANK': '0'}, False),
    ({'OMPI_COMM_WORLD_SIZE': '4'}, True), ({'PMIX_RANK': '0'}, True), ({'MV2_COMM_WORLD_SIZE': '3'}, True),
    ({'MINIDL_DISTRIBUTED': '1'}, True), ({'MINIDL_DISTRIBUTED': '0', 'PMI_SIZE': '2'}, False),
    ({'SLURM_NTASKS': '4'}, False)])
def test_launcher_detection(environ, expected):
    assert dist.launched_by_mpi(environ) is expected


def test_the_api_asks_for_init_first(one, monkeypatch):
    monkeypatch.setattr(core._world, 'initialized', False)
    for call in (dist.rank, dist.size, lambda: dist.shard(np.zeros(3)), lambda: dist.allreduce(1.0),
                 lambda: dist.DistributedOptimizer('sgd')):
        with pytest.raises(ValueError, match='call minidl.distributed.init\\(\\) first'):
            call()
    assert not dist.active() and dist.is_root()          # what fit and BatchNormalization ask


def test_a_world_of_one(one):
    assert (one.rank(), one.size(), one.local_rank(), one.local_size(), one.cross_rank(), one.cross_size()) == \
        (0, 1, 0, 1, 0, 1)
    assert one.is_initialized() and not one.active() and one.mpi_communicator() is None and not one.mpi_enabled()
    if importlib.util.find_spec('cupy') is None:
        assert one.nccl_built() is False
    x = np.arange(12.0).reshape(4, 3)
    assert one.shard(x) is not None and np.array_equal(one.shard(x), x) and one.shard(None) is None
    for result in (one.allreduce(x), one.allreduce(x, op=one.Sum), one.allreduce(x, op='max'), one.broadcast(x),
                   one.allgather(x)):
        assert np.array_equal(result, x) and result is not x
    assert one.allreduce(3.0) == 3.0 and one.allgather(np.float32(2)).shape == (1,)
    assert one.broadcast_object({'a': 1}) == {'a': 1} and one.allgather_object(5) == [5]
    one.barrier()
    with pytest.raises(ValueError, match="unknown op 'mean'"):
        one.allreduce(x, op='mean')
    with pytest.raises(ValueError, match='op= or average=, not both'):
        one.allreduce(x, op=one.Sum, average=True)
    with pytest.raises(TypeError, match='expected a NumPy or CuPy array'):
        one.allreduce('text')
    with pytest.raises(ValueError, match='root_rank=1 is not a rank'):
        one.broadcast(x, root_rank=1)


def test_collectives_on_tensors_keep_the_gradient(one):
    x = np.random.default_rng(0).standard_normal((3, 2))
    gradcheck(lambda t: one.allreduce(t) * t, x)
    gradcheck(lambda t: one.allreduce(t, op=one.Sum, prescale_factor=2.0) * t, x)
    gradcheck(lambda t: one.broadcast(t) ** 2, x)
    gradcheck(lambda t: one.allgather(t) * 3.0, x)
    with pytest.raises(ValueError, match='has no gradient here'):
        one.allreduce(Tensor(x, requires_grad=True), op=one.Max)


# --- DistributedOptimizer ---------------------------------------------------------------------------
def test_distributed_optimizer_is_the_wrapped_optimizer_on_one_rank(one):
    base = optimizers.Adam(learning_rate=0.01, beta_1=0.8)
    opt = one.DistributedOptimizer(base)
    assert isinstance(opt, optimizers.Adam) and type(opt).__name__ == 'Adam' and opt is not base
    assert one.is_distributed_optimizer(opt) and not one.is_distributed_optimizer(base)
    assert opt.get_config() == base.get_config() and repr(opt) == repr(base)
    opt.learning_rate = 0.5                                 # one optimizer seen through two classes
    assert base.learning_rate == 0.5
    base.learning_rate = 0.01
    rng = np.random.default_rng(0)
    w, v = minidl.Variable(rng.standard_normal((3, 2))), minidl.Variable(np.zeros((3, 2)))
    v.assign(w)
    plain = optimizers.Adam(learning_rate=0.01, beta_1=0.8)
    for _ in range(3):
        g = rng.standard_normal((3, 2))
        opt.apply_gradients([(g, w)])
        plain.apply_gradients([(g, v)])
    np.testing.assert_array_equal(w.numpy(), v.numpy())
    assert opt.iterations == base.iterations == 3
    from minidl.saving import serialize_keras_object
    assert serialize_keras_object(opt)['module'] == 'keras.optimizers'
    assert serialize_keras_object(opt)['class_name'] == 'Adam'


def test_distributed_optimizer_arguments(one):
    assert isinstance(one.DistributedOptimizer('rmsprop'), optimizers.RMSprop)
    with pytest.raises(ValueError, match='already distributed'):
        one.DistributedOptimizer(one.DistributedOptimizer('sgd'))
    with pytest.raises(ValueError, match='op must be'):
        one.DistributedOptimizer('sgd', op=one.Max)
    with pytest.raises(ValueError, match='gradient_predivide_factor must be > 0'):
        one.DistributedOptimizer('sgd', gradient_predivide_factor=0)
    with pytest.raises(ValueError, match='needs op=Average'):
        one.DistributedOptimizer('sgd', op=one.Sum, gradient_predivide_factor=2.0)
    with pytest.raises(ValueError, match='backward_passes_per_step must be >= 1'):
        one.DistributedOptimizer('sgd', backward_passes_per_step=0)
    w = minidl.Variable(np.zeros(3), name='kernel')
    with pytest.raises(ValueError, match="gradient of shape \\(2,\\) for variable 'kernel'"):
        one.DistributedOptimizer('sgd', backward_passes_per_step=2).apply_gradients([(np.ones(2), w)])


def test_backward_passes_accumulate_before_one_update(one):
    w = minidl.Variable(np.zeros(2))
    opt = one.DistributedOptimizer(optimizers.SGD(1.0), backward_passes_per_step=3)
    for k in range(2):
        assert opt.apply_gradients([(np.ones(2), w)]) == 0 and not w.numpy().any()
    opt.apply_gradients([(np.full(2, 4.0), w)])
    np.testing.assert_array_equal(w.numpy(), -6.0)                     # the sum of the three
    assert opt.iterations == 1


def test_fit_with_a_distributed_optimizer_is_plain_fit_on_one_rank(one):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 3, 40)
    histories, weights = [], []
    for wrap in (False, True):
        minidl.seed(1)
        layers.clear_session()
        model = models.Sequential([layers.Input(shape=(5,)), layers.Dense(6, use_bias=False),
                                   layers.BatchNormalization(synchronized=True), layers.ReLU(),
                                   layers.Dense(3, activation='softmax')])
        opt = optimizers.SGD(0.1, momentum=0.9)
        model.compile(optimizer=one.DistributedOptimizer(opt) if wrap else opt,
                      loss='sparse_categorical_crossentropy', metrics=['accuracy'])
        cbs = [one.BroadcastGlobalVariablesCallback(0), one.MetricAverageCallback()] if wrap else []
        assert one.fit_session(model) is None
        args, kwargs = one.prepare_fit(model, x, y, batch_size=8, callbacks=cbs)
        assert args[0] is x and kwargs['callbacks'] is cbs
        histories.append(model.fit(*args, epochs=2, verbose=0, validation_data=(x[:8], y[:8]), **kwargs).history)
        weights.append(model.get_weights())
    assert histories[0] == histories[1]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


# --- synchronized batch normalization on one rank ----------------------------------------------------
@pytest.mark.parametrize('shape', [(4, 3), (3, 5, 2), (2, 3, 4, 3)])
@pytest.mark.parametrize('scale,center', [(True, True), (False, True), (True, False)])
def test_sync_batch_norm_gradcheck_and_equal_to_batch_norm(one, shape, scale, center):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    mean0, var0 = rng.standard_normal(shape[-1]), rng.uniform(0.5, 2.0, shape[-1])
    params = [p for p, on in ((gamma, scale), (beta, center)) if on]

    def with_op(op):
        def fn(x, *p):
            p = list(p)
            return op(x, p.pop(0) if scale else None, p.pop(0) if center else None, Tensor(mean0.copy()),
                      Tensor(var0.copy()))
        return fn
    sync = with_op(lambda *a: one.sync_batch_norm(*a, momentum=0.9))
    plain = with_op(lambda *a: batch_norm(*a, training=True, momentum=0.9))
    gradcheck(sync, x, *params)
    gy = rng.standard_normal(shape)
    results = []
    for fn in (sync, plain):
        ts = [Tensor(a, requires_grad=True) for a in [x] + params]
        out = fn(*ts)
        out.backward(gy)
        results.append([out.numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_sync_batch_norm_checks_its_arguments(one):
    x = Tensor(np.zeros((4, 3)))
    mm, mv = Tensor(np.zeros(3)), Tensor(np.ones(3))
    with pytest.raises(ValueError, match='gamma must have shape \\(3,\\)'):
        one.sync_batch_norm(x, Tensor(np.ones(2)), None, mm, mv)
    with pytest.raises(ValueError, match='a batch axis and a channel axis'):
        one.sync_batch_norm(Tensor(np.zeros(3)), None, None, mm, mv)
    with pytest.raises(TypeError, match='must be Tensors'):
        one.sync_batch_norm(x, None, None, np.zeros(3), mv)


def test_batch_normalization_synchronized_argument(one):
    layer = layers.BatchNormalization(synchronized=True)
    assert layer.synchronized is True and layers.BatchNormalization().synchronized is False
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    a, b = layers.BatchNormalization(synchronized=True), layers.BatchNormalization()
    np.testing.assert_array_equal(a(x, training=True).numpy(), b(x, training=True).numpy())
    np.testing.assert_array_equal(a.moving_mean.numpy(), b.moving_mean.numpy())


def test_callbacks_do_nothing_on_one_rank(one):
    logs = {'loss': 2.0}
    one.MetricAverageCallback().on_epoch_end(0, logs)
    assert logs == {'loss': 2.0}
    w = np.ones(3)
    one.broadcast_variables([w])
    assert w.tolist() == [1, 1, 1]
