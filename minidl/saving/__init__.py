"""Saving (floor 6): whole models in Keras 3's ``.keras`` archive and Keras 2's ``.h5``, weights in
HDF5, and the config (de)serialization every configurable object uses.

``register_keras_serializable``, ``serialize_keras_object`` and ``deserialize_keras_object`` live
in modules that import nothing from the floors above, so layers and optimizers can use them;
the model files themselves are read and written by ``saving_lib`` (imported on first use).
"""
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,  # noqa: F401
                                  get_registered_name, get_registered_object, register_keras_serializable)
from .serialization_lib import deserialize_keras_object, serialize_keras_object  # noqa: F401


def save_model(model, filepath, overwrite=True, **kwargs):
    """``model.save(filepath)``: a '.keras' archive or a Keras 2 '.h5' file."""
    from .saving_lib import save_model as _save
    _save(model, filepath, overwrite=overwrite, **kwargs)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """A model from a '.keras' archive (minidl's or Keras 3's) or a Keras 2 '.h5' file."""
    from .saving_lib import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
