"""Keras 3's base ``get_config``/``from_config`` for the layers of issue 17, as a mixin placed
after ``Layer`` in their bases (``class ELU(Layer, KerasConfig)``).

``Layer`` itself is being given Keras' config protocol; once it has ``get_config`` and
``from_config``, those come first in the method order and this mixin is never reached. Until
then it gives exactly Keras' base keys: ``name``, ``trainable`` and ``dtype`` (as Keras 3's
serialized ``DTypePolicy``), so ``layer.get_config()`` and ``type(layer).from_config(config)``
work on these layers today.
"""
import numpy as np

from .. import backend


def dtype_policy_config(layer):
    """Keras 3's serialized dtype policy of ``layer``: {'module': 'keras', 'class_name': 'DTypePolicy', ...}."""
    dtype = getattr(layer, 'dtype', None)
    name = np.dtype(dtype).name if dtype is not None and not isinstance(dtype, dict) else np.dtype(backend.floatx).name
    return {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': name}, 'registered_name': None}


def dtype_from_config(value):
    """A dtype name from Keras' serialized policy (or the name itself)."""
    if isinstance(value, dict):
        return value.get('config', {}).get('name')
    return value


class KerasConfig:
    """``get_config()`` -> {'name', 'trainable', 'dtype'}; ``from_config(config)`` -> ``cls(**config)``."""

    def get_config(self):
        return {'name': self.name, 'trainable': self.trainable, 'dtype': dtype_policy_config(self)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if 'dtype' in config:
            config['dtype'] = dtype_from_config(config['dtype'])
        return cls(**config)
