"""minidl: a small deep-learning framework on NumPy (and CuPy), with a Keras-like API."""
from .backend import set_backend, get_backend, get_array_module, to_numpy, seed, BackendError  # noqa: F401
from .autograd import Tensor, Function, no_grad, is_grad_enabled  # noqa: F401
from . import functional  # noqa: F401

__version__ = '0.1.0'
