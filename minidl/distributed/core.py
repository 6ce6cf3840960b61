"""The world of ranks and its collectives: ``init``, ``rank``, ``size``, ``allreduce``, ...

One process per rank, launched by ``mpiexec -n N python script.py``. The ranks talk through MPI
(``mpi4py``, on NumPy arrays in host memory) and, for CuPy arrays on GPUs, through NCCL
(``cupy.cuda.nccl``, its unique id broadcast over MPI as ChainerMN did); without NCCL a CuPy array
is staged through host memory and MPI.

``import minidl`` never imports ``mpi4py``, and neither does ``init()`` when the process was not
started by an MPI launcher: it then forms a world of one rank, in which every collective returns
its input. The launcher is recognised by the environment variables it sets (``PMI_SIZE``/
``PMI_RANK`` of MPICH's Hydra and of Slurm's PMI2, ``OMPI_COMM_WORLD_SIZE`` of Open MPI,
``PMIX_RANK`` of PMIx launchers, ``MV2_COMM_WORLD_SIZE`` of MVAPICH); ``MINIDL_DISTRIBUTED=1``
forces MPI, ``MINIDL_DISTRIBUTED=0`` forbids it.
"""
import os
import sys
import traceback

import numpy as np

from .. import backend

# Environment variables that an MPI launcher sets in every process it starts, and those among
# them that hold the world size (a world of one needs no MPI).
_LAUNCHER_VARIABLES = ('PMI_SIZE', 'PMI_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_RANK', 'PMIX_RANK',
                       'MV2_COMM_WORLD_SIZE', 'MPI_LOCALNRANKS')
_SIZE_VARIABLES = ('PMI_SIZE', 'OMPI_COMM_WORLD_SIZE', 'MV2_COMM_WORLD_SIZE')


class _Op:
    """A reduction: Average, Sum, Min, Max or Product (Horovod's names)."""
    __slots__ = ('name',)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


Average, Sum, Min, Max, Product = (_Op(n) for n in ('Average', 'Sum', 'Min', 'Max', 'Product'))
_OPS = {op.name.lower(): op for op in (Average, Sum, Min, Max, Product)}


