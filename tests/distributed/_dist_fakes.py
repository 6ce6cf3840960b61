"""Stand-ins for CuPy arrays and ``cupy.cuda.nccl``, to drive the GPU code paths of
minidl.distributed on a machine without GPUs.

``DeviceArray`` is NumPy memory that the distributed code must treat as device memory: it is
recognised as a device array, reaches the host only through ``.get()``/``.set()`` (as a CuPy
array does) and exposes ``.data.ptr``. ``FakeNccl`` has the part of ``cupy.cuda.nccl`` that
minidl calls; its communicator does the reductions on host copies over MPI, so a "NCCL"
all-reduce here is really the CPU staging path, with NCCL's calling conventions checked
(pointers, counts, datatypes, the unique id broadcast over MPI). These are not GPUs: the real
NCCL calls run only where a machine with two or more GPUs is lent.
"""
import types

import numpy as np

_registry = {}   # data pointer -> the DeviceArray that owns the memory


class DeviceArray(np.ndarray):
    def get(self):
        return np.array(self.view(np.ndarray), copy=True)

    def set(self, host):
        np.copyto(self.view(np.ndarray), np.asarray(host).reshape(self.shape))

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.__array_interface__['data'][0])


def device(a):
    """A DeviceArray copy of ``a``."""
    out = empty(np.shape(a), np.asarray(a).dtype)
    out[...] = a
    return out


def empty(shape, dtype):
    out = np.empty(shape, dtype).view(DeviceArray)
    _registry[out.__array_interface__['data'][0]] = out
    return out


fake_xp = types.SimpleNamespace(empty=empty, sqrt=np.sqrt)   # what the distributed code asks of CuPy


class FakeNccl:
    """The part of ``cupy.cuda.nccl`` that minidl.distributed.nccl calls."""
    available = True
    NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64, NCCL_INT32, NCCL_INT64, NCCL_UINT8, NCCL_INT8 = range(7)
    NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = range(4)

    def __init__(self, comm):
        self.mpi_comm = comm
        self.calls = []
        outer = self

        class NcclCommunicator:
            def __init__(self, ndev, unique_id, rank):
                outer.calls.append(('init', ndev, unique_id, rank))

            def allReduce(self, send, recv, count, datatype, op, stream):
                from mpi4py import MPI
                outer.calls.append(('allReduce', count, datatype, op))
                assert send == recv, 'minidl reduces in place'
                buf = _registry[send]
                assert buf.size == count
                host = buf.get()
                mpi_op = {outer.NCCL_SUM: MPI.SUM, outer.NCCL_PROD: MPI.PROD, outer.NCCL_MAX: MPI.MAX,
                          outer.NCCL_MIN: MPI.MIN}[op]
                outer.mpi_comm.Allreduce(MPI.IN_PLACE, host, op=mpi_op)
                buf.set(host)

            def bcast(self, ptr, count, datatype, root, stream):
                outer.calls.append(('bcast', count, datatype, root))
                buf = _registry[ptr]
                host = buf.get()
                outer.mpi_comm.Bcast(host, root=root)
                buf.set(host)

            def allGather(self, send, recv, count, datatype, stream):
                outer.calls.append(('allGather', count, datatype))
                out = _registry[recv]
                gathered = np.empty(out.size, out.dtype)
                outer.mpi_comm.Allgather(_registry[send].get(), gathered)
                out.set(gathered)

        self.NcclCommunicator = NcclCommunicator

    def get_unique_id(self):
        return b'fake-nccl-id'


def use_fakes(monkeypatch, nccl=None):
    """Make minidl.distributed see DeviceArrays as CuPy arrays, and ``nccl`` (a FakeNccl, or
    None for the staging path) as cupy.cuda.nccl."""
    from minidl.distributed import core
    from minidl.distributed import nccl as nccl_module
    monkeypatch.setattr(core, '_is_device', lambda a: isinstance(a, DeviceArray))
    plain = core._xp
    monkeypatch.setattr(core, '_xp', lambda a: fake_xp if isinstance(a, DeviceArray) else plain(a))
    monkeypatch.setattr(core, '_device_to_host', lambda a: a.get())
    monkeypatch.setattr(core, '_host_to_device', lambda host, out: out.set(host))
    monkeypatch.setattr(core, '_nccl_module', lambda: nccl)
    monkeypatch.setattr(core, '_device_count', lambda: core._world.local_size)
    monkeypatch.setattr(nccl_module.NcclCommunicator, '_stream', staticmethod(lambda: 0))
    monkeypatch.setattr(core._world, 'nccl', None)
    monkeypatch.setattr(core._world, 'nccl_checked', False)
