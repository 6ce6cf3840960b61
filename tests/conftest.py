"""Shared test setup: float64 gradient checks, a `gpu` marker that skips without CUDA, and a
hypothesis profile small enough for 2 CI cores."""
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Keras 3 is an optional test oracle: on PyTorch (its TensorFlow backend's oneDNN float32
# convolution returns garbage for some shapes, and TF is slower to start). Set before any import.
os.environ.setdefault('KERAS_BACKEND', 'torch')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import minidl  # noqa: E402

settings.register_profile('ci', max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))


def cuda_available():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason='needs CuPy and a CUDA device')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same RNG state on the backend chosen by MINIDL_BACKEND, and the
    tests after it run there too: a test that switches backends cannot leak its choice (the GPU
    suite once ran on NumPy from the first test that switched back)."""
    chosen = minidl.get_backend()
    minidl.seed(0)
    yield
    minidl.set_backend(chosen)
    # torch.set_flush_denormal(True) (benchmarks/model_defs.py's LSTM, as the benchmark compares like
    # with like) sets the CPU's flush-to-zero mode for the whole process: hypothesis then refuses
    # to draw floats in every later test. Each test leaves the mode as it found it.
    torch = sys.modules.get('torch')
    if torch is not None:
        torch.set_flush_denormal(False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope='session')
def keras():
    """Keras 3 as an oracle (on PyTorch); the test is skipped when Keras or PyTorch is absent."""
    return pytest.importorskip('keras')
