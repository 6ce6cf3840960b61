"""Label encoding."""
import numpy as np

from ..backend import to_numpy


def to_categorical(y, num_classes=None, dtype='float32'):
    """One-hot encoding of integer class labels: ``out[..., k] = 1`` where ``y == k``.

    ``y`` of shape ``(n,)`` or ``(n, 1)`` gives ``(n, num_classes)`` (as Keras: a trailing axis of
    size 1 is dropped); ``num_classes`` defaults to ``max(y) + 1``.
    """
    y = to_numpy(y)
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(f'to_categorical needs integer class labels, got values such as {y.ravel()[:5]}.')
    y = y.astype(np.int64)
    shape = y.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    y = y.reshape(-1)
    if y.size and y.min() < 0:
        raise ValueError(f'to_categorical got the negative label {y.min()}; labels must be 0 .. num_classes-1.')
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(f'to_categorical got the label {y.max()} but num_classes={num_classes}; '
                         f'labels must be 0 .. {num_classes - 1}.')
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out.reshape(shape + (num_classes,))
