"""Data-parallel training over MPI (CPUs) and NCCL (GPUs), with Horovod's Keras API.

    import minidl
    from minidl import distributed as hvd

    hvd.init()                                            # a world of one without mpiexec
    x, y = hvd.shard(x_train), hvd.shard(y_train)         # x[rank::size]
    opt = hvd.DistributedOptimizer(minidl.optimizers.Adam(1e-3))
    model.compile(optimizer=opt, loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    model.fit(x, y, batch_size=64, epochs=10,             # 64 per rank and step
              callbacks=[hvd.BroadcastGlobalVariablesCallback(0), hvd.MetricAverageCallback()])

and run it with ``mpiexec -n 4 python train.py`` (``pip install "minidl[distributed]"`` brings
``mpi4py`` and the ``mpich`` runtime). Every rank runs the whole program on its share of the data;
before each update the gradients are averaged over the ranks, so the ranks keep identical
weights, as one process would with the global batch ``size() * batch_size``.

- ``init()``, ``rank()``, ``size()``, ``local_rank()``, ``local_size()``, ``shard(array)``;
- ``allreduce``/``broadcast``/``allgather`` (and ``*_object``, ``barrier``) on NumPy arrays,
  CuPy arrays and Tensors (differentiable);
- ``DistributedOptimizer``, ``BroadcastGlobalVariablesCallback``, ``MetricAverageCallback``;
- ``layers.BatchNormalization(synchronized=True)``: statistics of the global batch
  (``sync_batch_norm``);
- ``fit`` on several ranks prints and checkpoints on rank 0 only and validates on shards
  (``training``); ``prepare_fit`` makes a single-process fit call data-parallel.

Importing this package, or ``init()`` outside an MPI launcher, never imports ``mpi4py``.
An uncaught exception on a rank after ``init()`` aborts the whole job with its traceback.
"""
from .core import (Average, Sum, Min, Max, Product, init, shutdown, is_initialized, rank, size,  # noqa: F401
                   local_rank, local_size, cross_rank, cross_size, is_root, active, launched_by_mpi,
                   mpi_communicator, mpi_enabled, nccl_built, shard, allreduce, broadcast, allgather, broadcast_object,
                   allgather_object, barrier)
from .optimizer import DistributedOptimizer, is_distributed_optimizer  # noqa: F401
from .callbacks import (BroadcastGlobalVariablesCallback, MetricAverageCallback,  # noqa: F401
                        broadcast_variables, broadcast_model)
from .batch_norm import SyncBatchNorm, sync_batch_norm  # noqa: F401
from .training import ROOT_ONLY_CALLBACKS, fit_session, prepare_fit, silence_non_root  # noqa: F401
