"""What ``Model.fit`` does differently on several ranks, and ``prepare_fit`` for scripts.

``fit`` asks ``fit_session(model)`` (through ``sys.modules``, so a program that never imported
``minidl.distributed`` pays nothing) and, in a world of more than one rank:

- every rank trains on the data it is given, ``batch_size`` samples per rank and step (as in
  Horovod: the global batch is size() * batch_size);
- only rank 0 prints progress, and only rank 0 keeps the callbacks that write files
  (``ROOT_ONLY_CALLBACKS``: checkpoints, CSV logs, TensorBoard);
- Horovod's ``BroadcastGlobalVariablesCallback`` and ``MetricAverageCallback`` run before the
  other callbacks, and the ranks agree on ``stop_training`` so that they stop together;
- with a ``DistributedOptimizer``, ``validation_data`` (arrays) is split into shards, each rank
  evaluates its own, and the validation metrics are averaged weighted by shard size: the values
  of the whole validation set, on every rank.
"""
import math
import warnings

import numpy as np

from . import core
from .callbacks import BroadcastGlobalVariablesCallback, MetricAverageCallback, _Lockstep, average_logs
from .optimizer import DistributedOptimizer, is_distributed_optimizer

# Callbacks kept on rank 0 only (matched by class name, so that optional ones need no import).
ROOT_ONLY_CALLBACKS = ('ModelCheckpoint', 'CSVLogger', 'TensorBoard')


def _is_root_only(callback):
    return any(cls.__name__ in ROOT_ONLY_CALLBACKS for cls in type(callback).__mro__)


def _first(callbacks):
    """Broadcast first, metric averaging second, then the others in their order."""
    def rank_of(cb):
        if isinstance(cb, BroadcastGlobalVariablesCallback):
            return 0
        return 1 if isinstance(cb, MetricAverageCallback) else 2
    return sorted(callbacks, key=rank_of)   # stable


def _is_array_data(x):
    if isinstance(x, (list, tuple)):
        return bool(x) and all(_is_array_data(a) for a in x)
    return hasattr(x, 'shape') and hasattr(x, '__getitem__') and len(getattr(x, 'shape', ())) > 0


def _length(x):
    return len(x[0]) if isinstance(x, (list, tuple)) else len(x)


class FitSession:
    """The hooks of one ``fit`` call on several ranks."""

    def __init__(self, model):
        self.model = model
        self.data_parallel = is_distributed_optimizer(getattr(model, 'optimizer', None))

    def fit_arguments(self, verbose, callbacks, validation_data):
        """(verbose, callbacks, validation_data) as this rank uses them."""
        if not self.data_parallel:
            warnings.warn(f'fit: this program runs on {core.size()} ranks, but the optimizer is not a '
                          f'minidl.distributed.DistributedOptimizer, so each rank trains a model of its own. Wrap it '
                          f'before compile: optimizer=minidl.distributed.DistributedOptimizer(optimizer).',
                          stacklevel=3)
        if not core.is_root():
            verbose = 0
        from ..callbacks import _overrides
        callbacks = list(callbacks or [])
        # Agree after every batch when any rank has a callback that may stop there (the lists may
        # differ between ranks: Horovod scripts add checkpoints on rank 0 only).
        mine = any(_overrides(cb, 'on_train_batch_end', 'on_batch_end') for cb in callbacks)
        every_batch = any(core.allgather_object(mine))
        callbacks = [cb for cb in callbacks if core.is_root() or not _is_root_only(cb)]
        callbacks = _first(callbacks) + [_Lockstep(every_batch)]
        if self.data_parallel and validation_data is not None:
            validation_data = self._shard_validation(validation_data)
        return verbose, callbacks, validation_data

    def _shard_validation(self, data):
        if not isinstance(data, (list, tuple)) or len(data) not in (2, 3) or not all(
                _is_array_data(a) for a in data if a is not None):
            return data    # a generator: every rank evaluates all of it
        n = _length(data[0])
        if n < core.size():
            return data    # fewer samples than ranks: every rank evaluates all
        return type(data)(core.shard(a) for a in data)

    def average_validation(self, logs, data):
        """The validation logs of this rank's shard -> those of the whole validation set."""
        if not self.data_parallel:
            return logs
        weight = getattr(data, 'n', None) or getattr(data, 'steps', None) or 1
        return average_logs(dict(logs), weight, 'fit (validation)')


