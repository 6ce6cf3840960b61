"""How many GPU operations does one minidl training step issue? Counted on the CPU, no GPU needed.

    python benchmarks/count_launches.py [--models cifar10_k.arch2 ej8_dense] [--rev main] \
        [--batch-size B] [--markdown FILE] [--json-out FILE]

On the GPU minidl's step is bound by the host: every CuPy call is one kernel launch (or a cuBLAS
call, a memset, a copy) costing ~10-30 us of Python and driver time, whatever its size. This
script runs minidl's **CuPy code path** on the CPU by putting a counting stand-in for ``cupy`` in
``sys.modules`` before minidl selects its backend:

* arrays are a NumPy subclass whose type lives in a module named ``cupy...``, so minidl's
  ``is_cupy`` is true and every fast form takes its CUDA branch;
* ``cupy.ElementwiseKernel`` is a stand-in that counts one **fused** launch per call (by kernel
  name) and returns zero-filled outputs of the right shape and dtype: the numbers are not
  computed, only the control flow and the shapes are real (counts do not depend on values);
* every other operation is counted once, at the outermost call, as what CuPy would issue:
  a ufunc call is one **elementwise** kernel, a ufunc reduction or ``sum``/``mean``/``max`` one
  **reduction**, ``@``/``dot``/``matmul`` one **gemm** (cuBLAS; a GEMV for column sums), a
  copy (``astype``, ``copy``, non-contiguous ``ascontiguousarray``/``reshape``, fancy indexing,
  ``__setitem__``, ``concatenate``) one **copy** kernel, ``zeros``/``ones``/``full``/``fill`` one
  **fill**, a random draw one **random** (cuRAND), and host<->device data one **transfer**;
  views (slicing, ``reshape`` of contiguous data, ``transpose``) and ``empty`` cost nothing.

The counts are those of CuPy's API as minidl calls it, not of CUPTI: a cuBLAS call may launch two
kernels, and CuPy's ``pad`` or ``random`` may launch more than one. The record of a GPU profile
(benchmarks/RESULTS.md: 248 kernels per arch2 step at 40dd7eb) is the cross-check. ``--rev``
counts a git revision too (checked out by ``git worktree``), for before/after tables.
"""
import argparse
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CATEGORIES = ('fused', 'elementwise', 'reduction', 'gemm', 'copy', 'fill', 'random', 'transfer')

_counts = collections.Counter()          # (category, name) -> launches
_state = {'depth': 0, 'on': True}


def _count(category, name, n=1):
    if _state['on'] and _state['depth'] == 0 and n:
        _counts[(category, name)] += n


@contextlib.contextmanager
def _inside():
    """Operations issued while one counted operation runs are part of it (not counted again)."""
    _state['depth'] += 1
    try:
        yield
    finally:
        _state['depth'] -= 1


def _plain(a):
    return a.view(np.ndarray) if isinstance(a, FakeArray) else a


def _fake(a):
    if isinstance(a, np.ndarray) and not isinstance(a, FakeArray):
        return a.view(FakeArray)
    if isinstance(a, np.generic):   # CuPy gives 0-d arrays where NumPy gives scalars
        return np.asarray(a).view(FakeArray)
    if isinstance(a, tuple):
        return tuple(_fake(x) for x in a)
    if isinstance(a, list):
        return [_fake(x) for x in a]
    return a


def _plain_args(args):
    return tuple(_plain_args(a) if isinstance(a, (tuple, list)) else _plain(a) for a in args) \
        if isinstance(args, tuple) else [_plain(a) for a in args]


REDUCTIONS = {'sum', 'mean', 'max', 'min', 'amax', 'amin', 'argmax', 'argmin', 'any', 'all', 'prod', 'count_nonzero',
              'var', 'std', 'nansum', 'nanmax', 'nanmin', 'cumsum', 'logsumexp', 'norm', 'average'}
