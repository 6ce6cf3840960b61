"""``DistributedOptimizer``: gradients averaged over the ranks before every update.

    opt = minidl.distributed.DistributedOptimizer(minidl.optimizers.Adam(1e-3))
    model.compile(optimizer=opt, loss=..., metrics=[...])

Each step packs every gradient into one flat buffer per (device, dtype) -- normally a single
buffer, reused from step to step -- reduces it with one all-reduce (NCCL on CuPy arrays, MPI on
NumPy ones, CuPy arrays staged through host memory when NCCL is absent), and hands views of it
to the wrapped optimizer. A gradient that is None on some ranks counts as zero there; one that
is None on every rank is skipped, as a single process skips it.
"""
import time

import numpy as np

from ..autograd import Tensor
from . import core
from .core import Average, Sum


class _State:
    """What the distributed wrapper adds to an optimizer (kept in one attribute)."""

    def __init__(self, name, op, gradient_predivide_factor, backward_passes_per_step,
                 average_aggregated_gradients):
        self.name = name
        self.op = op
        self.predivide = float(gradient_predivide_factor)
        self.passes = int(backward_passes_per_step)
        self.average_aggregated = bool(average_aggregated_gradients)
        self.pending = 0            # backward passes accumulated since the last update
        self.inside = False         # inside the wrapped apply: do not reduce twice
        self.layout = None          # the gradient layout checked against every rank
        self.buffers = {}           # group index -> flat buffer
        self.allreduce_seconds = 0.0
        self.allreduce_calls = 0
        self.allreduce_bytes = 0

    def reduce(self, pairs):
        """The averaged ``(gradient, variable)`` pairs, or None while gradients accumulate."""
        grads = [g.data if isinstance(g, Tensor) else g for g, _ in pairs]
        variables = [v for _, v in pairs]
        like = [g if g is not None else _array_of(v) for g, v in zip(grads, variables)]
        for g, v in zip(grads, variables):
            if g is not None and tuple(g.shape) != tuple(_array_of(v).shape):
                raise ValueError(f'DistributedOptimizer: gradient of shape {tuple(g.shape)} for variable '
                                 f'{_variable_name(v)} of shape {tuple(_array_of(v).shape)}.')
        layout = tuple((tuple(a.shape), a.dtype.str, core._is_device(a)) for a in like)
        if layout != self.layout:
            self._check_layout(layout, variables)
            self.layout, self.buffers, self.pending = layout, {}, 0
        groups = core._groups(like)
        first = self.pending == 0
        if first:
            self.present = [np.zeros(len(group)) for group in groups]   # on the host: no device syncs
        for k, group in enumerate(groups):
            total = sum(like[i].size for i in group)
            buf = self.buffers.get(k)
            if buf is None:
                buf = self.buffers[k] = core._xp(like[group[0]]).empty(total + len(group), like[group[0]].dtype)
            offset = 0
            for j, i in enumerate(group):
                n = like[i].size
                part = buf[offset:offset + n]
                if grads[i] is not None:
                    if first:
                        part[...] = grads[i].reshape(-1)
                    else:
                        part += grads[i].reshape(-1)
                    self.present[k][j] += 1
                elif first:
                    part[...] = 0
                offset += n
        self.pending += 1
        if self.pending < self.passes:
            return None
        self.pending = 0
        size = core._world.size
        reduced = [None] * len(pairs)
        for k, group in enumerate(groups):
            buf = self.buffers[k]
            total = buf.size - len(group)
            if self.predivide != 1.0:
                buf[:total] /= self.predivide
            # The tail of the buffer counts, per variable, the ranks (and passes) that had a gradient.
            if core._is_device(buf):
                core._host_to_device(self.present[k].astype(buf.dtype), buf[total:])
            else:
                buf[total:] = self.present[k]
            start = time.perf_counter()
            core._allreduce_buffer(buf, Sum)
            self.allreduce_seconds += time.perf_counter() - start
            self.allreduce_calls += 1
            self.allreduce_bytes += buf.nbytes
            divisor = (size if self.op is Average else 1) * (self.passes if self.average_aggregated else 1)
            factor = self.predivide / divisor
            if factor != 1.0:
                if self.predivide == 1.0:
                    buf[:total] /= divisor      # exact for a power-of-two world, as one process
                else:
                    buf[:total] *= factor
            present = buf[total:]
            present = core._device_to_host(present) if core._is_device(present) else present
            offset = 0
            for j, i in enumerate(group):
                n = like[i].size
                if present[j] > 0:
                    reduced[i] = buf[offset:offset + n].reshape(like[i].shape)
                offset += n
        return list(zip(reduced, variables))

    def _check_layout(self, layout, variables):
        if core._world.size == 1:
            return
        layouts = core._world.comm.allgather(layout)
        for r, other in enumerate(layouts):
            if other != layout:
                if len(other) != len(layout):
                    detail = f'rank {r} has {len(other)} gradients, rank {core._world.rank} has {len(layout)}'
                else:
                    i = next(i for i, (a, b) in enumerate(zip(other, layout)) if a != b)
                    detail = (f'gradient {i} ({_variable_name(variables[i])}) has shape {other[i][0]} on rank {r} '
                              f'and {layout[i][0]} on rank {core._world.rank}')
                raise ValueError(f'DistributedOptimizer: the ranks disagree on the gradients to average ({detail}); '
                                 f'every rank must build the same model and pass all its trainable weights.')


