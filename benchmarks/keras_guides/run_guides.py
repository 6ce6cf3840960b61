#!/usr/bin/env python
"""How much of keras-io's developer guides runs on minidl after an import swap, cell by cell.

Each guide (``guides/*.py`` in keras-io's source form, or ``guides/*.ipynb``, its Colab form) is
split into the code cells a notebook reader runs: the code between the ``\"\"\"`` markdown blocks,
the setup cell included. The only edit is the import swap:

    import keras            ->  import minidl as keras
    import keras as k       ->  import minidl as k
    from keras import X     ->  from minidl import X
    from keras.X import Y   ->  from minidl.X import Y       (``keras.src...`` is left alone)

Attribute paths (``keras.layers.Dense``, ``keras.ops.matmul``) are left as written: they resolve
against minidl through the alias. ``os.environ["KERAS_BACKEND"] = ...`` lines stay; minidl does
not read that variable.

The cells of one guide run in order in one namespace, each by ``exec`` in the same process, with a
wall-clock limit per cell (``--cell-timeout``). Each guide runs in its own worker process (so one
guide's registrations and imports cannot leak into the next, and a total budget per guide can be
enforced), in a fresh temporary directory (the files the guides save land there).

Out of scope -- counted apart, by this written rule, decided from the cell's text before it runs:
a cell is out of scope when one of its statements

1. is a ``\"\"\"shell`` block or an IPython ``!``/``%`` line (not Python);
2. imports a package no minidl user has here: ``tensorflow_datasets``, ``jax``, ``jaxlib``,
   ``flax``, ``tf_keras``, ``keras_hub``, ``keras_nlp``, ``keras_cv``, ``keras_tuner``
   (``import tensorflow`` alone is allowed: TensorFlow is installed here as an oracle, and the
   import does nothing by itself -- but every name it binds is TensorFlow's, see 3);
3. reads a name bound to something of those packages or of TensorFlow: ``tf``, ``tfds``, a
   name imported ``from tensorflow ...`` (``from tensorflow import keras`` included), and any
   name that an out-of-scope statement assigned and no later in-scope statement re-assigned
   (``train_ds = tf.data...`` makes ``train_ds`` TensorFlow's; ``model.fit(train_ds)`` is then
   out of scope too);
4. uses ``keras.distribution``, downloads (``get_file``, a literal ``http(s)://`` URL, a
   ``keras.applications`` model without ``weights=None``: pretrained weights), or a GPU
   (``.cuda()``).

PyTorch (installed, and what the torch-flavoured guides are written against) is in scope.
Out-of-scope cells still run, so that later cells see the state the guide builds, but they are
not counted as ran or failed. Everything else is "in scope" and ends as ``ran`` (no exception),
``failed`` (an exception), ``cut`` (the cell's time limit) or ``not reached`` (the guide's budget).
A failure whose ``NameError`` names something an earlier failed cell should have defined is marked
as a cascade of that cell, so the independent failures can be told apart.

The control: ``--framework keras`` runs the same cells, unswapped, on Keras 3 itself (PyTorch
backend, the installed oracle) with the same data, rule and limits. A cell that fails there too is
not minidl's to fix (a guide written against an older NumPy, a file the guide never wrote, ...).

Environment, not code: MNIST. This machine holds a real 5,000-image MNIST sample (minidl serves
it as 4,000/1,000 when the official files are absent); the guides hard-code the official sizes
(``x_train.reshape(60000, 784)``). The harness serves the sample tiled to the official
60,000/10,000 shapes (real digits, repeated) so such code runs; ``--mnist-as-is`` turns that off.
Matplotlib draws to the Agg backend; BLAS runs one thread.

    python benchmarks/keras_guides/run_guides.py --minidl . --json benchmarks/keras_guides/results/after.json
    python benchmarks/keras_guides/run_guides.py --minidl /tmp/minidl-before --json .../before.json
    python benchmarks/keras_guides/run_guides.py --framework keras --json .../keras_control.json
"""
import argparse
import ast
import builtins
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
GUIDE_DIR = os.path.join(HERE, 'guides')

