"""Keras' train/test split of the small tabular data sets."""
import numpy as np


def shuffle_split(x, y, test_split, seed):
    """Shuffle with ``RandomState(seed)``, then the first ``int(n * (1 - test_split))`` rows train."""
    if not 0 <= test_split < 1:
        raise ValueError(f'test_split must be in [0, 1), got {test_split}.')
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])
