"""Models (floor 4): functional ``Model(inputs, outputs)``, ``Sequential``, subclassed models."""
from .model import Model  # noqa: F401
from .sequential import Sequential  # noqa: F401
from ..saving import load_model, save_model  # noqa: F401,E402


def model_from_json(json_string, custom_objects=None):
    """The (untrained) model that ``model.to_json()`` wrote."""
    from ..saving.saving_lib import model_from_json as _from_json
    return _from_json(json_string, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A model with the same architecture and freshly initialised weights."""
    from ..saving.saving_lib import clone_model as _clone
    return _clone(model, input_tensors=input_tensors, clone_function=clone_function, **kwargs)
