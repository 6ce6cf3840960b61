"""Host memory: keep NumPy's freed buffers in the process instead of giving them back at once.

glibc serves large allocations (NumPy's batch-sized activations and gradients) with ``mmap`` and
returns them with ``munmap`` when they are freed, so every training step faults its whole working
set into memory again, page by page and zero-filled. On the course's dense MNIST model that was
60 % of the epoch. minidl asks glibc (``mallopt``) to serve every size from its heap and never to
trim the heap: freed buffers are reused by the next step, as CuPy's memory pool does on the GPU.
The price is that the process keeps its peak memory until it exits.

``import minidl`` does this once on Linux with glibc. ``MINIDL_HOST_MEMORY=system`` leaves the
allocator as it is; elsewhere (macOS, Windows, musl) nothing changes.
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1   # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_MAX = -4
NEVER_TRIM = 2 ** 31 - 1


def keep_freed_memory():
    """Tell glibc never to mmap or trim; True when the allocator took both settings."""
    if os.environ.get('MINIDL_HOST_MEMORY', '').lower() == 'system' or not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # only glibc has it (musl's mallopt ignores its arguments)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
