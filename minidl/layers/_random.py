"""Random numbers for layers with a ``seed=`` argument (dropout masks, noise, augmentation).

A layer owns one ``LayerRandom``. With a seed it draws from its own generator, so two layers
made with the same seed draw the same numbers, call after call; without one it draws from
minidl's global generator, which ``minidl.seed(n)`` resets. Arrays are made on the array module
asked for: NumPy's ``Generator``, or CuPy's ``RandomState`` on the GPU (the per-pixel draws of
a GPU batch are made on the GPU; the few per-image parameters always come from NumPy).
"""
import numpy as np

from .. import backend


class LayerRandom:
    def __init__(self, seed=None):
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise ValueError(f'seed must be None or a non-negative integer, got {seed!r}.')
        self.seed = None if seed is None else int(seed)
        self._host = None if seed is None else np.random.default_rng(self.seed)
        self._device = None

    @property
    def host(self):
        """The NumPy generator: the layer's own when seeded, else minidl's global one."""
        return self._host if self._host is not None else backend.rng()

    def _cupy_state(self, xp):
        if self.seed is None:
            return xp.random           # the global CuPy generator (seeded by minidl.seed)
        if self._device is None:
            self._device = xp.random.RandomState(self.seed)
        return self._device

    def uniform(self, shape, xp=np, dtype=None, low=0.0, high=1.0):
        """U[low, high) samples of ``shape`` on ``xp``."""
        dtype = np.dtype(dtype or backend.floatx)
        if xp is np:
            u = self.host.random(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
            return (u * dtype.type(high - low) + dtype.type(low)).astype(dtype, copy=False) if (low, high) != (0, 1) \
                else u.astype(dtype, copy=False)
        return self._cupy_state(xp).uniform(low, high, size=shape, dtype=dtype)

    def normal(self, shape, xp=np, dtype=None, mean=0.0, stddev=1.0):
        """N(mean, stddev^2) samples of ``shape`` on ``xp``."""
        dtype = np.dtype(dtype or backend.floatx)
        if xp is np:
            z = self.host.standard_normal(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
            return (z * dtype.type(stddev) + dtype.type(mean)).astype(dtype, copy=False)
        return self._cupy_state(xp).normal(mean, stddev, size=shape, dtype=dtype)
