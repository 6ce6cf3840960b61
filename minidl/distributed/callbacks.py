"""Horovod's Keras callbacks: ``BroadcastGlobalVariablesCallback`` and ``MetricAverageCallback``.

    callbacks = [minidl.distributed.BroadcastGlobalVariablesCallback(0),
                 minidl.distributed.MetricAverageCallback(), ...the others...]

Under several ranks ``fit`` runs these two before every other callback, whatever their place in
the list, so that EarlyStopping, ReduceLROnPlateau or ModelCheckpoint see the averaged values
and every rank takes the same decisions.
"""
import numpy as np

from ..autograd import Tensor
from ..callbacks import Callback
from . import core



def broadcast_variables(variables, root_rank=0):
    """Overwrite the given Variables, Tensors or arrays with ``root_rank``'s values, in place
    (one buffer per dtype and device). Every rank passes the same shapes in the same order."""
    arrays = [v.data if isinstance(v, Tensor) else v for v in variables]
    core.broadcast_arrays(arrays, root_rank, 'broadcast_variables')
    return variables


def optimizer_arrays(optimizer):
    """The arrays of an optimizer's state (slots; with Keras 3 optimizers also the iteration
    counter), in its order."""
    found = getattr(optimizer, 'variables', None)
    found = found() if callable(found) else found
    arrays = []
    for v in found or []:
        a = v.data if isinstance(v, Tensor) else v
        if hasattr(a, 'shape') and hasattr(a, 'dtype'):
            arrays.append(a)
    return arrays


def broadcast_model(model, root_rank=0, optimizer=True):
    """Give every rank ``root_rank``'s weights (trainable and not: BatchNorm's moving statistics
    too) and, with ``optimizer``, its optimizer's state and iteration count."""
    arrays = [w.data for w in model.weights]
    opt = getattr(model, 'optimizer', None) if optimizer else None
    if opt is not None:
        arrays += optimizer_arrays(opt)
    core.broadcast_arrays(arrays, root_rank, 'BroadcastGlobalVariablesCallback')
    # a Keras 3 optimizer's counter is one of its variables (broadcast above); an optimizer that
    # keeps a plain int attribute gets it sent on its own
    counter_is_variable = isinstance(getattr(type(opt), 'iterations', None), property)
    if opt is not None and not counter_is_variable and isinstance(getattr(opt, 'iterations', None), (int, np.integer)):
        opt.iterations = core.broadcast_object(int(opt.iterations), root_rank)


def _built(model):
    return bool(getattr(model, 'built', True)) and bool(model.weights)


class BroadcastGlobalVariablesCallback(Callback):
    """Make every rank start from ``root_rank``'s model (Horovod's callback of that name).

    At the start of training it broadcasts the weights (when the model is built), and once
    more after the first batch -- when the optimizer has created its state -- the weights, the
    optimizer's state and its iteration count. From then on the averaged gradients keep every
    rank identical."""

    def __init__(self, root_rank=0, device=''):
        super().__init__()
        self.root_rank = int(root_rank)
        self.broadcast_done = False

    def on_train_begin(self, logs=None):
        self.broadcast_done = False
        if core.active() and _built(self.model):
            broadcast_model(self.model, self.root_rank, optimizer=False)

    def _broadcast_all(self):
        if not self.broadcast_done and core.active():
            broadcast_model(self.model, self.root_rank)
        self.broadcast_done = True

    def on_train_batch_begin(self, batch, logs=None):
        if batch > 0 and not self.broadcast_done:   # the first batch has run: the optimizer has its state
            self._broadcast_all()

    def on_epoch_end(self, epoch, logs=None):
        self._broadcast_all()


def average_logs(logs, weight=None, what='MetricAverageCallback'):
    """Replace every number in the dict ``logs`` by its average over the ranks, in place (one
    all-reduce), weighted by ``weight`` (e.g. this rank's sample count) when given."""
    if not core.active() or logs is None:
        return logs
    keys = sorted(k for k, v in logs.items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    everyone = core.allgather_object(keys)
    if any(k != keys for k in everyone):
        detail = '; '.join(f'rank {r}: {", ".join(k)}' for r, k in enumerate(everyone))
        raise ValueError(f'minidl.distributed.{what}: the ranks logged different metrics ({detail}); every rank '
                         f'must compile the same model.')
    w = 1.0 if weight is None else float(weight)
    values = np.array([float(logs[k]) * w for k in keys] + [w], np.float64)
    core._allreduce_buffer(values, core.Sum)
    for k, v in zip(keys, values[:-1] / values[-1]):
        logs[k] = float(v)
    return logs


class MetricAverageCallback(Callback):
    """At the end of every epoch, replace each logged metric by its average over the ranks
    (Horovod's callback of that name: the plain mean of the ranks' values), so that History,
    EarlyStopping and checkpoints see the metrics of the whole data."""

    def __init__(self, device=''):
        super().__init__()

    def on_epoch_end(self, epoch, logs=None):
        average_logs(logs, what='MetricAverageCallback')


class _Lockstep(Callback):
    """Internal, last in fit's list on several ranks: keeps the ranks in step. At the start every
    rank must have as many steps per epoch (a rank with one batch more would wait alone in its
    extra all-reduce); after each epoch -- and after each batch when some callback may stop
    there -- the ranks stop together when any rank's callbacks asked to (TimeStopping reads its
    own clock)."""

    def __init__(self, every_batch=False):
        super().__init__()
        if every_batch:
            self.on_train_batch_end = self._agree

    def on_train_begin(self, logs=None):
        steps = core.allgather_object(self.params.get('steps'))
        if len(set(steps)) > 1:
            detail = ', '.join(f'rank {r}: {s}' for r, s in enumerate(steps))
            raise ValueError(f'fit: the ranks have different numbers of steps per epoch ({detail}), so one would '
                             f'wait forever for the others. Give every rank as many batches: shards of equal size '
                             f'(drop the last len(x) % size() samples before minidl.distributed.shard, as '
                             f'prepare_fit does), or the same steps_per_epoch.')

    def _agree(self, *args):
        flag = np.array([1.0 if self.model.stop_training else 0.0])
        core._allreduce_buffer(flag, core.Max)
        self.model.stop_training = bool(flag[0])

    def on_epoch_end(self, epoch, logs=None):
        self._agree()