# The guides, in keras.io's order, with the SHA-256 of the text stored under guides/ (see SOURCES.md
# for where each text comes from). A mismatch is reported, not fatal: the numbers then describe
# another text.
GUIDES = [
    ('functional_api', 'functional_api.py',
     'df50eaf47a889f552ee4b533f58e5ccd251fcd7b565bda9f6baeb9b6652fb1d5'),
    ('sequential_model', 'sequential_model.py',
     '8a77987f7c13b0539a7ad8f63ac2bc5ba768c0170a8f761dca543f3d10223bbb'),
    ('making_new_layers_and_models_via_subclassing', 'making_new_layers_and_models_via_subclassing.py',
     '748ea67e6ecdfcd979f72009392af9c871a381c2163d9805ac2a64d1dd30c7de'),
    ('training_with_built_in_methods', 'training_with_built_in_methods.py',
     '0747df7936f8f8389ebea7b110b90f703a5813a715287e9b436de52e2873a154'),
    ('custom_train_step_in_torch', 'custom_train_step_in_torch.py',
     '9350f2eb4981a0eab8ae507f0b43f68bce94e461a1a19c5ae8f66e94492fd7cf'),
    ('writing_a_custom_training_loop_in_torch', 'writing_a_custom_training_loop_in_torch.py',
     '65c5e9b19556e00165d50009f2f0644fc39edf261e13bbaa7952176b0d738b30'),
    ('serialization_and_saving', 'serialization_and_saving.py',
     '9bf62777200364b77012788303d8954e8881c95ee4bec5b62e2d14b0b04cf892'),
    ('customizing_saving_and_serialization', 'customizing_saving_and_serialization.py',
     'c380f0bfd2c35604dc748e7b847bc84943198169b33f25c26d0982ec216ae793'),
    ('writing_your_own_callbacks', 'writing_your_own_callbacks.py',
     '228f23dd8c984ea19c0902c96600cde037c949b9d707c0ee145918f75cd2d91f'),
    ('preprocessing_layers', 'preprocessing_layers.ipynb',
     '9366c353b886aab2264676b7a048ea2e0f472172f073a7d7f3cc50c9b72bb771'),
    ('working_with_rnns', 'working_with_rnns.ipynb',
     '2e18d3680d336afb9d9aa0c7f9c4f38cca08992519408cd2e653bd2210fcd179'),
    ('understanding_masking_and_padding', 'understanding_masking_and_padding.ipynb',
     '52dc3f380edf871463e7032d3b45d883345ff2c150a82a190905a1379a5917de'),
    ('transfer_learning', 'transfer_learning.py',
     '9d319c677f5b4c0769ddf86a1d4bb3370fd969a3dc4dfc69d0c2e518ad0eb725'),
    ('intro_to_keras_for_engineers', 'intro_to_keras_for_engineers.py',
     '981056d8390d871f262e68f8291014f5b6aea0a4ad96df51c0c6c9bc1b1e0a80'),
]

UNAVAILABLE_PACKAGES = frozenset({'tensorflow_datasets', 'jax', 'jaxlib', 'flax', 'tf_keras', 'keras_hub',
                                  'keras_nlp', 'keras_cv', 'keras_tuner'})
TENSORFLOW_PACKAGES = frozenset({'tensorflow'})
IN_SCOPE, RAN, FAILED, CUT, NOT_REACHED, OUT_OF_SCOPE = (
    'in scope', 'ran', 'failed', 'cut', 'not reached', 'out of scope')


# ----------------------------------------------------------------------------------------- cells
class Cell:
    """One code cell: its 1-based number among the guide's code cells, its kind ('code' or 'shell'),
    its source before and after the import swap, and the line where it starts in the guide."""

    def __init__(self, number, kind, source, line, swap=True):
        self.number, self.kind, self.source, self.line = number, kind, source, line
        self.swapped = swap_imports(source) if kind == 'code' and swap else source

    def __repr__(self):
        return f'Cell({self.number}, {self.kind!r}, line {self.line})'


def _is_markdown(node):
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def split_py(text, swap=True):
    """keras-io's source form: every top-level string statement is a markdown block (a block whose
    text starts with ``shell`` is a shell cell); the statements between two blocks are one code cell."""
    tree = ast.parse(text)
    lines = text.splitlines()
    cells, run = [], []

    def flush():
        if run:
            start, end = run[0].lineno, run[-1].end_lineno
            start = min([start] + [d.lineno for d in getattr(run[0], 'decorator_list', [])])
            source = '\n'.join(lines[start - 1:end]).strip('\n')
            cells.append(Cell(len(cells) + 1, 'code', source, start, swap))
            run.clear()

    for node in tree.body:
        if _is_markdown(node):
            flush()
            if node.value.value.startswith('shell\n') or node.value.value.startswith('shell\r\n'):
                cells.append(Cell(len(cells) + 1, 'shell', node.value.value[len('shell'):].strip(),
                                  node.lineno))
        else:
            run.append(node)
    flush()
    return cells


