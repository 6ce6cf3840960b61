"""minidl: a small deep-learning framework on NumPy (and CuPy), with a Keras-like API.

    from minidl import layers, models, optimizers      # as you would from tensorflow.keras
"""
from .host_memory import keep_freed_memory
from .backend import set_backend, get_backend, get_array_module, to_numpy, seed, BackendError  # noqa: F401
from .autograd import Tensor, Variable, Function, no_grad, is_grad_enabled  # noqa: F401
from .kernels import use_kernels, kernels_mode  # noqa: F401
from . import functional  # noqa: F401
from . import activations, initializers, regularizers, constraints, layers, losses, metrics, optimizers, callbacks, models  # noqa: F401
from . import datasets, preprocessing, utils, saving, ops, random  # noqa: F401
from . import distributed  # noqa: F401  (imports no MPI: see minidl/distributed/core.py)
from . import applications  # noqa: F401
from .layers import Input  # noqa: F401
from .models import Model, Sequential  # noqa: F401

__version__ = '0.1.0'

keep_freed_memory()