GEMMS = {'dot', 'matmul', 'tensordot', 'einsum', 'inner', 'outer', 'vdot'}
VIEWS = {'reshape', 'transpose', 'swapaxes', 'moveaxis', 'expand_dims', 'squeeze', 'broadcast_to', 'atleast_1d',
         'atleast_2d', 'atleast_3d', 'shape', 'ndim', 'size', 'result_type', 'may_share_memory', 'shares_memory',
         'iscomplexobj', 'isscalar', 'can_cast', 'broadcast_arrays', 'split', 'array_split', 'diagonal',
         'flip', 'rollaxis', 'empty_like', 'isrealobj', 'ravel_multi_index', 'unravel_index', 'as_strided'}
FILLS = {'zeros', 'ones', 'full', 'zeros_like', 'ones_like', 'full_like', 'eye', 'identity', 'arange', 'linspace', 'tri'}
COPIES = {'concatenate', 'stack', 'hstack', 'vstack', 'copy', 'copyto', 'take', 'take_along_axis', 'put_along_axis',
          'where', 'clip', 'pad', 'tile', 'repeat', 'roll', 'sort', 'argsort', 'cumprod', 'diff', 'triu', 'tril',
          'put', 'choose', 'compress', 'searchsorted', 'unique', 'nonzero', 'flatnonzero', 'around', 'round',
          'isclose', 'allclose', 'array_equal', 'outer', 'kron', 'meshgrid', 'indices', 'histogram', 'bincount'}


def _category(name):
    if name in VIEWS:
        return None
    if name in REDUCTIONS:
        return 'reduction'
    if name in GEMMS:
        return 'gemm'
    if name in FILLS:
        return 'fill'
    return 'copy'


