"""minidl.distributed on two (or more) MPI ranks: run by ``.ci/run`` as
``mpiexec -n 2 python -m pytest tests/distributed``; skipped in a plain pytest run.

Every rank runs every test; all collectives of a test run before its assertions where a
failure on one rank could otherwise leave the other waiting.
"""
import os

import numpy as np
import pytest

import minidl
from minidl import Tensor, layers, models, optimizers, callbacks as callbacks_module
from minidl.distributed import core, testing as dist_testing
from minidl.distributed.callbacks import optimizer_arrays
from minidl.functional.norm import batch_norm

from _dist_fakes import DeviceArray, FakeNccl, device, use_fakes

pytestmark = pytest.mark.mpi


# --- the world and the collectives -------------------------------------------------------------
def test_world_and_shard(world):
    r, n = world.rank(), world.size()
    assert 0 <= r < n and world.local_size() == n and world.local_rank() == r   # one machine
    assert world.cross_size() == 1 and world.cross_rank() == 0
    x = np.arange(20).reshape(10, 2)
    np.testing.assert_array_equal(world.shard(x), x[r::n])
    a, b = world.shard([x, x[:, 0]])                  # several model inputs
    np.testing.assert_array_equal(a, x[r::n])
    np.testing.assert_array_equal(b, x[r::n, 0])
    union = np.concatenate(world.allgather_object(world.shard(np.arange(11))))
    assert sorted(union.tolist()) == list(range(11))


def test_allreduce_ops_on_arrays_and_numbers(world):
    r, n = world.rank(), world.size()
    x = np.arange(6, dtype=np.float32).reshape(2, 3) + r
    ranks = np.arange(n)
    mean = np.arange(6, dtype=np.float32).reshape(2, 3) + ranks.mean()
    np.testing.assert_allclose(world.allreduce(x), mean)
    np.testing.assert_allclose(world.allreduce(x, average=False), n * np.arange(6).reshape(2, 3) + ranks.sum())
    np.testing.assert_array_equal(world.allreduce(np.int64(r + 1), op=world.Product), np.prod(ranks + 1))
    assert world.allreduce(r, op=world.Max) == n - 1 and world.allreduce(r, op='min') == 0
    scaled = world.allreduce(x, op=world.Sum, prescale_factor=2.0, postscale_factor=0.5)
    np.testing.assert_allclose(scaled, n * np.arange(6).reshape(2, 3) + ranks.sum())
    assert x[0, 0] == r   # a new array: the input is unchanged
    with pytest.raises(TypeError, match='average of int64'):
        world.allreduce(np.arange(3))


def test_broadcast_allgather_and_objects(world):
    r, n = world.rank(), world.size()
    np.testing.assert_array_equal(world.broadcast(np.full(3, r, np.float64), root_rank=n - 1), np.full(3, n - 1))
    gathered = world.allgather(np.full((r + 1, 2), r, np.float32))   # first dimensions differ
    expected = np.concatenate([np.full((s + 1, 2), s, np.float32) for s in range(n)])
    np.testing.assert_array_equal(gathered, expected)
    assert world.broadcast_object({'rank': r}, root_rank=1) == {'rank': 1}
    assert world.allgather_object(r * 10) == [s * 10 for s in range(n)]
    world.barrier()
    with pytest.raises(ValueError, match='root_rank=7'):
        world.broadcast(np.zeros(2), root_rank=7)


def test_collectives_say_which_rank_differs(world):
    r = world.rank()
    with pytest.raises(ValueError, match='rank 0: shape \\(2,\\).*rank 1: shape \\(3,\\)'):
        world.allreduce(np.zeros(2 + r))
    with pytest.raises(ValueError, match='first axis only'):
        world.allgather(np.zeros((2, 1 + r)))
    with pytest.raises(ValueError, match='the ranks hold different arrays'):
        world.broadcast_variables([np.zeros(2 + r)])


