"""Utilities around training: label encoding, data splits, plots.

``plot_history`` and ``image_grid`` import matplotlib only when called.
"""
from .data_utils import to_categorical
from .kfold import KFold, StratifiedKFold, train_test_split
from .plot import image_grid, plot_history
from .sequence import PyDataset, Sequence
from ..preprocessing.sequence import pad_sequences


def set_random_seed(seed):
    """Seed every source of randomness minidl uses (``minidl.seed``), as ``keras.utils.set_random_seed``."""
    import random
    from .. import backend
    random.seed(seed)
    backend.seed(seed)


def get_file(*args, **kwargs):
    """Keras' ``keras.utils.get_file``: see ``minidl.datasets.get_file``."""
    from ..datasets._files import get_file as _get_file
    return _get_file(*args, **kwargs)


__all__ = ['to_categorical', 'KFold', 'StratifiedKFold', 'train_test_split', 'plot_history', 'image_grid', 'PyDataset',
           'Sequence', 'pad_sequences', 'set_random_seed', 'get_file']