def split_ipynb(text, swap=True):
    """The Colab form: the notebook's code cells, in order; a cell with an IPython ``!`` or ``%`` line
    is a shell cell."""
    notebook = json.loads(text)
    cells = []
    for index, raw in enumerate(notebook['cells']):
        if raw.get('cell_type') != 'code':
            continue
        source = raw['source'] if isinstance(raw['source'], str) else ''.join(raw['source'])
        source = source.strip('\n')
        if not source.strip():
            continue
        shell = any(line.lstrip().startswith(('!', '%')) for line in source.splitlines())
        cells.append(Cell(len(cells) + 1, 'shell' if shell else 'code', source, index + 1, swap))
    return cells


def load_cells(path, swap=True):
    """The guide's code cells; ``swap=False`` keeps ``import keras`` (the Keras 3 control run)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    return split_ipynb(text, swap) if path.endswith('.ipynb') else split_py(text, swap)


# ---------------------------------------------------------------------------------- import swap
_IMPORT_KERAS = re.compile(r'^(\s*)import keras(\s+as\s+\w+)?(\s*(#.*)?)$')
_FROM_KERAS = re.compile(r'^(\s*)from keras((?:\.(?!src\b)\w+)*)\s+import\b')


def swap_imports(source):
    """The import swap and nothing else (see the module docstring)."""
    out = []
    for line in source.split('\n'):
        m = _IMPORT_KERAS.match(line)
        if m:
            line = f'{m.group(1)}import minidl as {m.group(2).split()[-1] if m.group(2) else "keras"}' \
                   f'{m.group(3) or ""}'
        else:
            m = _FROM_KERAS.match(line)
            if m:
                line = f'{m.group(1)}from minidl{m.group(2)} import' + line[m.end():]
        out.append(line)
    return '\n'.join(out)


# ------------------------------------------------------------------------------------ the scope rule
def _dotted(node):
    """'keras.applications.VGG19' for that attribute chain on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return '.'.join(reversed(parts))
    return None