def test_collectives_on_tensors_are_differentiable(world):
    """Each collective's backward is the gradient of the ranks' summed objective (checked
    element by element across ranks, in float64)."""
    r = world.rank()
    rng = np.random.default_rng(r)
    x = rng.standard_normal((3, 2))
    assert dist_testing.gradcheck(lambda t: world.allreduce(t) * t, x)
    assert dist_testing.gradcheck(lambda t: world.allreduce(t, op=world.Sum) ** 2, x)
    assert dist_testing.gradcheck(lambda t: world.broadcast(t, root_rank=1) * t, x)
    assert dist_testing.gradcheck(lambda t: world.allgather(t) ** 2, rng.standard_normal((2 + r, 2)))


# --- synchronized batch normalization -------------------------------------------------------------
def _bn_params(rng, channels):
    return (rng.standard_normal(channels), rng.standard_normal(channels),
            rng.standard_normal(channels), rng.uniform(0.5, 2.0, channels))


@pytest.mark.parametrize('shape', [(5, 3), (2, 3, 4, 3)])
def test_sync_batch_norm_equals_one_process_on_the_concatenated_batch(world, shape):
    r, n = world.rank(), world.size()
    rows = [shape[0] + s for s in range(n)]          # ranks hold batches of different sizes
    full = np.random.default_rng(7).standard_normal((sum(rows),) + shape[1:]) * 3 + 1
    start = sum(rows[:r])
    x_local = full[start:start + rows[r]]
    gamma, beta, mean0, var0 = _bn_params(np.random.default_rng(8), shape[-1])
    gy_full = np.random.default_rng(9).standard_normal(full.shape)

    def run(fn, x, gy):
        xt, gt, bt = Tensor(x, requires_grad=True), Tensor(gamma, requires_grad=True), Tensor(beta, requires_grad=True)
        mm, mv = Tensor(mean0.copy()), Tensor(var0.copy())
        y = fn(xt, gt, bt, mm, mv)
        y.backward(gy)
        return y.numpy(), xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy(), mm.numpy(), mv.numpy()

    got = run(lambda *a: world.sync_batch_norm(*a, momentum=0.9, epsilon=1e-3), x_local,
              gy_full[start:start + rows[r]])
    ggamma_sum, gbeta_sum = world.allreduce(got[2], op=world.Sum), world.allreduce(got[3], op=world.Sum)
    ref = run(lambda *a: batch_norm(*a, training=True, momentum=0.9, epsilon=1e-3), full, gy_full)
    np.testing.assert_allclose(got[0], ref[0][start:start + rows[r]], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], ref[1][start:start + rows[r]], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ggamma_sum, ref[2], rtol=1e-10)
    np.testing.assert_allclose(gbeta_sum, ref[3], rtol=1e-10)
    np.testing.assert_allclose(got[4], ref[4], rtol=1e-12)   # moving statistics of the global batch
    np.testing.assert_allclose(got[5], ref[5], rtol=1e-12)


@pytest.mark.parametrize('scale,center', [(True, True), (False, True), (True, False), (False, False)])
def test_sync_batch_norm_gradcheck_across_ranks(world, scale, center):
    r = world.rank()
    rng = np.random.default_rng(20 + r)
    x = rng.standard_normal((3 + r, 2)) * 2 + 1     # 3 rows on rank 0, 4 on rank 1
    gamma, beta, mean0, var0 = _bn_params(rng, 2)
    params = [p for p, on in ((gamma, scale), (beta, center)) if on]

    def fn(x, *p):
        p = list(p)
        mm, mv = Tensor(mean0.copy()), Tensor(var0.copy())
        return world.sync_batch_norm(x, p.pop(0) if scale else None, p.pop(0) if center else None, mm, mv)
    assert dist_testing.gradcheck(fn, x, *params)


