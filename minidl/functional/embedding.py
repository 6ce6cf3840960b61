"""Embedding lookup: y[..., :] = weights[ids[...], :]; the gradient scatter-adds back into the rows."""
from .. import backend
from ..autograd import Function, Tensor


class Embedding(Function):
    """y = weights[ids];  dweights[v] = sum of gy over the positions where ids == v."""
    def __init__(self, ids):
        self.ids = ids

    def forward(self, weights):
        return weights[self.ids]

    def backward(self, gy):
        weights = self.inputs[0]
        gw = backend.get_array_module(gy).zeros(weights.shape, gy.dtype)
        backend.scatter_add(gw, self.ids.reshape(-1), gy.reshape(-1, weights.shape[1]))
        return gw


def _integer_ids(ids):
    """``ids`` as an integer array of the active backend; float arrays holding whole numbers
    (what a Keras Input of the default dtype feeds) are accepted."""
    ids = ids.data if isinstance(ids, Tensor) else backend.as_array(ids)
    xp = backend.get_array_module(ids)
    if ids.dtype.kind == 'f':
        if not bool(xp.all(ids == xp.round(ids))):
            raise ValueError('embedding: ids must be integers, got non-integral floating-point values.')
        ids = ids.astype('int64')
    elif ids.dtype.kind not in 'iu':
        raise ValueError(f'embedding: ids must be an integer array, got dtype {ids.dtype}.')
    return ids


def embedding(ids, weights):
    """Rows of ``weights`` (V, D) picked by ``ids`` (any shape): output shape ids.shape + (D,).
    Raises ValueError for an id outside [0, V)."""
    if len(weights.shape) != 2:
        raise ValueError(f'embedding: weights must be (vocabulary, dim), got shape {tuple(weights.shape)}.')
    ids = _integer_ids(ids)
    vocab = weights.shape[0]
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        bad = ids[(ids < 0) | (ids >= vocab)]
        raise ValueError(f'embedding: id {int(bad[0])} is out of range for a vocabulary of size {vocab} '
                         f'(valid ids are 0..{vocab - 1}); {int(bad.size)} id(s) out of range in total. '
                         'Increase input_dim or clip the ids.')
    return Embedding(ids)(weights)