def _array_of(v):
    return v.data if isinstance(v, Tensor) else v


def _variable_name(v):
    return repr(getattr(v, 'path', None) or getattr(v, 'name', None) or 'unnamed')


class _DistributedMixin:
    """Overrides ``apply_gradients`` (and Keras 3's ``apply``) of the wrapped optimizer class."""

    def apply_gradients(self, grads_and_vars, *args, **kwargs):
        state = self._distributed
        if state.inside:
            return super().apply_gradients(grads_and_vars, *args, **kwargs)
        pairs = list(grads_and_vars)
        if core._world.size == 1 and state.passes == 1:
            return super().apply_gradients(pairs, *args, **kwargs)
        reduced = state.reduce(pairs)
        if reduced is None:
            return self.iterations
        state.inside = True
        try:
            return super().apply_gradients(reduced, *args, **kwargs)
        finally:
            state.inside = False

    @property
    def allreduce_seconds(self):
        """Wall-clock seconds spent in the gradients' all-reduce so far (waiting included)."""
        return self._distributed.allreduce_seconds


def _apply(self, grads, trainable_variables=None, *args, **kwargs):
    """Keras 3's ``apply(grads, trainable_variables)``, averaged like ``apply_gradients``."""
    state = self._distributed
    if state.inside or trainable_variables is None:
        return super(type(self), self).apply(grads, trainable_variables, *args, **kwargs)
    pairs = list(zip(grads, trainable_variables))
    if core._world.size == 1 and state.passes == 1:
        return super(type(self), self).apply(grads, trainable_variables, *args, **kwargs)
    reduced = state.reduce(pairs)
    if reduced is None:
        return None
    state.inside = True
    try:
        return super(type(self), self).apply([g for g, _ in reduced], [v for _, v in reduced], *args, **kwargs)
    finally:
        state.inside = False


_classes = {}


def _distributed_class(base):
    cls = _classes.get(base)
    if cls is None:
        attrs = {'__module__': base.__module__, '__qualname__': base.__qualname__, '__doc__': base.__doc__}
        if callable(getattr(base, 'apply', None)):
            attrs['apply'] = _apply
        from ..saving import serialization_lib
        public = serialization_lib.public_name(base)
        if public is not None:
            attrs['_keras_module'] = public[0]   # saved as the wrapped optimizer, as Horovod's are
        cls = _classes[base] = type(base.__name__, (_DistributedMixin, base), attrs)
    return cls


def DistributedOptimizer(optimizer, name=None, op=Average, gradient_predivide_factor=1.0,
                         backward_passes_per_step=1, average_aggregated_gradients=False):
    """Wrap ``optimizer`` (an object or a name such as 'adam') so that every update uses the
    gradients averaged over all ranks (Horovod's ``hvd.DistributedOptimizer``).

    The result is an instance of the optimizer's own class that shares its state: reading or
    setting ``learning_rate``, ``iterations`` or any other attribute on either object is the
    same. ``op``: ``Average`` (default) or ``Sum``. ``gradient_predivide_factor`` f divides the
    gradients by f before the sum and by size/f after it. ``backward_passes_per_step`` k sums
    the gradients of k calls locally and reduces and applies them on the k-th (the calls before
    it change nothing); ``average_aggregated_gradients`` divides that sum by k.
    With one rank and k = 1 it is the wrapped optimizer.
    """
    from .. import optimizers
    if isinstance(optimizer, _DistributedMixin):
        raise ValueError('DistributedOptimizer: this optimizer is already distributed; wrap the plain optimizer '
                         'once.')
    optimizer = optimizers.get(optimizer)
    if op not in (Average, Sum):
        raise ValueError(f'DistributedOptimizer: op must be minidl.distributed.Average or Sum, got {op!r}.')
    if not gradient_predivide_factor > 0:
        raise ValueError(f'DistributedOptimizer: gradient_predivide_factor must be > 0, got '
                         f'{gradient_predivide_factor!r}.')
    if gradient_predivide_factor != 1.0 and op is not Average:
        raise ValueError('DistributedOptimizer: gradient_predivide_factor needs op=Average.')
    if int(backward_passes_per_step) < 1:
        raise ValueError(f'DistributedOptimizer: backward_passes_per_step must be >= 1, got '
                         f'{backward_passes_per_step!r}.')
    core._require_init('DistributedOptimizer')
    cls = _distributed_class(type(optimizer))
    if not hasattr(optimizer, '__dict__'):
        raise TypeError(f'DistributedOptimizer: cannot wrap {type(optimizer).__name__}, whose instances have no '
                        f'__dict__ (__slots__ only).')
    wrapped = object.__new__(cls)
    wrapped.__dict__ = optimizer.__dict__   # one optimizer seen through two classes: the state is shared
    state = _State(name or f'Distributed{type(optimizer).__name__}', op, gradient_predivide_factor,
                   backward_passes_per_step, average_aggregated_gradients)
    object.__setattr__(wrapped, '_distributed', state)
    return wrapped


def is_distributed_optimizer(optimizer):
    return isinstance(optimizer, _DistributedMixin)