def test_sync_batch_norm_on_device_arrays_staged_through_mpi(world, monkeypatch):
    """The CuPy path, with stand-in device arrays: every sum goes through a device buffer that
    is staged through host memory (no NCCL), and the results equal the NumPy run's."""
    results = {}
    for label in ('numpy', 'device'):
        if label == 'device':
            use_fakes(monkeypatch, nccl=None)
        rng = np.random.default_rng(30 + world.rank())
        x, gy = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
        gamma, beta, mean0, var0 = _bn_params(np.random.default_rng(31), 3)
        conv = device if label == 'device' else np.array
        f = world.SyncBatchNorm(Tensor(mean0.copy()), Tensor(var0.copy()), 0.9, 1e-3, True, True)
        f.inputs = [Tensor(x, requires_grad=True)]
        y = f.forward(conv(x), conv(gamma), conv(beta))
        grads = f.backward(conv(gy))
        if label == 'device':
            assert isinstance(y, DeviceArray) and all(isinstance(g, DeviceArray) for g in grads)
        results[label] = [np.asarray(a) for a in (y,) + grads] + [f.moving_mean.numpy(), f.moving_var.numpy()]
    for a, b in zip(results['numpy'], results['device']):
        np.testing.assert_allclose(b, a, rtol=1e-12)


# --- DistributedOptimizer ---------------------------------------------------------------------------
def _weights(rng, *shapes):
    return [minidl.Variable(rng.standard_normal(s), name=f'w{i}') for i, s in enumerate(shapes)]


def test_distributed_optimizer_averages_in_one_buffer_per_step(world, monkeypatch):
    r, n = world.rank(), world.size()
    calls = []
    reduce = core._allreduce_buffer
    monkeypatch.setattr(core, '_allreduce_buffer', lambda buf, op=core.Sum: calls.append(buf.size) or reduce(buf, op))
    shapes = [(3, 2), (2,), (4, 1, 2)]
    ws = _weights(np.random.default_rng(0), *shapes)
    ref = _weights(np.random.default_rng(0), *shapes)
    opt = world.DistributedOptimizer(optimizers.SGD(0.1, momentum=0.9))
    plain = optimizers.SGD(0.1, momentum=0.9)
    for step in range(3):
        base = [np.random.default_rng(100 * step + s).standard_normal(w.shape) for s, w in enumerate(ws)]
        opt.apply_gradients(zip([b + r for b in base], ws))             # rank r's gradients
        plain.apply_gradients(zip([b + (n - 1) / 2 for b in base], ref))  # their average
    assert calls == [sum(int(np.prod(s)) for s in shapes) + len(shapes)] * 3   # one buffer (+ 3 flags) per step
    assert opt.iterations == 3 and plain.iterations == 3
    for w, v in zip(ws, ref):
        np.testing.assert_allclose(w.numpy(), v.numpy(), rtol=1e-12)


def test_gradients_missing_on_some_ranks_count_as_zero_and_on_all_are_skipped(world):
    r, n = world.rank(), world.size()
    w_some, w_none, w_all = _weights(np.random.default_rng(1), (2,), (2,), (2,))
    before = [w.numpy().copy() for w in (w_some, w_none, w_all)]
    opt = world.DistributedOptimizer(optimizers.SGD(1.0))
    g_some = np.ones(2) if r == 0 else None                 # only rank 0 has it
    opt.apply_gradients([(g_some, w_some), (None, w_none), (np.full(2, float(r)), w_all)])
    np.testing.assert_allclose(w_some.numpy(), before[0] - 1.0 / n)
    np.testing.assert_array_equal(w_none.numpy(), before[1])
    np.testing.assert_allclose(w_all.numpy(), before[2] - (n - 1) / 2)


