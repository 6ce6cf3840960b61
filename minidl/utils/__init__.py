"""Utilities around training: label encoding, data splits, plots.

``plot_history`` and ``image_grid`` import matplotlib only when called; ``plot_graph`` and
``plot_model`` write Graphviz DOT and call the ``dot`` program only when a picture is asked for.
"""
from .data_utils import to_categorical
from .kfold import KFold, StratifiedKFold, train_test_split
from .plot import image_grid, plot_history
from .graph import plot_graph, plot_model, model_to_dot  # noqa: F401  (Graphviz DOT; PNG/SVG with `dot`)
from .sequence import PyDataset, Sequence
from ..saving.object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,  # noqa: F401
                                          get_registered_name, get_registered_object,
                                          register_keras_serializable)
from ..saving.serialization_lib import deserialize_keras_object, serialize_keras_object  # noqa: F401


def set_random_seed(seed):
    """Seed every source of randomness minidl uses (``minidl.seed``), as ``keras.utils.set_random_seed``."""
    import random
    from .. import backend
    random.seed(seed)
    backend.seed(seed)


def pad_sequences(sequences, maxlen=None, dtype='int32', padding='pre', truncating='pre', value=0.0):
    """Keras 3's place for ``pad_sequences``: see ``minidl.preprocessing.sequence.pad_sequences``."""
    from ..preprocessing.sequence import pad_sequences as _pad
    return _pad(sequences, maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value)


def get_file(*args, **kwargs):
    """Keras' ``keras.utils.get_file``: see ``minidl.datasets.get_file``."""
    from ..datasets._files import get_file as _get_file
    return _get_file(*args, **kwargs)


__all__ = ['to_categorical', 'KFold', 'StratifiedKFold', 'train_test_split', 'plot_history', 'image_grid', 'PyDataset',
           'Sequence', 'pad_sequences', 'set_random_seed', 'plot_graph', 'plot_model', 'model_to_dot', 'get_file']
__all__ += ['CustomObjectScope', 'custom_object_scope', 'get_custom_objects', 'get_registered_name',
            'get_registered_object', 'register_keras_serializable', 'deserialize_keras_object', 'serialize_keras_object']
__all__ += ['image_dataset_from_directory', 'load_img', 'img_to_array', 'array_to_img', 'save_img']

_IMAGE_NAMES = {'image_dataset_from_directory': 'image_dataset', 'load_img': 'image', 'img_to_array': 'image',
                'array_to_img': 'image', 'save_img': 'image'}


def __getattr__(name):
    """The image-file helpers, imported on first use (they pull in the preprocessing floor)."""
    if name not in _IMAGE_NAMES:
        raise AttributeError(f"module 'minidl.utils' has no attribute {name!r}")
    import importlib
    module = importlib.import_module('.image_dataset' if _IMAGE_NAMES[name] == 'image_dataset'
                                     else '..preprocessing.image', __name__)
    return getattr(module, name)
