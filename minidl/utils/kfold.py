"""Cross-validation splitters, with scikit-learn's names and semantics but no dependency on it.

``KFold`` and ``StratifiedKFold`` yield ``(train_index, test_index)`` pairs whose test parts
partition ``range(n)``; ``train_test_split`` cuts arrays in two, optionally keeping the class
proportions (``stratify``).
"""
import math
import warnings

import numpy as np

from ..backend import to_numpy


def _random_state(random_state):
    """A ``numpy.random.RandomState`` from None, an int or an existing RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return random_state
    return np.random.RandomState(random_state)


def _num_samples(x):
    if hasattr(x, 'shape') and len(x.shape) > 0:
        return int(x.shape[0])
    return len(x)


def _class_ids(y):
    """Integer class ids of labels given as ``(n,)``, ``(n, 1)`` or one-hot ``(n, k)``."""
    y = to_numpy(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(len(y), -1)
    if y.shape[1] != 1:
        raise ValueError(f'Class labels must have shape (n,), (n, 1) or one-hot (n, k), got {y.shape}.')
    return np.unique(y[:, 0], return_inverse=True)[1].reshape(-1)


class KFold:
    """K consecutive folds (shuffled first if ``shuffle``): the first ``n % n_splits`` folds
    have ``n // n_splits + 1`` samples, the others ``n // n_splits``."""

    def __init__(self, n_splits=5, shuffle=False, random_state=None):
        if int(n_splits) != n_splits or n_splits < 2:
            raise ValueError(f'{type(self).__name__} needs an integer n_splits >= 2, got {n_splits!r}.')
        if not shuffle and random_state is not None:
            raise ValueError('Setting a random_state has no effect since shuffle is False: '
                             'pass shuffle=True or drop random_state.')
        self.n_splits, self.shuffle, self.random_state = int(n_splits), bool(shuffle), random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _check_size(self, n):
        if self.n_splits > n:
            raise ValueError(f'Cannot have n_splits={self.n_splits} greater than the number of samples n={n}.')

    def split(self, X, y=None, groups=None):
        n = _num_samples(X)
        self._check_size(n)
        indices = np.arange(n)
        if self.shuffle:
            _random_state(self.random_state).shuffle(indices)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[:n % self.n_splits] += 1
        start = 0
        for size in sizes:
            test = np.sort(indices[start:start + size])  # sorted within the fold, as scikit-learn
            yield _complement(n, test), test
            start += size

    def __repr__(self):
        return (f'{type(self).__name__}(n_splits={self.n_splits}, shuffle={self.shuffle}, '
                f'random_state={self.random_state})')


class StratifiedKFold(KFold):
    """K folds that keep the class proportions of ``y``: every class is spread over the folds
    so that its count differs by at most one between folds, and so do the fold sizes.

    The samples are ordered by class (shuffled within each class if ``shuffle``) and dealt to
    the folds in turn.
    """

    def split(self, X, y, groups=None):
        n = _num_samples(X)
        self._check_size(n)
        classes = _class_ids(y)
        if len(classes) != n:
            raise ValueError(f'StratifiedKFold: X has {n} samples but y has {len(classes)} labels.')
        smallest = np.bincount(classes).min()
        if smallest < self.n_splits:
            warnings.warn(f'The least populated class in y has only {smallest} members, which is less than '
                          f'n_splits={self.n_splits}: some folds will not contain it.', stacklevel=2)
        if self.shuffle:
            rng = _random_state(self.random_state)
            order = np.lexsort((rng.permutation(n), classes))
        else:
            order = np.argsort(classes, kind='stable')
        fold_of = np.empty(n, dtype=np.int64)
        fold_of[order] = np.arange(n) % self.n_splits
        for k in range(self.n_splits):
            test = np.flatnonzero(fold_of == k)
            yield _complement(n, test), test


def _complement(n, test):
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask)