def test_distributed_optimizer_options(world):
    r, n = world.rank(), world.size()
    g = np.full(2, float(r + 1))
    total = n * (n + 1) / 2
    for kwargs, step in (({'op': world.Sum}, total), ({'gradient_predivide_factor': 2.0}, total / n)):
        w = minidl.Variable(np.zeros(2))
        world.DistributedOptimizer(optimizers.SGD(1.0), **kwargs).apply_gradients([(g, w)])
        np.testing.assert_allclose(w.numpy(), -step)
    # two backward passes per step: the first changes nothing, the second applies the summed average
    w = minidl.Variable(np.zeros(2))
    opt = world.DistributedOptimizer(optimizers.SGD(1.0), backward_passes_per_step=2,
                                     average_aggregated_gradients=True)
    opt.apply_gradients([(g, w)])
    assert opt.iterations == 0 and not w.numpy().any()
    opt.apply_gradients([(3 * g, w)])
    np.testing.assert_allclose(w.numpy(), -(4 * total / n) / 2)
    assert opt.iterations == 1


def test_distributed_optimizer_names_the_disagreeing_rank(world):
    r = world.rank()
    opt = world.DistributedOptimizer(optimizers.SGD(0.1))
    w = minidl.Variable(np.zeros(2 + r), name='kernel')
    with pytest.raises(ValueError, match="gradient 0 \\('kernel'\\) has shape"):
        opt.apply_gradients([(np.ones(2 + r), w)])


def test_nccl_path_with_device_arrays(world, monkeypatch):
    """The NCCL communicator is built from a unique id broadcast over MPI, and the optimizer's
    one buffer per step goes through NCCL's all-reduce (a stand-in that reduces over MPI)."""
    nccl = FakeNccl(world.mpi_communicator())
    use_fakes(monkeypatch, nccl=nccl)
    r, n = world.rank(), world.size()
    x = device(np.full((2, 3), float(r), np.float32))
    y = world.allreduce(x)
    assert isinstance(y, DeviceArray)
    np.testing.assert_allclose(y.get(), (n - 1) / 2)
    b = world.broadcast(device(np.full(3, float(r))), root_rank=1)
    np.testing.assert_array_equal(b.get(), np.ones(3))
    g = world.allgather(device(np.full((2, 2), float(r), np.float32)))
    np.testing.assert_array_equal(g.get(), np.repeat(np.arange(n, dtype=np.float32), 2)[:, None].repeat(2, 1))
    w = minidl.Variable(np.zeros(4, np.float32))
    world.DistributedOptimizer(optimizers.SGD(1.0)).apply_gradients([(device(np.full(4, float(r), np.float32)), w)])
    np.testing.assert_allclose(w.numpy(), -(n - 1) / 2)
    kinds = [c[0] for c in nccl.calls]
    assert kinds[0] == 'init' and nccl.calls[0][1:] == (n, b'fake-nccl-id', r)
    assert kinds.count('init') == 1 and 'allReduce' in kinds and 'bcast' in kinds and 'allGather' in kinds
    assert ('allReduce', 4 + 1, FakeNccl.NCCL_FLOAT32, FakeNccl.NCCL_SUM) in nccl.calls   # 4 gradients + 1 flag


def test_device_arrays_are_staged_through_mpi_without_nccl(world, monkeypatch):
    use_fakes(monkeypatch, nccl=None)
    r, n = world.rank(), world.size()
    y = world.allreduce(device(np.full(3, float(r))), op=world.Sum)
    assert isinstance(y, DeviceArray) and core._world.nccl is None
    np.testing.assert_allclose(y.get(), n * (n - 1) / 2)


# --- fit on several ranks ---------------------------------------------------------------------------
def _small_cnn(synchronized, seed=3):
    """Conv -> BN -> ReLU -> pool -> Dense -> BN -> ReLU -> softmax. No biases before the BNs:
    their gradient is zero up to rounding, which Adam's normalised step would amplify."""
    minidl.seed(seed)
    layers.clear_session()
    return models.Sequential([
        layers.Input(shape=(6, 6, 2)),
        layers.Conv2D(4, 3, padding='same', use_bias=False), layers.BatchNormalization(synchronized=synchronized),
        layers.ReLU(), layers.MaxPooling2D(2), layers.Flatten(),
        layers.Dense(8, use_bias=False), layers.BatchNormalization(synchronized=synchronized), layers.ReLU(),
        layers.Dense(3, activation='softmax')])


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize('make_optimizer', [lambda: optimizers.SGD(0.05, momentum=0.9), lambda: optimizers.Adam(1e-2)],
                         ids=['sgd', 'adam'])
