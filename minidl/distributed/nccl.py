"""Collectives on CuPy arrays through NCCL (``cupy.cuda.nccl``), one GPU per rank.

The communicator is made as ChainerMN made it: rank 0 asks NCCL for a unique id, MPI broadcasts
it, and every rank joins with ``NcclCommunicator(size, id, rank)``. Every call runs on CuPy's
current stream, so it is ordered after the kernels that computed its buffer.

Not yet run on GPUs: the machines this was written on have none. The tests drive this module
with a stand-in for ``cupy.cuda.nccl`` whose communicator sums host buffers over MPI
(``tests/distributed/test_distributed_mpi.py``); the NCCL calls themselves are checked when a
machine with two or more GPUs is lent.
"""
import numpy as np

from .core import Average, Max, Min, Product, Sum

_DTYPES = {'float16': 'NCCL_FLOAT16', 'float32': 'NCCL_FLOAT32', 'float64': 'NCCL_FLOAT64',
           'int32': 'NCCL_INT32', 'int64': 'NCCL_INT64', 'uint8': 'NCCL_UINT8', 'int8': 'NCCL_INT8'}
_OPS = {Sum: 'NCCL_SUM', Average: 'NCCL_SUM', Product: 'NCCL_PROD', Min: 'NCCL_MIN', Max: 'NCCL_MAX'}


class NcclCommunicator:
    """One NCCL communicator over the ranks of ``comm`` (an mpi4py communicator)."""

    def __init__(self, nccl, comm, rank, size):
        self.nccl = nccl
        unique_id = nccl.get_unique_id() if rank == 0 else None
        unique_id = comm.bcast(unique_id, root=0)
        self.comm = nccl.NcclCommunicator(size, unique_id, rank)
        self.size = size

    def _dtype(self, a):
        name = _DTYPES.get(np.dtype(a.dtype).name)
        if name is None:
            raise TypeError(f'minidl.distributed: NCCL cannot reduce {a.dtype} arrays; cast to float32.')
        return getattr(self.nccl, name)

    @staticmethod
    def _stream():
        import cupy
        return cupy.cuda.get_current_stream().ptr

    def allreduce(self, buf, op):
        """In place on the contiguous CuPy array ``buf`` (Average: the sum; the caller divides)."""
        ptr = buf.data.ptr
        self.comm.allReduce(ptr, ptr, buf.size, self._dtype(buf), getattr(self.nccl, _OPS[op]), self._stream())

    def broadcast(self, buf, root):
        self.comm.bcast(buf.data.ptr, buf.size, self._dtype(buf), root, self._stream())

    def allgather(self, send, out):
        """``out`` (size * send.size elements) = every rank's ``send`` in rank order."""
        self.comm.allGather(send.data.ptr, out.data.ptr, send.size, self._dtype(send), self._stream())
