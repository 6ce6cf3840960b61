"""Saving (floor 6): whole models in Keras 3's ``.keras`` archive and Keras 2's ``.h5``, weights in
HDF5, and the config (de)serialization every configurable object uses.

``register_keras_serializable``, ``serialize_keras_object`` and ``deserialize_keras_object`` live
in modules that import nothing from the floors above, so layers and optimizers can use them;
the model files themselves are read and written by ``saving_lib`` (imported on first use).
"""
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,  # noqa: F401
                                  get_registered_name, get_registered_object, register_keras_serializable)
from .serialization_lib import deserialize_keras_object, serialize_keras_object  # noqa: F401