def test_two_ranks_at_batch_16_equal_one_process_at_batch_32(world, make_optimizer):
    """The issue's key test: rank r fits shard(x) at batch 16 without shuffling (its batch i is
    x[32i+r : 32i+32 : 2], the union of both being x[32i : 32i+32]) with synchronized
    BatchNorm; it ends with the weights of one process fitting x at batch 32, on both ranks,
    and rank 0's History (with MetricAverageCallback; validation on shards) is the process's."""
    if world.size() != 2:
        pytest.skip('written for two ranks (batch 16 each = 32)')
    x, y = _data(128, 0)
    val = _data(24, 1)
    single = _small_cnn(synchronized=False)
    single.compile(optimizer=make_optimizer(), loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    with pytest.warns(UserWarning, match='not a minidl.distributed.DistributedOptimizer'):
        expected = single.fit(x, y, batch_size=32, epochs=3, shuffle=False, validation_data=val, verbose=0)

    model = _small_cnn(synchronized=True)
    model.compile(optimizer=world.DistributedOptimizer(make_optimizer()), loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])
    history = model.fit(world.shard(x), world.shard(y), batch_size=16, epochs=3, shuffle=False, validation_data=val,
                        verbose=0, callbacks=[world.BroadcastGlobalVariablesCallback(0), world.MetricAverageCallback()])
    weights = model.get_weights()
    others = world.allgather_object(weights)
    for w, w_ref in zip(weights, single.get_weights()):
        np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-6)
    for w_other in others[1:]:
        for a, b in zip(others[0], w_other):
            np.testing.assert_array_equal(a, b)           # both ranks hold identical weights
    assert sorted(history.history) == sorted(expected.history)
    for key, values in expected.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-5, err_msg=key)


def _dense_model(seed):
    minidl.seed(seed)
    layers.clear_session()
    return models.Sequential([layers.Input(shape=(4,)), layers.Dense(5, activation='relu'), layers.Dense(2)])


def test_broadcast_callback_starts_every_rank_from_root(world):
    """Ranks that start from different weights end identical (weights, optimizer state and
    iteration count), and they started from rank 0's: with a zero learning rate the weights
    stay rank 0's."""
    r = world.rank()
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.standard_normal((32, 2)).astype(np.float32)
    frozen = _dense_model(seed=10 + r)
    root_start = world.broadcast_object(frozen.get_weights(), root_rank=0)
    frozen.compile(optimizer=world.DistributedOptimizer(optimizers.SGD(0.0)), loss='mse')
    frozen.fit(world.shard(x), world.shard(y), batch_size=4, epochs=1, verbose=0,
               callbacks=[world.BroadcastGlobalVariablesCallback(0)])
    for a, b in zip(frozen.get_weights(), root_start):
        np.testing.assert_array_equal(a, b)

    model = _dense_model(seed=20 + r)
    opt = world.DistributedOptimizer(optimizers.Adam(1e-3))
    model.compile(optimizer=opt, loss='mse')
    cb = world.BroadcastGlobalVariablesCallback(0)
    model.fit(world.shard(x), world.shard(y), batch_size=4, epochs=1, verbose=0, callbacks=[cb])
    assert cb.broadcast_done
    everyone = world.allgather_object((model.get_weights(), [np.array(a) for a in optimizer_arrays(opt)],
                                       opt.iterations))
    assert len(everyone[0][1]) == 10         # Keras 3's order: iteration, learning rate, two slots per weight
    for other in everyone[1:]:
        for a, b in zip(everyone[0][0] + everyone[0][1], other[0] + other[1]):
            np.testing.assert_array_equal(a, b)
        assert other[2] == everyone[0][2] == 4


