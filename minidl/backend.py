"""Floor 0: the one place that chooses NumPy or CuPy.

Every other module asks this one for its array module (``xp()``) instead of importing
``cupy``: switching the backend is then one call, ``minidl.set_backend('cupy')``, or the
environment variable ``MINIDL_BACKEND=cupy`` read at import time.
"""
import os

import numpy as np

# minidl is not on a package index, so its extras cannot be installed by name: name CuPy's own wheels,
# and the extras for a checkout of the repository.
_CUPY_HINT = ('install the CuPy wheel that matches your CUDA driver (nvidia-smi shows its CUDA version): '
              'pip install cupy-cuda12x (CUDA 12.x) or pip install cupy-cuda13x (CUDA 13.x); from a checkout '
              'of minidl, pip install -e ".[cuda12]" or pip install -e ".[cuda13]" does the same')

_state = {'name': 'numpy', 'xp': np}
floatx = np.float32


class BackendError(RuntimeError):
    """The requested backend cannot be used on this machine."""


def _import_cupy():
    """Import CuPy and check that a CUDA device answers; explain what to install otherwise."""
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(f'The cupy backend needs CuPy, which is not installed ({exc}); {_CUPY_HINT}.') from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, missing driver libraries, ...
        raise BackendError(f'CuPy is installed but cannot reach a CUDA device ({exc}). '
                           f'Check the NVIDIA driver, or {_CUPY_HINT}.') from None
    if count == 0:
        raise BackendError(f'CuPy is installed but no CUDA device was found; {_CUPY_HINT}.')
    return cupy


def set_backend(name):
    """Select 'numpy' or 'cupy' for every array minidl creates from now on."""
    name = str(name).lower()
    if name == 'numpy':
        _state.update(name='numpy', xp=np)
    elif name == 'cupy':
        _state.update(name='cupy', xp=_import_cupy())
    else:
        raise ValueError(f"Unknown backend {name!r}: choose 'numpy' or 'cupy'.")


def image_data_format():
    """Keras' layout setting: minidl is always 'channels_last'."""
    return 'channels_last'


def set_image_data_format(data_format):
    if data_format != 'channels_last':
        raise ValueError(f"minidl is channels-last only; set_image_data_format({data_format!r}) is not supported.")


def epsilon():
    """Keras' fuzz factor (1e-7)."""
    return 1e-7


def get_backend():
    """Name of the active backend: 'numpy' or 'cupy'."""
    return _state['name']


def xp():
    """The active array module (numpy or cupy)."""
    return _state['xp']


def get_array_module(array):
    """The module (numpy or cupy) that owns ``array``; numpy for anything else."""
    if type(array).__module__.startswith('cupy'):
        import cupy
        return cupy
    return np


def is_cupy(array):
    return type(array).__module__.startswith('cupy')


def to_numpy(x):
    """A NumPy copy-free view (or a host copy for CuPy arrays) of an array, Tensor or scalar."""
    x = getattr(x, 'data', x) if hasattr(x, 'requires_grad') else x
    if is_cupy(x):
        return x.get()
    return np.asarray(x)


def as_array(x, dtype=None):
    """``x`` as an array of the active backend. Python scalars and lists become ``floatx``;
    arrays keep their dtype unless ``dtype`` is given."""
    mod = _state['xp']
    if dtype is None and isinstance(x, (int, float, list, tuple)) and not isinstance(x, (bool, np.generic)):
        dtype = floatx
    if mod is np:
        return np.asarray(to_numpy(x) if is_cupy(x) else x, dtype=dtype)
    return mod.asarray(x, dtype=dtype)


def seed(n):
    """Seed NumPy's global RNG, minidl's own generator and, when active, CuPy's."""
    np.random.seed(n)
    _rng_state['rng'] = np.random.default_rng(n)
    if _state['name'] == 'cupy':
        _state['xp'].random.seed(n)


_rng_state = {'rng': np.random.default_rng()}


def rng():
    """minidl's NumPy random generator (reseeded by ``seed``)."""
    return _rng_state['rng']


def random_uniform(shape, low=0.0, high=1.0, dtype=None):
    """Uniform samples on the active backend, reproducible under ``seed``."""
    dtype = dtype or floatx
    if _state['name'] == 'cupy':
        return _state['xp'].random.uniform(low, high, size=shape).astype(dtype, copy=False)
    return rng().uniform(low, high, size=shape).astype(dtype, copy=False)


def random_unit(shape, dtype=None):
    """U[0, 1) samples drawn directly in ``dtype`` (float32 by default): no float64 draw and
    cast, for masks such as dropout's."""
    dtype = dtype or floatx
    if _state['name'] == 'cupy':
        return _state['xp'].random.random(shape, dtype=dtype)
    return rng().random(shape, dtype=dtype)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None):
    """Normal samples on the active backend, reproducible under ``seed``."""
    dtype = dtype or floatx
    if _state['name'] == 'cupy':
        return _state['xp'].random.normal(mean, stddev, size=shape).astype(dtype, copy=False)
    return rng().normal(mean, stddev, size=shape).astype(dtype, copy=False)


if os.environ.get('MINIDL_BACKEND'):
    set_backend(os.environ['MINIDL_BACKEND'])


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices accumulate (in place)."""
    if is_cupy(target):
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)


_kernels = {}


def elementwise_kernel(name, in_params, out_params, operation):
    """A memoized ``cupy.ElementwiseKernel``: one fused GPU kernel instead of a chain of
    elementwise calls (each a launch and a pass over memory). Output parameters may be read
    too, so an update rule can work in place, e.g. ``'T g, T lr', 'T w', 'w -= lr * g'``."""
    kernel = _kernels.get(name)
    if kernel is None:
        kernel = _kernels[name] = _import_cupy().ElementwiseKernel(in_params, out_params, operation, name)
    return kernel
