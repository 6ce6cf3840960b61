"""Models (floor 4): functional ``Model(inputs, outputs)``, ``Sequential``, subclassed models."""
from .model import Model  # noqa: F401
from .sequential import Sequential  # noqa: F401
