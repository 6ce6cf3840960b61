"""The data ``fit``/``evaluate``/``predict`` accept, as batches of ``(x, y, sample_weight)``.

* In-memory arrays (NumPy, CuPy, Tensors, or array-likes such as DataFrames): ``x`` and ``y``
  may each be one array, a list/tuple of arrays (one per model input or output) or a dict keyed
  by input/output name; ``sample_weight`` likewise. Batches are taken in order, or shuffled once
  per pass with minidl's seeded generator.
* A source of batches: a generator or iterator yielding ``(x, y)`` or ``(x, y, sample_weight)``
  (``ImageDataGenerator.flow``), or a ``minidl.utils.Sequence``/``PyDataset`` (``__len__``,
  ``__getitem__``, ``on_epoch_end``).

``unpack_x_y_sample_weight`` and ``class_weight_to_sample_weight`` follow Keras 3.
"""
import itertools
import math

import numpy as np

from .. import backend, tree
from ..autograd import Tensor


def unpack_x_y_sample_weight(data):
    """(x, y, sample_weight) from a batch: ``(x,)``, ``(x, y)``, ``(x, y, sw)`` or ``x``."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f'A batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(data)} items.')


def is_array(a):
    return isinstance(a, (np.ndarray, Tensor)) or backend.is_cupy(a)


def is_batch_source(x):
    """A generator, an iterator or a Sequence-like object (not arrays or structures of arrays)."""
    if x is None or is_array(x) or isinstance(x, (list, tuple, dict, str)) or hasattr(x, '__array__'):
        return False  # arrays, structures of arrays, and array-likes such as pandas DataFrames
    return hasattr(x, '__next__') or hasattr(x, '__iter__') or (hasattr(x, '__getitem__') and hasattr(x, '__len__'))


def as_arrays(x):
    """Arrays (Tensors unwrapped, nested Python lists of numbers made one array) in the same
    structure (a list/tuple/dict of arrays stays one)."""
    if x is None:
        return None
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, dict):
        return {k: as_arrays(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and all(is_array(a) or hasattr(a, '__array__') or isinstance(a, (list, dict))
                                                  for a in x) and not _is_number_list(x):
        return [as_arrays(a) for a in x]
    if is_array(x):
        return x
    return np.asarray(x)


def _is_number_list(x):
    """A nested list of numbers (one array), rather than a list of arrays."""
    first = x[0]
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    return isinstance(first, (int, float, bool, np.number, np.bool_))


def num_samples(structure, method, what):
    lengths = {len(a) for a in tree.flatten(structure)}
    if len(lengths) > 1:
        sizes = [len(a) for a in tree.flatten(structure)]
        raise ValueError(f'{method}: the arrays of {what} have different numbers of samples {sizes}.')
    return lengths.pop() if lengths else None


def take(a, idx):
    if isinstance(a, np.ndarray):
        return a.take(idx, axis=0)
    return a[backend.get_array_module(a).asarray(idx)]


def split_validation(x, y, sample_weight, fraction):
    """Keras' validation_split: the last ``fraction`` of the samples (taken before shuffling), the
    cut at floor(n (1 - fraction))."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f'fit(validation_split={fraction}): the fraction must be in [0, 1), e.g. 0.2 for the last '
                         '20% of the samples.')
    x, y, sample_weight = as_arrays(x), as_arrays(y), as_arrays(sample_weight)
    n = num_samples(x, 'fit', 'x')
    cut = int(math.floor(n * (1.0 - fraction)))
    if cut >= n or cut == 0:
        raise ValueError(f'fit(validation_split={fraction}) leaves {"no validation" if cut >= n else "no training"} '
                         f'sample out of {n}.')
    head = lambda s: tree.map_structure(lambda a: a[:cut], s)  # noqa: E731
    tail = lambda s: tree.map_structure(lambda a: a[cut:], s)  # noqa: E731
    train = (head(x), head(y) if y is not None else None, head(sample_weight) if sample_weight is not None else None)
    val = (tail(x), tail(y) if y is not None else None, tail(sample_weight) if sample_weight is not None else None)
    return train, val


