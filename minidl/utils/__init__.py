"""Utilities around training: label encoding, data splits, plots.

``plot_history`` and ``image_grid`` import matplotlib only when called.
"""
from .data_utils import to_categorical
from .kfold import KFold, StratifiedKFold, train_test_split
from .plot import image_grid, plot_history

__all__ = ['to_categorical', 'KFold', 'StratifiedKFold', 'train_test_split', 'plot_history', 'image_grid', 'get_file']


def get_file(*args, **kwargs):
    """Keras' ``keras.utils.get_file``: see ``minidl.datasets.get_file``."""
    from ..datasets._files import get_file as _get_file
    return _get_file(*args, **kwargs)
