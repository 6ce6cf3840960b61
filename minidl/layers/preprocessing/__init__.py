"""Keras' preprocessing layers: ``Rescaling`` and ``Normalization`` (with ``adapt``), ``Resizing``
and ``CenterCrop``, and the random augmentation layers ``RandomFlip``, ``RandomRotation``,
``RandomZoom``, ``RandomTranslation``, ``RandomContrast``, ``RandomBrightness``, ``RandomCrop``
(active in training only), all of them usable inside a model."""
from .numerical import Rescaling, Normalization  # noqa: F401
from .image import Resizing, CenterCrop  # noqa: F401
from .augmentation import (RandomFlip, RandomRotation, RandomZoom, RandomTranslation,  # noqa: F401
                           RandomContrast, RandomBrightness, RandomCrop)