def class_weight_to_sample_weight(y, class_weight):
    """Per-sample weights ``class_weight[class of the sample]``: the class is the label itself for
    integer labels (N,) or (N, 1), the arg-max of one-hot labels, and 0/1 for one binary output."""
    y = backend.to_numpy(y.data if isinstance(y, Tensor) else y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        classes = y.argmax(axis=-1)
    else:
        classes = np.round(y.reshape(y.shape[0], -1)[:, 0]).astype(np.int64)
    classes = classes.reshape(-1)
    missing = sorted(set(np.unique(classes).tolist()) - set(int(k) for k in class_weight))
    if missing:
        raise ValueError(f'fit(class_weight=...) has no weight for the class(es) {missing} found in the labels; '
                         f'give every class a weight (it has {sorted(int(k) for k in class_weight)}).')
    table = np.zeros(int(max(max(int(k) for k in class_weight), classes.max(initial=0))) + 1, np.float32)
    for k, v in class_weight.items():
        table[int(k)] = float(v)
    return table[classes]


class ArrayBatches:
    """Batches of in-memory arrays, shuffled once per pass (with minidl's seeded generator)."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle, steps, method, needs_y=True):
        self.x, self.y, self.sw = as_arrays(x), as_arrays(y), as_arrays(sample_weight)
        if self.y is None and needs_y and method not in ('predict',):
            raise ValueError(f'{method}: labels y are missing. Pass y=..., or data that yields (x, y) batches.')
        self.n = num_samples(self.x, method, 'x')
        for what, value in (('y', self.y), ('sample_weight', self.sw)):
            if value is not None:
                n = num_samples(value, method, what)
                if n != self.n:
                    raise ValueError(f'{method}: x and {what} have different numbers of samples: x has {self.n}, {what} has '
                                     f'{n}; they must match.')
        if not self.n:
            raise ValueError(f'{method}: the input arrays are empty.')
        self.batch_size = int(batch_size or 32)
        self.shuffle = shuffle
        self.batches_per_pass = -(-self.n // self.batch_size)
        self.steps = int(steps) if steps is not None else self.batches_per_pass
        self._stream = self._endless() if steps is not None else None
        self.exhausted = False

    def epoch(self):
        if self._stream is not None:
            return itertools.islice(self._stream, self.steps)
        return self._one_pass()

    def _endless(self):
        while True:
            yield from self._one_pass()

    def _one_pass(self):
        order = backend.rng().permutation(self.n) if self.shuffle else None
        for start in range(0, self.n, self.batch_size):
            if order is None:
                pick = slice(start, start + self.batch_size)
                cut = lambda a: a[pick]  # noqa: E731
            else:
                idx = order[start:start + self.batch_size]
                cut = lambda a, idx=idx: take(a, idx)  # noqa: E731
            xb = tree.map_structure(cut, self.x)
            yb = None if self.y is None else tree.map_structure(cut, self.y)
            sb = None if self.sw is None else tree.map_structure(cut, self.sw)
            yield xb, yb, sb


class BatchSource:
    """Batches from a generator, an iterator (``ImageDataGenerator.flow``) or a Sequence."""

    def __init__(self, source, steps, method, needs_y=True):
        self.source = source
        self.method = method
        self.needs_y = needs_y
        if steps is None and hasattr(source, '__len__'):
            steps = len(source)
        self.steps = int(steps) if steps is not None else None
        self.sequence = not hasattr(source, '__next__') and hasattr(source, '__getitem__') \
            and hasattr(source, '__len__')
        self._iterator = None
        self.exhausted = False

    def epoch(self):
        self.exhausted = False
        if self.sequence:
            return self._sequence_epoch()
        return self._iterator_epoch()

    def _sequence_epoch(self):
        count = len(self.source)
        if count == 0:
            return
        for i in range(self.steps):
            yield self._unpack(self.source[i % count])
        if hasattr(self.source, 'on_epoch_end'):
            self.source.on_epoch_end()

    def _iterator_epoch(self):
        if self._iterator is None or self.steps is None:
            self._iterator = self.source if hasattr(self.source, '__next__') else iter(self.source)
        produced = 0
        while self.steps is None or produced < self.steps:
            try:
                item = next(self._iterator)
            except StopIteration:
                self._iterator = None
                self.exhausted = self.steps is not None
                return
            produced += 1
            yield self._unpack(item)

    def _unpack(self, item):
        x, y, sw = unpack_x_y_sample_weight(item)
        if y is None and self.needs_y and self.method not in ('predict',):
            raise ValueError(f'{self.method}: the generator must yield (x, y) or (x, y, sample_weight) tuples, got '
                             f'{type(item).__name__}.')
        return as_arrays(x), as_arrays(y), as_arrays(sw)


def adapter(x, y, sample_weight, batch_size, shuffle, steps, method, needs_y=True):
    if is_batch_source(x):
        if y is not None:
            raise ValueError(f'{method}: y must not be given when x is a generator or Sequence of (x, y) batches.')
        if sample_weight is not None:
            raise ValueError(f'{method}: sample_weight must not be given when x is a generator or Sequence; yield '
                             '(x, y, sample_weight) batches instead.')
        return BatchSource(x, steps, method, needs_y)
    if x is None:
        raise ValueError(f'{method}: no input data (x is None).')
    return ArrayBatches(x, y, sample_weight, batch_size, shuffle, steps, method, needs_y)