def fit_session(model):
    """A ``FitSession`` when the program runs on several ranks, else None."""
    return FitSession(model) if core.active() else None


def prepare_fit(model, *fit_args, **fit_kwargs):
    """Turn the arguments of a single-process ``model.fit(...)`` call into its data-parallel
    form on this rank, and return ``(fit_args, fit_kwargs)``; unchanged on one rank.

    - the compiled optimizer is wrapped in a ``DistributedOptimizer`` (once);
    - ``x``, ``y`` (and ``sample_weight``) arrays become this rank's shard, after dropping the last
      ``len(x) % size()`` samples so that every rank has as many batches; a batch iterator that
      holds its arrays as ``.x``/``.y``/``.n`` (``ImageDataGenerator.flow``) is sharded the same
      way, and ``steps_per_epoch`` is divided by size() (rounded up);
    - ``BroadcastGlobalVariablesCallback(0)`` and ``MetricAverageCallback()`` are added in front
      of the callbacks unless present.
    """
    if not core.active():
        return fit_args, fit_kwargs
    if not is_distributed_optimizer(getattr(model, 'optimizer', None)):
        model.optimizer = DistributedOptimizer(model.optimizer)
    fit_args = list(fit_args)
    for i, name in enumerate(('x', 'y')):
        if i < len(fit_args):
            fit_args[i] = _shard_data(fit_args[i])
        elif name in fit_kwargs:
            fit_kwargs[name] = _shard_data(fit_kwargs[name])
    if fit_kwargs.get('sample_weight') is not None:
        fit_kwargs['sample_weight'] = _shard_data(fit_kwargs['sample_weight'])
    if fit_kwargs.get('steps_per_epoch'):
        fit_kwargs['steps_per_epoch'] = max(1, math.ceil(fit_kwargs['steps_per_epoch'] / core.size()))
    callbacks = list(fit_kwargs.get('callbacks') or [])
    if not any(isinstance(cb, MetricAverageCallback) for cb in callbacks):
        callbacks.insert(0, MetricAverageCallback())
    if not any(isinstance(cb, BroadcastGlobalVariablesCallback) for cb in callbacks):
        callbacks.insert(0, BroadcastGlobalVariablesCallback(0))
    fit_kwargs['callbacks'] = callbacks
    return tuple(fit_args), fit_kwargs


def _equal_shards(x):
    """``x`` without its last len(x) % size() samples: every rank's shard has the same length."""
    if isinstance(x, (list, tuple)):
        return type(x)(_equal_shards(a) for a in x)
    keep = len(x) - len(x) % core.size()
    return x[:keep]


def _shard_data(x):
    if x is None:
        return None
    if _is_array_data(x):
        return core.shard(_equal_shards(x))
    if all(hasattr(x, a) for a in ('x', 'y', 'n')) and isinstance(getattr(x, 'x'), np.ndarray):
        for name in ('x', 'y', 'sample_weight'):   # an ImageDataGenerator.flow iterator
            if getattr(x, name, None) is not None:
                setattr(x, name, core.shard(_equal_shards(getattr(x, name))))
        x.n = len(x.x)
        return x
    warnings.warn(f'minidl.distributed.prepare_fit: cannot shard a {type(x).__name__}; every rank reads all of it, '
                  f'so give each rank its own part.', stacklevel=3)
    return x


def silence_non_root():
    """Send this rank's standard output to the null device unless it is rank 0, so that a
    script's summaries, prints and result lines appear once (errors still reach stderr)."""
    import os
    import sys
    if core.active() and not core.is_root():
        sys.stdout.flush()
        sys.stdout = open(os.devnull, 'w')
