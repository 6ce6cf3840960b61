"""The fast forms of minidl's reference ops, and the one switch between the two.

``minidl/functional/`` holds the *reference* ops: one readable ``Function`` per op, plain NumPy,
the math in the docstring. This package holds their *fast* forms (CUDA kernels, fused or
in-place NumPy variants, other lowerings), one module per family:

=================  ===========================================================================
``conv.py``        ``conv``: the banded and FFT lowerings of wide 2-D kernels, depthwise convs
                   offset by offset, and im2col with the stride-1 transposed-correlation input
                   gradient (CUDA im2col on the GPU)
``pool.py``        ``max_pool``: one CUDA kernel each way for disjoint windows; offset-by-offset
                   passes written in place otherwise
``norm.py``        ``batch_norm``, ``dropout``: fused NumPy passes, one CUDA kernel per step
``activation.py``  ``relu``: the CUDA backward kernel
``reduce.py``      ``sum_to``: column sums as one BLAS matrix-vector product (bias gradients)
``linalg.py``      ``matmul``: outer products (a contraction of length 1) as broadcast products
=================  ===========================================================================

**The dispatch rule.** A fast form is registered against the name of the reference op it
replaces, with the backend it runs on and the condition under which it applies::

    @kernels.register('conv', backend='numpy', when=lambda x, w, strides, pads, op: is_wide(...))
    class FFTConv2D(Function): ...

and the reference op asks for it where it builds its Function (``functional/conv.py``)::

    f = kernels.make('conv', Conv, x, w, strides=strides, pads=pads, op=op)

``make`` returns ``Impl(**params)`` for the FIRST registered form whose backend is that of the
first input array and whose ``when(*inputs, **params)`` is true (forms are tried in registration
order, the most specialised first), else the reference ``Conv(**params)``. A fast Function class
takes the same constructor parameters as its reference, computes the same function and returns
the same gradients; it needs nothing from the reference module to be understood. (For
``sum_to``, which is a function and not a Function, ``find`` returns the fast function itself.)

The switch: ``MINIDL_KERNELS=reference|fast`` (default ``fast``), or ``minidl.use_kernels('reference')``
(a function, and a context manager). With ``reference`` no fast form is ever chosen, so any
program runs on the readable code alone. Every fast form is tested equal to its reference
(``tests/test_kernels.py``).

``launches()`` counts how often each fast form was chosen since the last ``reset_launches()``:
the dispatch counter that tells how many fused kernels a training step issues.
"""
import collections
import contextlib
import os

_MODES = ('reference', 'fast')
_state = {'mode': os.environ.get('MINIDL_KERNELS', 'fast').strip().lower() or 'fast'}
if _state['mode'] not in _MODES:
    raise ValueError(f"MINIDL_KERNELS={os.environ['MINIDL_KERNELS']!r}: choose 'reference' or 'fast'.")

_registry = collections.defaultdict(list)   # op name -> [Entry, ...] in registration order
_launches = collections.Counter()

Entry = collections.namedtuple('Entry', 'op impl backend when description')


def kernels_mode():
    """'fast' (the default) or 'reference'."""
    return _state['mode']


class use_kernels(contextlib.ContextDecorator):
    """``minidl.use_kernels('reference')`` switches for the rest of the program; used as
    ``with minidl.use_kernels('reference'): ...`` it switches for the block only."""

    def __init__(self, mode):
        mode = str(mode).strip().lower()
        if mode not in _MODES:
            raise ValueError(f"use_kernels: choose 'reference' or 'fast', got {mode!r}.")
        self._previous = _state['mode']
        _state['mode'] = mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state['mode'] = self._previous
        return False


def register(op, backend=None, when=None, description=''):
    """Decorator: ``impl`` is a fast form of the reference op ``op``. ``backend`` is 'numpy',
    'cupy' or None (both); ``when(*args, **kwargs)`` says whether it applies to a call."""
    if backend not in (None, 'numpy', 'cupy'):
        raise ValueError(f"register: backend must be 'numpy', 'cupy' or None, got {backend!r}.")

    def decorator(impl):
        _registry[op].append(Entry(op, impl, backend, when, description or (impl.__doc__ or '').strip()))
        return impl
    return decorator


def _backend_of(args):
    for a in args:
        if not type(a).__module__.startswith(('numpy', 'cupy')):
            a = getattr(a, 'data', a)   # a Tensor or Variable: its array (an array's own .data is its buffer)
        if hasattr(a, 'shape') and hasattr(a, 'dtype'):
            return 'cupy' if type(a).__module__.startswith('cupy') else 'numpy'
    return 'numpy'


# The modules holding the fast forms register them when imported; they import the reference
# ops (and through them the engine), so they are loaded on the first look-up, not at import.
_FORM_MODULES = ('conv', 'pool', 'norm', 'activation', 'reduce', 'linalg')
_loaded = []


def _load_forms():
    import importlib
    _loaded.append(True)
    for name in _FORM_MODULES:
        importlib.import_module(f'{__name__}.{name}')


def find(op, /, *args, **kwargs):
    """The fast form registered for ``op`` that applies to these arguments, or None (always
    None in reference mode). The backend is that of the first array among ``args``."""
    if _state['mode'] == 'reference':
        return None
    if not _loaded:
        _load_forms()
    entries = _registry.get(op)
    if not entries:
        return None
    backend = _backend_of(args)
    for entry in entries:
        if entry.backend not in (None, backend):
            continue
        if entry.when is None or entry.when(*args, **kwargs):
            _launches[entry.impl.__name__] += 1
            return entry.impl
    return None


def make(op, reference, /, *inputs, **params):
    """The Function that computes ``op`` on ``inputs``: the fast form that ``find`` picks, else
    the ``reference`` class, built with ``params`` (the reference constructor's keywords)."""
    impl = find(op, *inputs, **params)
    return (impl or reference)(**params)


def registered(op=None):
    """Every registered fast form (or those of ``op``), for tests and docs."""
    if not _loaded:
        _load_forms()
    if op is not None:
        return list(_registry.get(op, ()))
    return [e for entries in _registry.values() for e in entries]


def launches():
    """How many times each fast form was chosen since ``reset_launches()``."""
    return dict(_launches)


def reset_launches():
    _launches.clear()