def _split_sizes(n, test_size, train_size):
    """``(n_test, n_train)`` as scikit-learn computes them (fractions round test up, train down)."""
    def count(size, name, rounding):
        if size is None:
            return None
        if isinstance(size, (float, np.floating)):
            if not 0 < size < 1:
                raise ValueError(f'{name}={size} must be a fraction in (0, 1) or a count in [1, {n - 1}].')
            return int(rounding(size * n))
        if not 0 < size < n:
            raise ValueError(f'{name}={size} must be a fraction in (0, 1) or a count in [1, {n - 1}].')
        return int(size)

    n_test = count(test_size, 'test_size', math.ceil)
    n_train = count(train_size, 'train_size', math.floor)
    if n_test is None:
        n_test = n - n_train if n_train is not None else int(math.ceil(0.25 * n))
    if n_train is None:
        n_train = n - n_test
    if n_train + n_test > n or n_train == 0 or n_test == 0:
        raise ValueError(f'With n={n} samples, test_size={test_size} and train_size={train_size} give '
                         f'{n_test} test and {n_train} train samples; both must be >= 1 and sum to at most {n}.')
    return n_test, n_train


def _apportion(counts, total, caps):
    """Integers close to ``total * counts / counts.sum()`` (largest remainder), summing to ``total``,
    each at most its cap (``caps.sum() >= total``)."""
    exact = total * counts / counts.sum()
    share = np.minimum(np.floor(exact).astype(np.int64), caps)
    order = np.argsort(share - exact, kind='stable')  # largest remainder first
    while share.sum() < total:
        for k in order:
            if share.sum() < total and share[k] < caps[k]:
                share[k] += 1
    return share


def _take(a, index):
    if hasattr(a, 'shape') and hasattr(a, '__getitem__') and not isinstance(a, (list, tuple)):
        return a[index]
    return [a[i] for i in index]


def train_test_split(*arrays, test_size=None, train_size=None, random_state=None, shuffle=True, stratify=None):
    """Split arrays (same first dimension) into ``[a_train, a_test, b_train, b_test, ...]``.

    ``test_size``/``train_size`` are fractions or counts (default: a quarter for test).
    Without ``stratify`` the split is scikit-learn's (``RandomState(random_state).permutation``:
    the first ``n_test`` indices are the test set). With ``stratify=y`` each class contributes
    to the test set in proportion to its size (largest remainder), both parts shuffled.
    """
    if not arrays:
        raise ValueError('train_test_split needs at least one array.')
    n = _num_samples(arrays[0])
    lengths = [_num_samples(a) for a in arrays]
    if any(length != n for length in lengths):
        raise ValueError(f'train_test_split got arrays of different lengths: {lengths}.')
    n_test, n_train = _split_sizes(n, test_size, train_size)
    if not shuffle:
        if stratify is not None:
            raise ValueError('Stratified train/test split needs shuffle=True.')
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    elif stratify is None:
        permutation = _random_state(random_state).permutation(n)
        test, train = permutation[:n_test], permutation[n_test:n_test + n_train]
    else:
        classes = _class_ids(stratify)
        if len(classes) != n:
            raise ValueError(f'stratify has {len(classes)} labels for {n} samples; it needs one per sample.')
        train, test = _stratified_indices(classes, n_test, n_train, _random_state(random_state))
    return [part for a in arrays for part in (_take(a, train), _take(a, test))]


def _stratified_indices(classes, n_test, n_train, rng):
    counts = np.bincount(classes)
    test_quota = _apportion(counts, n_test, counts)
    train_quota = _apportion(counts, n_train, counts - test_quota)
    train, test = [], []
    for k, (n_k_test, n_k_train) in enumerate(zip(test_quota, train_quota)):
        members = rng.permutation(np.flatnonzero(classes == k))
        test.append(members[:n_k_test])
        train.append(members[n_k_test:n_k_test + n_k_train])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
