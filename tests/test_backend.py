import os
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import backend


def test_numpy_backend_roundtrip():
    old = minidl.get_backend()
    try:
        minidl.set_backend('numpy')
        assert minidl.get_backend() == 'numpy'
        t = minidl.Tensor([1.0, 2.0])
        assert isinstance(t.data, np.ndarray) and t.dtype == np.float32
        assert minidl.get_array_module(t.data) is np
    finally:
        minidl.set_backend(old)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="choose 'numpy' or 'cupy'"):
        minidl.set_backend('tensorflow')


def test_cupy_unavailable_says_what_to_install(monkeypatch):
    """The hint names what an index serves (CuPy's wheels) and the extras only from a checkout:
    'pip install "minidl[cuda12]"' fails, minidl is on no index (issue 13)."""
    old = minidl.get_backend()
    monkeypatch.setitem(sys.modules, 'cupy', None)  # import cupy raises ImportError, also where CuPy is installed
    with pytest.raises(minidl.BackendError) as info:
        minidl.set_backend('cupy')
    message = str(info.value)
    assert 'pip install cupy-cuda12x' in message and 'pip install cupy-cuda13x' in message
    assert 'pip install -e ".[cuda12]"' in message and '"minidl[cuda12]"' not in message
    assert minidl.get_backend() == old


def test_env_variable_selects_backend_at_import():
    code = 'import minidl; print(minidl.get_backend())'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env={'MINIDL_BACKEND': 'numpy', 'PATH': ''})
    assert out.stdout.strip() == 'numpy'


def test_to_numpy_and_dtypes():
    t = minidl.Tensor(np.arange(3.0))  # float64 stays float64
    assert t.dtype == np.float64
    assert isinstance(minidl.to_numpy(t), np.ndarray)
    assert minidl.Tensor(3).dtype == np.float32  # Python scalars become floatx


def test_seed_makes_draws_reproducible():
    minidl.seed(123)
    a = backend.to_numpy(backend.random_normal((4,)))
    minidl.seed(123)
    b = backend.to_numpy(backend.random_normal((4,)))
    np.testing.assert_array_equal(a, b)


def test_import_needs_only_numpy_and_scipy():
    code = ('import sys; sys.modules.update({m: None for m in ("cupy", "h5py", "matplotlib", "torch")}); '
            'import minidl, minidl.functional; print("ok")')
    env = {k: v for k, v in os.environ.items() if k != 'MINIDL_BACKEND'}
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == 'ok', out.stderr


@pytest.mark.gpu
def test_cupy_backend_matches_numpy():
    import minidl.functional as F
    x = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    ref = F.softmax(minidl.Tensor(x) * 3).numpy()
    old = minidl.get_backend()
    try:
        minidl.set_backend('cupy')
        t = minidl.Tensor(x, requires_grad=True)
        y = F.softmax(t * 3)
        y.sum().backward()
        assert minidl.backend.is_cupy(t.grad.data)
        np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-6)
    finally:
        minidl.set_backend(old)


REALLOCATE_AND_COUNT_FAULTS = '''
import resource, numpy as np, minidl
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(2 ** 24, np.float32); del a      # 64 MiB, above glibc's largest mmap threshold
before = faults(); a = np.ones(2 ** 24, np.float32)
print(faults() - before)
'''


def _reallocation_faults(setting):
    env = dict(os.environ, MINIDL_HOST_MEMORY=setting)
    out = subprocess.run([sys.executable, '-c', REALLOCATE_AND_COUNT_FAULTS], capture_output=True,
                         text=True, env=env, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not minidl.host_memory.keep_freed_memory(), reason='needs Linux with glibc')
def test_freed_arrays_are_reused_without_page_faults():
    kept, system = _reallocation_faults('keep'), _reallocation_faults('system')
    assert system >= 32, system     # glibc alone unmaps the freed buffer: it faults in again (32 at
    assert kept <= 8, (kept, system)  # the least, with 2 MiB huge pages); kept, it is reused as it is