def test_metric_average_callback_and_stopping_together(world):
    r, n = world.rank(), world.size()
    logs = {'loss': float(r), 'accuracy': 1.0 + r, 'note': 'kept'}
    world.MetricAverageCallback().on_epoch_end(0, logs)
    assert logs == {'loss': (n - 1) / 2, 'accuracy': 1.0 + (n - 1) / 2, 'note': 'kept'}

    class StopOnRank1(callbacks_module.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if world.rank() == 1:
                self.model.stop_training = True
    x, y = _data(16, 3)
    model = _small_cnn(synchronized=True)
    model.compile(optimizer=world.DistributedOptimizer(optimizers.SGD(0.01)), loss='sparse_categorical_crossentropy')
    history = model.fit(world.shard(x), world.shard(y), batch_size=4, epochs=4, verbose=0, callbacks=[StopOnRank1()])
    assert len(history.history['loss']) == 1      # rank 1 asked, every rank stopped after epoch 1


def test_ranks_with_different_numbers_of_steps_are_told_before_training(world):
    r = world.rank()
    x, y = _data(8 + 4 * r, 6)                           # 2 batches of 4 on rank 0, 3 on rank 1
    model = _small_cnn(synchronized=False)
    model.compile(optimizer=world.DistributedOptimizer('sgd'), loss='sparse_categorical_crossentropy')
    with pytest.raises(ValueError, match='different numbers of steps per epoch \\(rank 0: 2, rank 1: 3'):
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)


def test_only_rank_0_prints_progress_and_writes_checkpoints(world, tmp_path, capsys):
    r = world.rank()
    folder = world.broadcast_object(str(tmp_path), root_rank=0)   # one folder for both ranks
    x, y = _data(16, 4)
    model = _small_cnn(synchronized=False)
    model.compile(optimizer=world.DistributedOptimizer(optimizers.SGD(0.01)), loss='sparse_categorical_crossentropy')
    path = os.path.join(folder, f'rank{r}.weights.h5')
    csv_path = os.path.join(folder, f'rank{r}.csv')
    model.fit(world.shard(x), world.shard(y), batch_size=4, epochs=2, verbose=1,
              callbacks=[callbacks_module.ModelCheckpoint(path, save_weights_only=True),
                         callbacks_module.CSVLogger(csv_path)])
    printed = capsys.readouterr().out
    world.barrier()
    files = sorted(os.listdir(folder))
    if r == 0:
        assert 'loss' in printed and 'Epoch 2/2' in printed
    else:
        assert printed == ''
    assert files == ['rank0.csv', 'rank0.weights.h5']
    # Horovod's idiom, a checkpoint on rank 0 only: the callback lists differ between ranks
    extra = [callbacks_module.ModelCheckpoint(os.path.join(folder, 'root.weights.h5'), save_weights_only=True,
                                              save_freq=2)] if r == 0 else []
    model.fit(world.shard(x), world.shard(y), batch_size=4, epochs=1, verbose=0, callbacks=extra)
    world.barrier()
    assert 'root.weights.h5' in os.listdir(folder)


def test_prepare_fit_makes_a_single_process_call_data_parallel(world):
    r, n = world.rank(), world.size()
    x, y = _data(20 + n - 1, 5)                      # n - 1 samples too many for equal shards
    model = _small_cnn(synchronized=False)
    model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy')
    args, kwargs = world.prepare_fit(model, x, y, batch_size=4, epochs=1, steps_per_epoch=5)
    assert world.is_distributed_optimizer(model.optimizer)
    np.testing.assert_array_equal(args[0], x[:20][r::n])
    np.testing.assert_array_equal(args[1], y[:20][r::n])
    assert kwargs['steps_per_epoch'] == -(-5 // n)
    assert [type(cb).__name__ for cb in kwargs['callbacks']] == ['BroadcastGlobalVariablesCallback',
                                                                 'MetricAverageCallback']