class _World:
    """Who we are among the ranks, and the communicators. Filled in by ``init()``."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.initialized = False
        self.comm = None            # mpi4py communicator, None in a world of one
        self.rank, self.size = 0, 1
        self.local_rank, self.local_size = 0, 1
        self.cross_rank, self.cross_size = 0, 1
        self.nccl = None            # NCCL communicator (created at the first collective on CuPy arrays)
        self.nccl_checked = False   # whether every rank agreed on using NCCL or staging


_world = _World()
_world_hook = {'installed': False}   # the abort hook outlives shutdown(): installed once


def launched_by_mpi(environ=None):
    """Whether this process was started by an MPI launcher in a world of more than one rank
    (``mpiexec -n 1`` needs no MPI). ``MINIDL_DISTRIBUTED=1``/``0`` overrides the guess."""
    environ = os.environ if environ is None else environ
    forced = environ.get('MINIDL_DISTRIBUTED', '').strip().lower()
    if forced in ('1', 'true', 'yes', 'mpi'):
        return True
    if forced in ('0', 'false', 'no', 'off'):
        return False
    if not any(v in environ for v in _LAUNCHER_VARIABLES):
        return False
    for v in _SIZE_VARIABLES:
        if v in environ:
            try:
                return int(environ[v]) > 1
            except ValueError:
                return True
    return True


def init(comm=None):
    """Join the world of ranks (idempotent; Horovod's ``hvd.init``).

    ``comm``: an ``mpi4py`` communicator to use instead of ``MPI.COMM_WORLD`` (then MPI is used
    whatever the environment says). Under an MPI launcher ``mpi4py`` is imported and an uncaught
    exception on any rank prints its traceback and aborts the whole job (``MPI_Abort``), so that
    the other ranks do not wait forever in a collective. Otherwise the world has one rank and
    nothing is imported. On the CuPy backend each rank takes GPU ``local_rank() % devices``:
    call ``init()`` after ``set_backend('cupy')`` (or with ``MINIDL_BACKEND=cupy``) and before
    creating arrays.
    """
    if _world.initialized:
        if comm is not None and comm is not _world.comm:
            raise RuntimeError('minidl.distributed.init: already initialized with another communicator; '
                               'call minidl.distributed.shutdown() first.')
        return
    if comm is None and not launched_by_mpi():
        _world.initialized = True
        return
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    _world.comm = comm
    _world.rank, _world.size = comm.Get_rank(), comm.Get_size()
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=_world.rank)
    _world.local_rank, _world.local_size = local.Get_rank(), local.Get_size()
    local.Free()
    cross = comm.Split(color=_world.local_rank, key=_world.rank)
    _world.cross_rank, _world.cross_size = cross.Get_rank(), cross.Get_size()
    cross.Free()
    _world.initialized = True
    _install_abort_hook()
    if backend.get_backend() == 'cupy':
        _select_gpu()


def shutdown():
    """Leave the world: forget the communicators (MPI itself is finalized at exit by mpi4py)."""
    _world.reset()


def is_initialized():
    return _world.initialized


def _require_init(what):
    if not _world.initialized:
        raise ValueError(f'minidl.distributed.{what}(): call minidl.distributed.init() first '
                         f'(the program may run under mpiexec -n N or as a single process).')


def rank():
    """This process's rank, 0 .. size() - 1."""
    _require_init('rank')
    return _world.rank


def size():
    """The number of ranks."""
    _require_init('size')
    return _world.size


def local_rank():
    """This process's rank among the ranks on the same machine (the GPU it should use)."""
    _require_init('local_rank')
    return _world.local_rank


def local_size():
    """The number of ranks on this machine."""
    _require_init('local_size')
    return _world.local_size


def cross_rank():
    """The index of this machine among the machines (ranks with the same local rank)."""
    _require_init('cross_rank')
    return _world.cross_rank


def cross_size():
    """The number of machines (more exactly: of ranks with this local rank)."""
    _require_init('cross_size')
    return _world.cross_size


def is_root(root_rank=0):
    """Whether this process is ``root_rank`` (True in a world of one, and before ``init()``)."""
    return _world.rank == root_rank


def active():
    """Whether ``init()`` has joined a world of more than one rank (what fit and
    BatchNormalization(synchronized=True) ask; never imports MPI)."""
    return _world.initialized and _world.size > 1


def mpi_enabled():
    """Whether the ranks talk through MPI (False in a world of one)."""
    return _world.comm is not None


def nccl_built():
    """Whether CuPy's NCCL bindings are importable here (CuPy arrays are then reduced by NCCL
    when every machine has a GPU per rank; otherwise they are staged through MPI)."""
    return _nccl_module() is not None


def mpi_communicator():
    """The ``mpi4py`` communicator (None in a world of one)."""
    _require_init('mpi_communicator')
    return _world.comm


def shard(array):
    """This rank's part of ``array``: ``array[rank::size]`` (every size-th sample, starting at
    this rank's), as Horovod's examples split the data. A list or tuple of arrays (several model
    inputs) is sharded array by array; None stays None."""
    _require_init('shard')
    if array is None:
        return None
    if isinstance(array, (list, tuple)):
        return type(array)(shard(a) for a in array)
    return array[_world.rank::_world.size]


# --- the abort path -------------------------------------------------------------------------
def _install_abort_hook():
    """An uncaught exception on one rank prints its traceback and aborts every rank (the
    others would otherwise wait forever in their next collective); what ``python -m mpi4py``
    does, installed by ``init()`` so that ``mpiexec -n N python script.py`` is safe too."""
    if _world_hook['installed']:
        return
    previous = sys.excepthook

    def abort_on_uncaught_exception(kind, value, tb):
        try:
            sys.stderr.write(f'minidl.distributed: rank {_world.rank} of {_world.size} failed:\n')
            (previous if previous is not None else traceback.print_exception)(kind, value, tb)
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # a closed stream must not stop the abort
                    pass
            if _world.comm is not None and _world.size > 1:
                _world.comm.Abort(1)

    sys.excepthook = abort_on_uncaught_exception
    _world_hook['installed'] = True


# --- MPI and NCCL ------------------------------------------------------------------------------
def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(f'minidl.distributed needs mpi4py under an MPI launcher ({exc}); install the '
                          f'extra: pip install "minidl[distributed]" (mpi4py and the mpich runtime), or run '
                          f'without mpiexec (or with MINIDL_DISTRIBUTED=0) for a single process.') from None
    return MPI


def _mpi_op(op):
    MPI = _import_mpi()
    return {Average: MPI.SUM, Sum: MPI.SUM, Min: MPI.MIN, Max: MPI.MAX, Product: MPI.PROD}[op]


def _is_device(a):
    """Whether ``a`` lives on a GPU (a CuPy array)."""
    return backend.is_cupy(a)


def _device_to_host(a):
    return a.get()


def _host_to_device(host, out):
    out.set(host)


def _select_gpu():
    import cupy
    count = cupy.cuda.runtime.getDeviceCount()
    if count:
        cupy.cuda.Device(_world.local_rank % count).use()


def _nccl_module():
    """``cupy.cuda.nccl`` when it is usable (NCCL present in this CuPy build), else None."""
    try:
        from cupy.cuda import nccl
    except Exception:
        return None
    return nccl if getattr(nccl, 'available', True) else None


def _device_count():
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


def _nccl():
    """The NCCL communicator, or None when the ranks stage CuPy arrays through MPI instead.

    Collective: called by every rank at its first collective on a CuPy array. All ranks agree
    (one MPI all-reduce of their votes) so that none waits in NCCL while another uses MPI. NCCL
    needs one GPU per rank on each machine; ``MINIDL_NCCL=0`` asks for staging."""
    if _world.nccl_checked:
        return _world.nccl
    nccl = _nccl_module() if os.environ.get('MINIDL_NCCL', '1') != '0' else None
    ok = nccl is not None
    if ok:
        try:
            ok = _device_count() >= _world.local_size
        except Exception:
            ok = False
    ok = bool(_world.comm.allreduce(int(ok), op=_import_mpi().MIN))
    if ok:
        from .nccl import NcclCommunicator
        _world.nccl = NcclCommunicator(nccl, _world.comm, _world.rank, _world.size)
    _world.nccl_checked = True
    return _world.nccl


# --- buffer collectives (in place, on contiguous 1-D arrays) ------------------------------------
def _allreduce_buffer(buf, op=Sum):
    """Reduce the contiguous array ``buf`` over all ranks, in place (Average divides by size)."""
    if _world.size == 1:
        return buf
    if _is_device(buf):
        nccl = _nccl()
        if nccl is not None:
            nccl.allreduce(buf, op)
        else:
            host = np.ascontiguousarray(_device_to_host(buf))
            _world.comm.Allreduce(_import_mpi().IN_PLACE, host, op=_mpi_op(op))
            _host_to_device(host, buf)
    else:
        _world.comm.Allreduce(_import_mpi().IN_PLACE, buf, op=_mpi_op(op))
    if op is Average:
        buf /= _world.size
    return buf


def _broadcast_buffer(buf, root_rank=0):
    """Overwrite the contiguous array ``buf`` with ``root_rank``'s, in place."""
    if _world.size == 1:
        return buf
    if _is_device(buf):
        nccl = _nccl()
        if nccl is not None:
            nccl.broadcast(buf, root_rank)
        else:
            host = np.ascontiguousarray(_device_to_host(buf))
            _world.comm.Bcast(host, root=root_rank)
            _host_to_device(host, buf)
    else:
        _world.comm.Bcast(buf, root=root_rank)
    return buf


# --- the public collectives ---------------------------------------------------------------------
def _resolve_op(op, average, what):
    if op is not None and average is not None:
        raise ValueError(f'minidl.distributed.{what}: give op= or average=, not both.')
    if op is None:
        return Average if average is None or average else Sum
    if isinstance(op, str):
        found = _OPS.get(op.lower())
        if found is None:
            raise ValueError(f'minidl.distributed.{what}: unknown op {op!r}; use one of Average, Sum, Min, Max, '
                             f'Product.')
        return found
    if op not in _OPS.values():
        raise ValueError(f'minidl.distributed.{what}: unknown op {op!r}; use one of minidl.distributed.Average, '
                         f'Sum, Min, Max, Product.')
    return op


def _as_array(value, what):
    """An array from a NumPy/CuPy array or a Python number (Tensors are handled by the caller)."""
    if _is_device(value) or isinstance(value, np.ndarray):
        return value
    if isinstance(value, (int, float, bool, np.generic, list, tuple)):
        return np.asarray(value)
    raise TypeError(f'minidl.distributed.{what}: expected a NumPy or CuPy array, a Tensor or a number, got '
                    f'{type(value).__name__}.')


def _xp(a):
    return backend.get_array_module(a)


def _contiguous_copy(a):
    out = _xp(a).empty(a.shape, a.dtype)
    out[...] = a
    return out.reshape(-1)


def _check_same_layout(what, shape, dtype, extra=''):
    """Every rank must pass arrays of one shape and dtype; say which rank differs if not."""
    if _world.size == 1:
        return
    mine = (tuple(int(n) for n in shape), np.dtype(dtype).str)
    layouts = _world.comm.allgather(mine)
    if any(lay != layouts[0] for lay in layouts):
        described = ', '.join(f'rank {r}: shape {s} dtype {np.dtype(d).name}' for r, (s, d) in enumerate(layouts))
        raise ValueError(f'minidl.distributed.{what}: the ranks passed arrays of different shapes or dtypes '
                         f'({described}){extra}.')


def allreduce(value, average=None, name=None, op=None, prescale_factor=1.0, postscale_factor=1.0):
    """The reduction of ``value`` over all ranks (Horovod's ``hvd.allreduce``): the average by
    default, or ``op=Sum``/``Min``/``Max``/``Product``. ``value`` is a NumPy or CuPy array, a
    number, or a Tensor (the result is then a Tensor whose gradient is the all-reduce of the
    incoming gradient). Every rank passes the same shape; a new array is returned.
    ``prescale_factor``/``postscale_factor`` multiply the value before and after the sum."""
    from ..autograd import Tensor
    op = _resolve_op(op, average, 'allreduce')
    _require_init('allreduce')
    if isinstance(value, Tensor):
        from .functions import AllReduce
        return AllReduce(op, prescale_factor, postscale_factor)(value)
    return _allreduce_array(_as_array(value, 'allreduce'), op, prescale_factor, postscale_factor)


def _allreduce_array(a, op, prescale_factor=1.0, postscale_factor=1.0):
    if op is Average and a.dtype.kind not in 'fc':
        raise TypeError(f'minidl.distributed.allreduce: the average of {a.dtype} values is not {a.dtype}; cast to '
                        f'a float type first, or use op=minidl.distributed.Sum.')
    _check_same_layout('allreduce', a.shape, a.dtype)
    buf = _contiguous_copy(a)
    if prescale_factor != 1.0:
        buf *= prescale_factor
    _allreduce_buffer(buf, op)
    if postscale_factor != 1.0:
        buf *= postscale_factor
    return buf.reshape(a.shape)


def broadcast(value, root_rank=0, name=None):
    """``root_rank``'s ``value`` on every rank (Horovod's ``hvd.broadcast``): arrays of one shape
    and dtype on every rank, numbers or Tensors (the gradient flows back to the root). Returns
    a new array."""
    from ..autograd import Tensor
    _require_init('broadcast')
    _check_root(root_rank, 'broadcast')
    if isinstance(value, Tensor):
        from .functions import Broadcast
        return Broadcast(root_rank)(value)
    a = _as_array(value, 'broadcast')
    _check_same_layout('broadcast', a.shape, a.dtype)
    return _broadcast_buffer(_contiguous_copy(a), root_rank).reshape(a.shape)


def allgather(value, name=None):
    """The arrays of all ranks concatenated along the first axis, in rank order (Horovod's
    ``hvd.allgather``). The first dimension may differ between ranks, the others may not.
    Tensors give a Tensor whose gradient is this rank's slice of the summed gradient."""
    from ..autograd import Tensor
    _require_init('allgather')
    if isinstance(value, Tensor):
        from .functions import AllGather
        return AllGather()(value)
    return _allgather_array(_as_array(value, 'allgather'))[0]


def _allgather_array(a):
    """(concatenation, first-axis sizes of every rank)."""
    if a.ndim == 0:
        a = a.reshape(1)
    if _world.size == 1:
        return _contiguous_copy(a).reshape(a.shape), [a.shape[0]]
    layouts = _world.comm.allgather((tuple(int(n) for n in a.shape), a.dtype.str))
    if any(s[1:] != layouts[0][0][1:] or d != layouts[0][1] for s, d in layouts):
        described = ', '.join(f'rank {r}: shape {s} dtype {np.dtype(d).name}' for r, (s, d) in enumerate(layouts))
        raise ValueError(f'minidl.distributed.allgather: all ranks must pass arrays of one dtype whose shapes '
                         f'differ in the first axis only ({described}).')
    sizes = [s[0] for s, _ in layouts]
    row = int(np.prod(a.shape[1:], dtype=np.int64))
    counts = [n * row for n in sizes]
    total_shape = (sum(sizes),) + tuple(a.shape[1:])
    send = _contiguous_copy(a)
    if _is_device(a) and len(set(counts)) == 1 and _nccl() is not None:
        out = _xp(a).empty(sum(counts), a.dtype)
        _world.nccl.allgather(send, out)
        return out.reshape(total_shape), sizes
    host_send = np.ascontiguousarray(_device_to_host(send)) if _is_device(a) else send
    host_out = np.empty(sum(counts), a.dtype)
    _world.comm.Allgatherv(host_send, [host_out, counts])
    if _is_device(a):
        out = _xp(a).empty(sum(counts), a.dtype)
        _host_to_device(host_out, out)
        return out.reshape(total_shape), sizes
    return host_out.reshape(total_shape), sizes


def broadcast_object(obj, root_rank=0, name=None):
    """Any picklable Python object of ``root_rank`` on every rank."""
    _require_init('broadcast_object')
    _check_root(root_rank, 'broadcast_object')
    if _world.size == 1:
        return obj
    return _world.comm.bcast(obj, root=root_rank)


def allgather_object(obj, name=None):
    """The list of every rank's picklable ``obj``, in rank order."""
    _require_init('allgather_object')
    if _world.size == 1:
        return [obj]
    return _world.comm.allgather(obj)


def barrier():
    """Wait until every rank has arrived here."""
    _require_init('barrier')
    if _world.size > 1:
        _world.comm.Barrier()


def _check_root(root_rank, what):
    if not 0 <= int(root_rank) < _world.size:
        raise ValueError(f'minidl.distributed.{what}: root_rank={root_rank} is not a rank of this world of '
                         f'{_world.size} (0 .. {_world.size - 1}).')


# --- fused collectives on many arrays ------------------------------------------------------------
def _groups(arrays):
    """Indices of ``arrays`` grouped by (device, dtype), in first-seen order: one buffer each."""
    groups = {}
    for i, a in enumerate(arrays):
        groups.setdefault((_is_device(a), a.dtype.str), []).append(i)
    return list(groups.values())


def broadcast_arrays(arrays, root_rank=0, what='broadcast_variables'):
    """Overwrite every array of the list with ``root_rank``'s, in place, through one buffer per
    (device, dtype). Every rank passes arrays of the same shapes and dtypes in the same order."""
    _require_init(what)
    _check_root(root_rank, what)
    if _world.size == 1 or not arrays:
        return arrays
    layout = [(tuple(int(n) for n in a.shape), a.dtype.str) for a in arrays]
    for r, other in enumerate(_world.comm.allgather(layout)):   # every rank raises, not only the odd one
        if other != layout:
            ours, theirs = len(layout), len(other)
            first = next((i for i, (a, b) in enumerate(zip(layout, other)) if a != b), min(ours, theirs))
            detail = (f'{theirs} arrays on rank {r}, {ours} on rank {_world.rank}' if ours != theirs else
                      f'array {first}: shape {other[first][0]} {np.dtype(other[first][1]).name} on rank {r}, '
                      f'{layout[first][0]} {np.dtype(layout[first][1]).name} on rank {_world.rank}')
            raise ValueError(f'minidl.distributed.{what}: the ranks hold different arrays ({detail}); every rank '
                             f'must build the same model and optimizer.')
    for group in _groups(arrays):
        members = [arrays[i] for i in group]
        sizes = [a.size for a in members]
        buf = _xp(members[0]).empty(sum(sizes), members[0].dtype)
        if _world.rank == root_rank:
            _pack(buf, members)
        _broadcast_buffer(buf, root_rank)
        offset = 0
        for a, n in zip(members, sizes):
            a[...] = buf[offset:offset + n].reshape(a.shape)
            offset += n
    return arrays


def _pack(buf, arrays):
    offset = 0
    for a in arrays:
        buf[offset:offset + a.size] = a.reshape(-1)
        offset += a.size
    return buf
