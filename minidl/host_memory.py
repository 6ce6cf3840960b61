"""Host memory: keep NumPy's freed buffers in the process instead of giving them back at once.

glibc serves large allocations (NumPy's batch-sized activations and gradients) with ``mmap`` and
returns them with ``munmap`` when they are freed, so every training step faults its whole working
set into memory again, page by page and zero-filled. On the course's dense MNIST model that was
60 % of the epoch. minidl asks glibc (``mallopt``) to serve every size from its heap and never to
trim the heap: freed buffers are reused by the next step, as CuPy's memory pool does on the GPU.
The price is that the process keeps its peak memory until it exits.

``import minidl`` does this once on Linux with glibc. ``MINIDL_HOST_MEMORY=system`` leaves the
allocator as it is; elsewhere (macOS, Windows, musl) nothing changes. ``state`` records what
happened (``'kept'``, ``'system'`` when opted out, ``'unsupported'``), and ``refault_pages()``
measures whether it is in effect in this process (benchmarks record both).
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1   # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_MAX = -4
NEVER_TRIM = 2 ** 31 - 1

state = {'setting': None}   # 'kept' / 'system' / 'unsupported' after keep_freed_memory()


def keep_freed_memory():
    """Tell glibc never to mmap or trim; True when the allocator took both settings."""
    if os.environ.get('MINIDL_HOST_MEMORY', '').lower() == 'system':
        state['setting'] = 'system'
        return False
    if not sys.platform.startswith('linux'):
        state['setting'] = 'unsupported'
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # only glibc has it (musl's mallopt ignores its arguments)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        state['setting'] = 'unsupported'
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    kept = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
    state['setting'] = 'kept' if kept else 'unsupported'
    return kept


def refault_pages(nbytes=16 * 2 ** 20):
    """Minor page faults of allocating, touching and freeing ``nbytes`` a second time, or None
    where ``resource`` is missing. ~0 when freed memory is kept (the setting is in effect);
    hundreds (nbytes / 4096 without transparent huge pages) when the allocator gives large blocks
    back to the system at each free."""
    try:
        import resource
    except ImportError:
        return None
    import numpy as np

    def touch():
        a = np.empty(nbytes, np.uint8)
        a.fill(1)
        del a
    touch()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    touch()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