class FakeArray(np.ndarray):
    """A NumPy array that minidl takes for a CuPy array; every operation on it is counted."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if ufunc is np.matmul:
            _count('gemm', 'matmul')
        elif method == '__call__':
            _count('elementwise', ufunc.__name__)
        else:
            _count('reduction', f'{ufunc.__name__}.{method}')
        if out is not None:
            kwargs['out'] = tuple(_plain(o) for o in out)
        with _inside():
            result = getattr(ufunc, method)(*(_plain(x) for x in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _fake(result)

    def __array_function__(self, func, types_, args, kwargs):
        name = func.__name__
        category = _category(name)
        if name == 'ascontiguousarray':
            category = None if args and getattr(args[0], 'flags', None) is not None and args[0].flags.c_contiguous \
                else 'copy'
        if category:
            _count(category, name)
        with _inside():
            result = func(*_plain_args(tuple(args)), **{k: _plain(v) for k, v in kwargs.items()})
        return _fake(result)

    # methods that copy or fill (ufunc-backed methods such as sum are counted as reductions)
    def astype(self, dtype, *args, copy=True, **kwargs):
        if copy or np.dtype(dtype) != self.dtype:
            _count('copy', 'astype')
        with _inside():
            return _fake(self.view(np.ndarray).astype(dtype, *args, copy=copy, **kwargs))

    def copy(self, *args, **kwargs):
        _count('copy', 'copy')
        with _inside():
            return _fake(self.view(np.ndarray).copy(*args, **kwargs))

    def fill(self, value):
        _count('fill', 'fill')
        self.view(np.ndarray).fill(value)

    def mean(self, *args, **kwargs):        # one reduction kernel in CuPy (NumPy: a sum and a divide)
        _count('reduction', 'mean')
        with _inside():
            return _fake(self.view(np.ndarray).mean(*args, **kwargs))

    def reshape(self, *shape, **kwargs):
        plain = self.view(np.ndarray)
        result = plain.reshape(*shape, **kwargs)
        if result.size and not np.shares_memory(result, plain):
            _count('copy', 'reshape')
        return _fake(result)

    def ravel(self, *args, **kwargs):
        return self.reshape(-1)

    def flatten(self, *args, **kwargs):
        _count('copy', 'flatten')
        return _fake(self.view(np.ndarray).flatten(*args, **kwargs))

    def __getitem__(self, index):
        plain = self.view(np.ndarray)
        with _inside():
            result = plain[_plain_args(index) if isinstance(index, tuple) else _plain(index)]
        if isinstance(result, np.ndarray) and result.size and not np.shares_memory(result, plain):
            _count('copy', 'getitem')
        return _fake(result)

    def __setitem__(self, index, value):
        _count('copy', 'setitem')
        with _inside():
            self.view(np.ndarray)[_plain_args(index) if isinstance(index, tuple) else _plain(index)] = _plain(value)

    def get(self, *args, **kwargs):
        _count('transfer', 'device_to_host')
        return np.array(self.view(np.ndarray))

    def item(self, *args):
        _count('transfer', 'device_to_host')
        return self.view(np.ndarray).item(*args)

    def __float__(self):
        _count('transfer', 'device_to_host')
        return float(self.view(np.ndarray))

    def __int__(self):
        _count('transfer', 'device_to_host')
        return int(self.view(np.ndarray))

    def __bool__(self):
        _count('transfer', 'device_to_host')
        return bool(self.view(np.ndarray))

    def tolist(self):
        _count('transfer', 'device_to_host')
        return self.view(np.ndarray).tolist()

    def __array_finalize__(self, obj):
        pass


FakeArray.__module__ = 'cupy._core.core'   # what minidl's is_cupy() looks at
FakeArray.__name__ = FakeArray.__qualname__ = 'ndarray'


class ElementwiseKernel:
    """One fused launch per call; outputs zero-filled (or the given ones, left as they are)."""

    def __init__(self, in_params, out_params, operation, name='kernel', **kwargs):
        self.name = name
        self.ins = [p.split() for p in in_params.split(',') if p.strip()]
        self.outs = [p.split() for p in out_params.split(',') if p.strip()]

    def __call__(self, *args, size=None, **kwargs):
        _count('fused', self.name)
        if len(args) >= len(self.ins) + len(self.outs):
            outs = args[len(self.ins):len(self.ins) + len(self.outs)]
            return outs[0] if len(outs) == 1 else tuple(outs)
        arrays = [(p, a) for p, a in zip(self.ins, args) if isinstance(a, np.ndarray)]
        elementwise = [a for p, a in arrays if p[0] != 'raw']
        shape = np.broadcast_shapes(*(a.shape for a in elementwise)) if elementwise else (size or 1,)
        typed = {}
        for p, a in arrays:
            typed.setdefault(p[-2], a.dtype)
        outs = []
        for p in self.outs:
            kind = p[-2]
            dtype = typed.get(kind) or (np.dtype(kind) if kind not in ('T', 'M', 'U') else np.float32)
            outs.append(np.zeros(shape, dtype).view(FakeArray))
        return outs[0] if len(outs) == 1 else tuple(outs)


def _wrap(name, func):
    category = _category(name)

    def wrapper(*args, **kwargs):
        if name in ('asarray', 'array', 'ascontiguousarray'):
            src = args[0] if args else kwargs.get('a', kwargs.get('obj'))
            if not isinstance(src, FakeArray):
                _count('transfer', 'host_to_device')
            elif name == 'array' or (name == 'ascontiguousarray' and not src.flags.c_contiguous) \
                    or ('dtype' in kwargs and kwargs['dtype'] is not None and np.dtype(kwargs['dtype']) != src.dtype):
                _count('copy', name)
        elif name in ('empty',):
            pass
        elif category:
            _count(category, name)
        with _inside():
            result = func(*_plain_args(tuple(args)), **{k: _plain(v) for k, v in kwargs.items()})
        return _fake(result)
    wrapper.__name__ = name
    return wrapper


def _random_module():
    rng = np.random.default_rng(0)
    mod = types.ModuleType('cupy.random')

    def draw(kind):
        def f(*args, size=None, dtype=None, **kwargs):
            _count('random', kind)
            if kind == 'random':
                shape = args[0] if args else size
                return rng.random(shape, dtype=np.float32 if np.dtype(dtype or np.float64) == np.float32 else
                                  np.float64).view(FakeArray)
            low_or_mean, high_or_std = (args + (0.0, 1.0))[:2]
            out = getattr(rng, kind)(low_or_mean, high_or_std, size=size)
            return (out.astype(dtype) if dtype is not None else out).view(FakeArray)
        return f
    mod.random = mod.random_sample = draw('random')
    mod.uniform = draw('uniform')
    mod.normal = draw('normal')
    mod.seed = lambda *a, **k: None

    class RandomState:
        def __init__(self, seed=None):
            pass
        uniform = staticmethod(mod.uniform)
        normal = staticmethod(mod.normal)
        random_sample = staticmethod(mod.random)
    mod.RandomState = RandomState
    mod.get_random_state = lambda: RandomState()
    return mod


def install():
    """Put the counting ``cupy`` (and ``cupyx``) into ``sys.modules``; returns the module."""
    cupy = types.ModuleType('cupy')
    cupy.__dict__['__file__'] = __file__
    cupy.ndarray = FakeArray
    cupy.ElementwiseKernel = ElementwiseKernel
    cupy.random = _random_module()
    cuda = types.ModuleType('cupy.cuda')
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, deviceSynchronize=lambda: None)
    cuda.Device = lambda *a: types.SimpleNamespace(synchronize=lambda: None, id=0)
    cuda.get_current_stream = lambda: types.SimpleNamespace(synchronize=lambda: None)
    cupy.cuda = cuda
    pool = types.SimpleNamespace(total_bytes=lambda: 0, used_bytes=lambda: 0, free_all_blocks=lambda: None)
    cupy.get_default_memory_pool = lambda: pool
    cupy.asnumpy = lambda a, *args, **kwargs: a.get() if isinstance(a, FakeArray) else np.asarray(a)
    cupy.get_array_module = lambda *args: cupy
    cupy.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
        as_strided=lambda a, *args, **kwargs: _fake(np.lib.stride_tricks.as_strided(_plain(a), *args, **kwargs))))

    def module_getattr(name):
        value = getattr(np, name)
        if isinstance(value, np.ufunc) or isinstance(value, type) or not callable(value):
            return value
        wrapped = _wrap(name, value)
        setattr(cupy, name, wrapped)
        return wrapped
    cupy.__getattr__ = module_getattr
    cupyx = types.ModuleType('cupyx')

    def scatter_add(target, index, values):
        _count('copy', 'scatter_add')
        with _inside():
            np.add.at(_plain(target), _plain_args(index) if isinstance(index, tuple) else _plain(index), _plain(values))
    cupyx.scatter_add = scatter_add
    sys.modules.update({'cupy': cupy, 'cupy.cuda': cuda, 'cupy.random': cupy.random, 'cupyx': cupyx})
    return cupy


def reset():
    _counts.clear()


def counts():
    """{(category, name): launches} since the last reset()."""
    return dict(_counts)


def summary(found):
    """{category: launches} and the total."""
    by = collections.Counter()
    for (category, _), n in found.items():
        by[category] += n
    return {c: by.get(c, 0) for c in CATEGORIES}, sum(by.values())


def count_step(model_name, batch_size=None, steps=1):
    """Launches per training step of ``model_name`` (``train_on_batch`` on one batch after two
    warm-up steps) on the counting stand-in: ({(category, name): n per step}, fast forms chosen)."""
    install()
    sys.path.insert(0, HERE)
    import minidl
    import model_defs
    from minidl import kernels
    minidl.set_backend('cupy')
    spec = model_defs.get_spec(model_name)
    _state['on'] = False
    model = model_defs.build_keras_style(spec.name, model_defs.keras_api('minidl'))
    x, y = model_defs.make_data(spec, batch_size or spec.batch_size)
    x, y = minidl.backend.as_array(x), minidl.backend.as_array(y)   # data on the device, as bench_models keeps it
    for _ in range(2):
        model.train_on_batch(x, y)
    reset()
    if hasattr(kernels, 'reset_launches'):
        kernels.reset_launches()
    _state['on'] = True
    for _ in range(steps):
        model.train_on_batch(x, y)
    _state['on'] = False
    chosen = kernels.launches() if hasattr(kernels, 'launches') else {}
    return ({k: v / steps for k, v in counts().items()}, {k: v / steps for k, v in chosen.items()})


def _child(model, batch_size, tree):
    """Count in a fresh process importing minidl from ``tree``."""
    env = dict(os.environ, PYTHONPATH=tree, MINIDL_KERNELS='fast')
    env.pop('MINIDL_BACKEND', None)
    code = (f'import sys, json; sys.path.insert(0, {HERE!r}); import count_launches as c; '
            f'found, chosen = c.count_step({model!r}, {batch_size!r}); '
            'print("COUNTS " + json.dumps({"found": [[k[0], k[1], v] for k, v in found.items()], "chosen": chosen}))')
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=3600,
                          cwd=tree)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('COUNTS ')]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or '').strip().splitlines()[-3:]
        raise RuntimeError(f'counting {model} in {tree} failed: ' + ' / '.join(tail))
    data = json.loads(lines[-1][len('COUNTS '):])
    return {(c, n): v for c, n, v in data['found']}, data['chosen']


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=['cifar10_k.arch2', 'ej8_dense', 'imdb_bow', 'ej8_conv'])
    p.add_argument('--rev', help='also count this git revision (before/after)')
    p.add_argument('--batch-size', type=int)
    p.add_argument('--top', type=int, default=12, help='operations listed per model')
    p.add_argument('--json-out')
    p.add_argument('--markdown')
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from compare import Worktree, git
    trees = [('this tree', ROOT, git('rev-parse', '--short', 'HEAD'))]
    with contextlib.ExitStack() as stack:
        if args.rev:
            trees.insert(0, (f'`{args.rev}`', stack.enter_context(Worktree(args.rev)), git('rev-parse', '--short', args.rev)))
        results = {(m, name): _child(m, args.batch_size, tree) for m in args.models for name, tree, _ in trees}
    lines = ['GPU operations per training step of minidl\'s CuPy path, counted on the CPU '
             '(`benchmarks/count_launches.py`; one `train_on_batch` after two warm-up steps). Command: '
             '`python benchmarks/count_launches.py ' + ' '.join(argv if argv is not None else sys.argv[1:]) + '`',
             '', '| model | tree | ' + ' | '.join(CATEGORIES) + ' | total |',
             '| --- | --- |' + ' ---: |' * (len(CATEGORIES) + 1)]
    for m in args.models:
        for name, _, commit in trees:
            by, total = summary(results[(m, name)][0])
            lines.append(f'| {m} | {name} ({commit}) | ' + ' | '.join(f'{by[c]:g}' for c in CATEGORIES)
                         + f' | **{total:g}** |')
    lines.append('')
    for m in args.models:
        name, _, commit = trees[-1]
        found, chosen = results[(m, name)]
        top = sorted(found.items(), key=lambda kv: -kv[1])[:args.top]
        lines.append(f'{m} ({commit}), largest counts: ' + ', '.join(f'{n} {c} {v:g}' for (c, n), v in top)
                     + '; fast forms chosen: ' + (', '.join(f'{k} {v:g}' for k, v in sorted(chosen.items())) or 'none'))
        lines.append('')
    text = '\n'.join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text)
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump({f'{m}|{n}': {'found': [[k[0], k[1], v] for k, v in r[0].items()], 'chosen': r[1]}
                       for (m, n), r in results.items()}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
