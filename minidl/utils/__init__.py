"""Utilities around training: label encoding, data splits, plots.

``plot_history`` and ``image_grid`` import matplotlib only when called; ``plot_graph`` and
``plot_model`` write Graphviz DOT and call the ``dot`` program only when a picture is asked for.
"""
from .data_utils import to_categorical
from .kfold import KFold, StratifiedKFold, train_test_split
from .plot import image_grid, plot_history
from .graph import plot_graph, plot_model, model_to_dot  # noqa: F401  (Graphviz DOT; PNG/SVG with `dot`)
from .sequence import PyDataset, Sequence
from ..preprocessing.sequence import pad_sequences


def set_random_seed(seed):
    """Seed every source of randomness minidl uses (``minidl.seed``), as ``keras.utils.set_random_seed``."""
    import random
    from .. import backend
    random.seed(seed)
    backend.seed(seed)

__all__ = ['to_categorical', 'KFold', 'StratifiedKFold', 'train_test_split', 'plot_history', 'image_grid', 'PyDataset',
           'Sequence', 'pad_sequences', 'set_random_seed', 'plot_graph', 'plot_model', 'model_to_dot']