def _stored_names(nodes):
    """Names stored directly in this scope (not inside nested functions, lambdas, classes or
    comprehensions), plus the names of functions and classes defined here."""
    names = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != '*':
                    names.add(alias.asname or alias.name.split('.')[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _free_loads(stmt):
    """Names the statement reads from the module namespace (locals of nested scopes excluded)."""
    loads = set()

    def args_of(fn):
        a = fn.args
        return {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs} | \
            {x.arg for x in (a.vararg, a.kwarg) if x is not None}

    def visit(node, local):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for d in getattr(node, 'decorator_list', []):
                visit(d, local)
            for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                visit(d, local)
            body = node.body if isinstance(node.body, list) else [node.body]
            inner = local | args_of(node) | _stored_names(body)
            for b in body:
                visit(b, inner)
            return
        if isinstance(node, ast.ClassDef):
            for d in node.decorator_list + node.bases + [k.value for k in node.keywords]:
                visit(d, local)
            inner = local | _stored_names(node.body)
            for b in node.body:
                visit(b, inner)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            inner = local | _stored_names([g.target for g in node.generators])
            for child in ast.iter_child_nodes(node):
                visit(child, inner)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            loads.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    visit(stmt, frozenset())
    return loads


def _markers(stmt):
    """The reasons (rules 2 and 4) this statement, by its own text, is out of scope."""
    found = []
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or '']
            for mod in modules:
                if mod.split('.')[0] in UNAVAILABLE_PACKAGES:
                    found.append(f'imports {mod.split(".")[0]}')
        elif isinstance(node, ast.Attribute):
            name = _dotted(node)
            if name and (name == 'keras.distribution' or name.startswith('keras.distribution.')):
                found.append('uses keras.distribution')
        elif isinstance(node, ast.Call):
            name = _dotted(node.func) or ''
            if name.split('.')[-1] == 'get_file':
                found.append('downloads a file (get_file)')
            if re.search(r'(^|\.)applications\.\w+$', name) and not any(
                    k.arg == 'weights' and isinstance(k.value, ast.Constant) and k.value.value is None
                    for k in node.keywords):
                found.append(f'downloads pretrained weights ({name.split(".")[-1]})')
            if isinstance(node.func, ast.Attribute) and node.func.attr == 'cuda':
                found.append('uses a GPU (.cuda())')
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                re.match(r'https?://', node.value):
            found.append('downloads from a URL')
    return list(dict.fromkeys(found))


def _tensorflow_import(stmt):
    if isinstance(stmt, ast.Import):
        return any(a.name.split('.')[0] in TENSORFLOW_PACKAGES for a in stmt.names)
    if isinstance(stmt, ast.ImportFrom):
        return (stmt.module or '').split('.')[0] in TENSORFLOW_PACKAGES
    return False


def classify(cells):
    """For each cell, None (in scope) or the reason it is out of scope (the module docstring's
    rule). Also sets ``cell.binds`` (the names its statements bind), used to trace cascades."""
    tainted = set()
    reasons = []
    for cell in cells:
        cell.binds = set()
        if cell.kind == 'shell':
            reasons.append('shell command, not Python')
            continue
        try:
            tree = ast.parse(cell.swapped)
        except SyntaxError as e:
            reasons.append(None)           # it will fail when run, and be counted as failed
            cell.syntax_error = str(e)
            continue
        reason = None
        for stmt in tree.body:
            bound = _stored_names([stmt])
            cell.binds |= bound
            why = _markers(stmt)
            used = sorted(_free_loads(stmt) & tainted, key=lambda n: (n in bound, n))
            if used:
                why.append('uses ' + ', '.join(f'`{n}`' for n in used[:2]) +
                           ' (bound to TensorFlow or other out-of-scope objects)')
            if why:
                tainted |= bound
                reason = reason or why[0]
            elif _tensorflow_import(stmt):
                tainted |= bound
            else:
                tainted -= bound
        reasons.append(reason)
    return reasons


# -------------------------------------------------------------------------------- running a guide
class CellTimeout(BaseException):
    """Raised in the running cell when its time limit passes (a BaseException, so that a guide's
    ``except Exception`` cannot swallow it)."""


def _on_alarm(signum, frame):
    raise CellTimeout()


def _one_line(text, limit=240):
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _guide_frame(tb):
    """'cell 7, line 3' for the innermost frame of the traceback that is in the guide's own code."""
    where = None
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith('<cell '):
            where = f'{frame.filename[1:-1]}, line {frame.lineno}'
    return where


def install_mnist_shape_shim(minidl):
    """Serve minidl's MNIST at the official 60,000/10,000 sizes (the real sample, tiled) when minidl
    falls back to its 5,000-image sample. Returns True when installed."""
    import numpy as np
    try:
        module = minidl.datasets.mnist
        original = module.load_data
    except AttributeError:
        return False

    def tile(a, n):
        return np.concatenate([a] * (-(-n // len(a))))[:n]

    def load_data(*args, **kwargs):
        (x_train, y_train), (x_test, y_test) = original(*args, **kwargs)
        if len(x_train) != 60000:
            x_train, y_train = tile(x_train, 60000), tile(y_train, 60000)
            x_test, y_test = tile(x_test, 10000), tile(y_test, 10000)
        return (x_train, y_train), (x_test, y_test)

    load_data.__doc__ = original.__doc__
    module.load_data = load_data
    return True


def run_cells(cells, reasons, cell_timeout, report=None, namespace=None):
    """Run the cells in order in one namespace; return one record per cell. ``report(record)`` is
    called after each cell (the worker writes it out at once, so a killed guide keeps its records)."""
    ns = namespace if namespace is not None else {'__name__': '__main__', '__builtins__': builtins}
    records = []
    failed_binds = {}           # name -> number of the failed cell that should have bound it
    use_alarm = cell_timeout and hasattr(signal, 'setitimer')
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for cell, reason in zip(cells, reasons):
            record = {'cell': cell.number, 'line': cell.line, 'kind': cell.kind,
                      'scope': OUT_OF_SCOPE if reason else IN_SCOPE, 'reason': reason,
                      'first_line': next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), '')}
            if cell.kind == 'shell':
                record.update(status='not run', seconds=0.0)
            else:
                start = time.perf_counter()
                try:
                    code = compile(cell.swapped, f'<cell {cell.number}>', 'exec')
                    if use_alarm:
                        signal.setitimer(signal.ITIMER_REAL, cell_timeout)
                    try:
                        exec(code, ns)
                    finally:
                        if use_alarm:
                            signal.setitimer(signal.ITIMER_REAL, 0)
                    record['status'] = RAN
                except CellTimeout:
                    record.update(status=CUT, error=f'cut by the {cell_timeout:g} s cell time limit')
                except BaseException as e:                 # noqa: B902 -- the guide's own errors
                    if isinstance(e, KeyboardInterrupt):
                        raise
                    record.update(status=FAILED, error_type=type(e).__name__,
                                  error=_one_line(f'{type(e).__name__}: {e}'),
                                  where=_guide_frame(e.__traceback__))
                    if isinstance(e, NameError) and getattr(e, 'name', None) in failed_binds:
                        record['cascade_of'] = failed_binds[e.name]
                    elif isinstance(e, NameError):
                        m = re.search(r"name '(\w+)' is not defined", str(e))
                        if m and m.group(1) in failed_binds:
                            record['cascade_of'] = failed_binds[m.group(1)]
                record['seconds'] = round(time.perf_counter() - start, 2)
                if record['status'] in (FAILED, CUT):
                    for name in getattr(cell, 'binds', ()):
                        if name not in ns:
                            failed_binds.setdefault(name, cell.number)
            records.append(record)
            if report:
                report(record)
    finally:
        if use_alarm:
            signal.signal(signal.SIGALRM, previous)
    return records


def summarize(name, cells, records, budget_cut=False):
    """The table row of one guide: counts by outcome and the first in-scope failure."""
    by = {}
    done = {r['cell']: r for r in records}
    for cell in cells:
        r = done.get(cell.number)
        if r is None:
            outcome = NOT_REACHED if not getattr(cell, 'out_of_scope', False) else OUT_OF_SCOPE
        elif r['scope'] == OUT_OF_SCOPE:
            outcome = OUT_OF_SCOPE
        else:
            outcome = r['status']
        by[outcome] = by.get(outcome, 0) + 1
    first = next((r for r in records if r['scope'] == IN_SCOPE and r['status'] in (FAILED, CUT)), None)
    if first is None:
        first_text = ''
    elif first['status'] == CUT:
        first_text = f"cell {first['cell']}: cut by the time limit ({first['first_line'][:60]})"
    else:
        first_text = f"cell {first['cell']}: {first['error']}"
    independent = sum(1 for r in records if r['scope'] == IN_SCOPE and r['status'] == FAILED
                      and 'cascade_of' not in r)
    return {'guide': name, 'cells': len(cells), OUT_OF_SCOPE: by.get(OUT_OF_SCOPE, 0),
            IN_SCOPE: len(cells) - by.get(OUT_OF_SCOPE, 0), RAN: by.get(RAN, 0),
            FAILED: by.get(FAILED, 0), 'independent failures': independent, CUT: by.get(CUT, 0),
            NOT_REACHED: by.get(NOT_REACHED, 0), 'guide budget hit': budget_cut,
            'first failure': first_text}


# ----------------------------------------------------------------------------------- the worker
def worker(args):
    """Run one guide here, in this process: cells by exec, one record per line in --out."""
    os.environ.setdefault('MPLBACKEND', 'Agg')
    control = args.framework == 'keras'
    cells = load_cells(args.worker, swap=not control)
    reasons = classify(cells)
    import minidl
    shim = False if args.mnist_as_is else install_mnist_shape_shim(minidl)
    header = {'header': True, 'framework': args.framework, 'mnist_shim': shim,
              'minidl': os.path.dirname(os.path.dirname(os.path.abspath(minidl.__file__)))}
    if control:
        header['keras'] = install_keras_control(minidl)
    with open(args.out, 'w') as out:
        out.write(json.dumps(header) + '\n')
        out.flush()

        def report(record):
            out.write(json.dumps(record) + '\n')
            out.flush()
        sys.stdout.flush()
        run_cells(cells, reasons, args.cell_timeout, report)
    return 0


def install_keras_control(minidl):
    """The control run: Keras 3 itself on its PyTorch backend, imported before the guide (so the
    guide's own ``os.environ["KERAS_BACKEND"] = ...`` line finds it loaded), reading the same data
    as minidl does (Keras would download it; this machine is offline)."""
    os.environ['KERAS_BACKEND'] = 'torch'
    import keras
    keras.datasets.mnist.load_data = lambda *a, **k: minidl.datasets.mnist.load_data()
    keras.datasets.cifar10.load_data = lambda *a, **k: minidl.datasets.cifar10.load_data()
    return f'keras {keras.__version__} on {keras.backend.backend()}'


def _sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _git_commit(path):
    try:
        return subprocess.run(['git', '-C', path, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _git_dirty(path):
    try:
        out = subprocess.run(['git', '-C', path, 'status', '--porcelain', '--untracked-files=no', 'minidl'],
                             capture_output=True, text=True, check=True).stdout
        return bool(out.strip())
    except (OSError, subprocess.CalledProcessError):
        return None


def run_guide(name, filename, expected_sha, args, logdir):
    """Run one guide in a worker process and return its summary row and records."""
    path = os.path.join(GUIDE_DIR, filename)
    cells = load_cells(path)
    reasons = classify(cells)
    for cell, reason in zip(cells, reasons):
        cell.out_of_scope = bool(reason)
    workdir = tempfile.mkdtemp(prefix=f'guide-{name}-')
    records_path = os.path.join(workdir, '_records.jsonl')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.path.abspath(args.minidl)
    env.update(MPLBACKEND='Agg', OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1',
               TF_CPP_MIN_LOG_LEVEL='3', PYTHONUNBUFFERED='1', PYTHONHASHSEED='0')
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', path, '--out', records_path,
           '--cell-timeout', str(args.cell_timeout), '--framework', args.framework] + \
        (['--mnist-as-is'] if args.mnist_as_is else [])
    log_path = os.path.join(logdir, f'{name}.log') if logdir else os.devnull
    start = time.perf_counter()
    budget_cut = False
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=args.guide_budget)
        except subprocess.TimeoutExpired:
            budget_cut = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    seconds = time.perf_counter() - start
    records, header = [], {}
    if os.path.exists(records_path):
        with open(records_path) as f:
            for line in f:
                item = json.loads(line)
                if item.get('header'):
                    header = item
                else:
                    records.append(item)
    if not budget_cut and proc.returncode != 0 and len(records) < len(cells):
        # The worker died (a crash, not an exception): the cell it was in is failed.
        nxt = cells[len(records)]
        records.append({'cell': nxt.number, 'line': nxt.line, 'kind': nxt.kind,
                        'scope': OUT_OF_SCOPE if reasons[len(records)] else IN_SCOPE,
                        'reason': reasons[len(records)], 'status': FAILED,
                        'error_type': 'WorkerDied',
                        'error': f'the worker process exited with code {proc.returncode} in this cell',
                        'first_line': nxt.source.strip().splitlines()[0]})
    elif budget_cut and len(records) < len(cells):
        nxt = cells[len(records)]
        records.append({'cell': nxt.number, 'line': nxt.line, 'kind': nxt.kind,
                        'scope': OUT_OF_SCOPE if reasons[len(records)] else IN_SCOPE,
                        'reason': reasons[len(records)], 'status': CUT,
                        'error': f'cut by the {args.guide_budget:g} s guide budget',
                        'first_line': nxt.source.strip().splitlines()[0]})
    shutil.rmtree(workdir, ignore_errors=True)
    row = summarize(name, cells, records, budget_cut)
    row['seconds'] = round(seconds, 1)
    sha = _sha256(path)
    return {'row': row, 'records': records, 'file': filename, 'sha256': sha,
            'guide_budget_s': args.guide_budget,
            'sha256_matches': sha == expected_sha, 'mnist_shim': header.get('mnist_shim'),
            'minidl_imported_from': header.get('minidl'), 'keras_control': header.get('keras')}


COLUMNS = ['guide', 'cells', OUT_OF_SCOPE, IN_SCOPE, RAN, FAILED, CUT, NOT_REACHED, 'first failure']


def table(rows, markdown=False):
    total = {c: sum(r[c] for r in rows) for c in COLUMNS[1:-1]}
    total.update(guide='total', **{'first failure': ''})
    body = rows + [total]
    if markdown:
        lines = ['| ' + ' | '.join(COLUMNS) + ' |', '|' + '|'.join(['---'] + ['---:'] * 7 + ['---']) + '|']
        for r in body:
            lines.append('| ' + ' | '.join(str(r[c]).replace('|', '\\|') for c in COLUMNS) + ' |')
        return '\n'.join(lines)
    widths = [max(len(COLUMNS[0]), max(len(r['guide']) for r in body))] + [len(c) for c in COLUMNS[1:-1]]
    lines = ['  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(COLUMNS, widths)))
             + '  first failure']
    for r in body:
        cells = [str(r['guide']).ljust(widths[0])] + [str(r[c]).rjust(w) for c, w in zip(COLUMNS[1:-1], widths[1:])]
        lines.append('  '.join(cells) + '  ' + r['first failure'][:110])
    return '\n'.join(lines)


def _by_guide(payload):
    return {g['row']['guide']: g for g in payload['guides']}


def compare_markdown(before, after, control=None):
    """The before/after table (and the Keras 3 control's column), then every in-scope cell that
    does not run on ``after``, with what the control did with it."""
    b, a = _by_guide(before), _by_guide(after)
    c = _by_guide(control) if control else {}
    head = ['guide', 'cells', 'out of scope', 'in scope', 'ran before', 'ran after', 'failed after',
            'of which cascades', 'cut after']
    if control:
        head.append('ran on Keras 3')
    head.append('first failure after')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '|'.join(['---'] + ['---:'] * (len(head) - 2) + ['---']) + '|']
    totals = dict.fromkeys(head[1:-1], 0)
    for name, _, _ in GUIDES:
        if name not in a:
            continue
        ra, rb = a[name]['row'], b[name]['row'] if name in b else None
        vals = [ra['cells'], ra[OUT_OF_SCOPE], ra[IN_SCOPE], rb[RAN] if rb else '-', ra[RAN], ra[FAILED],
                ra[FAILED] - ra['independent failures'], ra[CUT] + ra[NOT_REACHED]]
        if control:
            vals.append(c[name]['row'][RAN] if name in c else '-')
        for k, v in zip(head[1:-1], vals):
            totals[k] += v if isinstance(v, int) else 0
        lines.append('| ' + ' | '.join([name] + [str(v) for v in vals] +
                                       [ra['first failure'].replace('|', '\\|')]) + ' |')
    lines.append('| **total** | ' + ' | '.join(f'**{totals[k]}**' for k in head[1:-1]) + ' | |')
    out = ['\n'.join(lines), '']
    for name, _, _ in GUIDES:
        if name not in a:
            continue
        ctl = {r['cell']: r for r in c[name]['records']} if name in c else {}
        bad = [r for r in a[name]['records'] if r['scope'] == IN_SCOPE and r['status'] in (FAILED, CUT)]
        if not bad:
            continue
        out.append(f'**{name}**')
        out.append('')
        for r in bad:
            what = r.get('error', '')
            if 'cascade_of' in r:
                what += f' *(cascade of cell {r["cascade_of"]})*'
            k = ctl.get(r['cell'])
            if k is not None:
                what += ' -- Keras 3: ' + ('runs it' if k['status'] == RAN else
                                          f'{k["status"]} too ({k.get("error", "")[:100]})')
            first = r['first_line'][:70].replace('|', '\\|')
            out.append(f'- cell {r["cell"]} (line {r["line"]}, `{first}`): {what}')
        out.append('')
    return '\n'.join(out)


# A guide's budget may differ between parts: a guide that ends inside its budget ('guide budget
# hit' false) has the same outcome under any larger one; a guide that hits it says so in its row.
_PART_KEYS = ('date', 'command', 'load_average_at_start', 'load_average_at_end', 'harness_commit',
              'guide_budget_s')
_SAME_KEYS = ('minidl', 'minidl_commit', 'minidl_uncommitted_changes', 'framework', 'cell_timeout_s',
              'mnist', 'python')


def merge_parts(parts):
    """One results payload from runs of disjoint guide groups. The runs must describe the same
    thing (same tree, commit, framework, limits, data): a difference is an error, not averaged over."""
    if not parts:
        raise ValueError('merge_parts: no results to merge')
    for key in _SAME_KEYS:
        values = {json.dumps(p.get(key)) for p in parts}
        if len(values) > 1:
            raise ValueError(f'merge_parts: the parts differ in {key!r} ({", ".join(sorted(values))}); '
                             'merge only runs of the same tree with the same options')
    by_name = {}
    for p in parts:
        for g in p['guides']:
            name = g['row']['guide']
            if name in by_name:
                raise ValueError(f'merge_parts: guide {name!r} is in more than one part; drop one of them')
            by_name[name] = g
    order = [name for name, _, _ in GUIDES if name in by_name]
    merged = {key: parts[0].get(key) for key in _SAME_KEYS}
    merged['runs'] = [dict({k: p.get(k) for k in _PART_KEYS}, guides=[g['row']['guide'] for g in p['guides']])
                      for p in parts]
    merged['guides'] = [by_name[n] for n in order]
    merged['rows'] = [g['row'] for g in merged['guides']]
    return merged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--minidl', default=os.path.dirname(os.path.dirname(HERE)),
                        help='the source tree whose minidl/ package runs the guides (default: this checkout)')
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--logs', help='write each guide\'s output to DIR/<guide>.log')
    parser.add_argument('--only', nargs='*', help='run only these guides')
    parser.add_argument('--cell-timeout', type=float, default=180.0, help='seconds per cell (default 180)')
    parser.add_argument('--guide-budget', type=float, default=2400.0, help='seconds per guide (default 2400)')
    parser.add_argument('--framework', choices=['minidl', 'keras'], default='minidl',
                        help='keras: the control run, Keras 3 itself (PyTorch backend) on the unswapped '
                             'guides, with the same data and the same rule')
    parser.add_argument('--mnist-as-is', action='store_true',
                        help='give the guides minidl\'s MNIST as it comes (here: the 4,000/1,000 sample)')
    parser.add_argument('--compare', nargs='+', metavar='JSON',
                        help='print the markdown before/after table of BEFORE.json AFTER.json [CONTROL.json] '
                             'and the list of failing cells, and exit')
    parser.add_argument('--merge', nargs='+', metavar='JSON',
                        help='OUT.json PART.json...: join the results of runs made guide group by guide group '
                             '(--only) into one file, in keras.io\'s order, keeping each part\'s date, '
                             'command and load, and exit')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.compare:
        if len(args.compare) not in (2, 3):
            parser.error('--compare takes BEFORE.json AFTER.json [CONTROL.json]')
        loaded = []
        for path in args.compare:
            with open(path) as f:
                loaded.append(json.load(f))
        print(compare_markdown(*loaded))
        return 0
    if args.merge:
        if len(args.merge) < 2:
            parser.error('--merge takes OUT.json PART.json...')
        parts = []
        for path in args.merge[1:]:
            with open(path) as f:
                parts.append(json.load(f))
        merged = merge_parts(parts)
        with open(args.merge[0], 'w') as f:
            json.dump(merged, f, indent=1)
        print(table(merged['rows']))
        print(f'\nwrote {args.merge[0]}')
        return 0
    if not os.path.isdir(os.path.join(args.minidl, 'minidl')):
        parser.error(f'--minidl {args.minidl!r} has no minidl/ package; give the root of a minidl checkout')
    missing = [f for _, f, _ in GUIDES if not os.path.exists(os.path.join(GUIDE_DIR, f))]
    if missing:
        parser.error(f'guide texts missing from {GUIDE_DIR}: {", ".join(missing)} -- see SOURCES.md '
                     'for where to get them')
    if args.logs:
        os.makedirs(args.logs, exist_ok=True)
    chosen = [g for g in GUIDES if not args.only or g[0] in args.only]
    started = datetime.datetime.now().astimezone()
    load_at_start = os.getloadavg() if hasattr(os, 'getloadavg') else None
    results = []
    for name, filename, sha in chosen:
        print(f'[{datetime.datetime.now():%H:%M:%S}] {name} ...', flush=True)
        res = run_guide(name, filename, sha, args, args.logs)
        if not res['sha256_matches']:
            print(f'  warning: {filename} is not the text SOURCES.md names (sha256 {res["sha256"]})')
        r = res['row']
        print(f'  {r[RAN]}/{r[IN_SCOPE]} in-scope cells ran, {r[FAILED]} failed, {r[CUT]} cut, '
              f'{r[NOT_REACHED]} not reached; {r[OUT_OF_SCOPE]} out of scope; {r["seconds"]} s', flush=True)
        results.append(res)
    rows = [res['row'] for res in results]
    print()
    print(table(rows))
    if args.json:
        minidl_root = os.path.abspath(args.minidl)
        payload = {
            'date': started.isoformat(timespec='seconds'),
            'minidl': minidl_root, 'minidl_commit': _git_commit(minidl_root),
            'minidl_uncommitted_changes': _git_dirty(minidl_root),
            'harness_commit': _git_commit(HERE),
            'command': ' '.join(['python', os.path.relpath(os.path.abspath(__file__))] +
                                (argv if argv is not None else sys.argv[1:])),
            'framework': args.framework,
            'cell_timeout_s': args.cell_timeout, 'guide_budget_s': args.guide_budget,
            'mnist': 'as is' if args.mnist_as_is else 'tiled to 60000/10000',
            'load_average_at_start': load_at_start,
            'load_average_at_end': os.getloadavg() if hasattr(os, 'getloadavg') else None,
            'python': sys.version.split()[0],
            'rows': rows, 'guides': results,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = args.json + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(payload, f, indent=1)
        os.replace(tmp, args.json)
        print(f'\nwrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
