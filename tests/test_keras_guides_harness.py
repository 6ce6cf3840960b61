"""benchmarks/keras_guides/run_guides.py on toy guides: the split into cells, the import swap, the
written out-of-scope rule, and the counting (ran / failed / cut / cascades)."""
import json
import os
import sys
import types

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks', 'keras_guides'))
import run_guides as rg  # noqa: E402

Q = '"' * 3
TOY = f'''{Q}
Title: A toy guide
Author: nobody
{Q}
{Q}
## Setup
{Q}

import numpy as np
import keras
from keras import layers

{Q}
Some text with a code sample that is not a cell:

```python
model.fit(x)
```
{Q}

x = np.ones(3)
y = x.sum()

{Q}shell
pip install something
{Q}


@staticmethod
def decorated():
    {Q}A docstring inside a function stays code.{Q}
    return 1


{Q}
## TensorFlow from here
{Q}

import tensorflow as tf
ds = tf.data.Dataset.range(3)

{Q}
{Q}

batches = ds.batch(2)
n = 3

{Q}
{Q}

vgg = keras.applications.VGG19()
small = keras.applications.MobileNet(weights=None)
'''


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_py_guide_splits_into_notebook_cells(tmp_path):
    cells = rg.load_cells(_write(tmp_path, 'toy.py', TOY))
    assert [c.kind for c in cells] == ['code', 'code', 'shell', 'code', 'code', 'code', 'code']
    assert [c.number for c in cells] == [1, 2, 3, 4, 5, 6, 7]
    assert cells[0].source == 'import numpy as np\nimport keras\nfrom keras import layers'
    assert cells[1].source == 'x = np.ones(3)\ny = x.sum()'
    assert cells[2].source == 'pip install something'
    assert cells[3].source.startswith('@staticmethod\ndef decorated():')      # decorator kept
    assert 'A docstring inside a function stays code.' in cells[3].source
    assert cells[0].line == 9 and cells[1].line == 21


def test_ipynb_guide_takes_the_code_cells(tmp_path):
    nb = {'cells': [{'cell_type': 'markdown', 'source': ['# Title']},
                    {'cell_type': 'code', 'source': ['import keras\n', 'x = 1']},
                    {'cell_type': 'code', 'source': ['\n']},
                    {'cell_type': 'code', 'source': '!pip install keras'},
                    {'cell_type': 'code', 'source': ['y = x + 1\n']}],
          'metadata': {}, 'nbformat': 4, 'nbformat_minor': 0}
    cells = rg.load_cells(_write(tmp_path, 'toy.ipynb', json.dumps(nb)))
    assert [(c.number, c.kind) for c in cells] == [(1, 'code'), (2, 'shell'), (3, 'code')]
    assert cells[0].swapped == 'import minidl as keras\nx = 1'


def test_import_swap_changes_only_imports():
    src = ('import keras\nimport keras as K  # note\nfrom keras import layers, ops\n'
           'from keras.layers import Dense\nfrom keras.src.ops import core\n'
           '    import keras\nx = keras.layers.Dense(3)\nimport kerastuner\nimport keras.ops')
    assert rg.swap_imports(src).split('\n') == [
        'import minidl as keras', 'import minidl as K  # note', 'from minidl import layers, ops',
        'from minidl.layers import Dense', 'from keras.src.ops import core', '    import minidl as keras',
        'x = keras.layers.Dense(3)', 'import kerastuner', 'import keras.ops']


def test_out_of_scope_rule(tmp_path):
    cells = rg.load_cells(_write(tmp_path, 'toy.py', TOY))
    reasons = rg.classify(cells)
    assert reasons[0] is None and reasons[1] is None and reasons[3] is None
    assert reasons[2] == 'shell command, not Python'
    assert 'uses `tf`' in reasons[4]                 # import tensorflow alone is fine, tf.data is not
    assert 'uses `ds`' in reasons[5]                 # ds was bound by an out-of-scope statement
    assert reasons[6] == 'downloads pretrained weights (VGG19)'
    more = [rg.Cell(1, 'code', 'import tensorflow_datasets as tfds', 1),
            rg.Cell(2, 'code', 'n = 3\nprint(batches, n)', 2),       # re-binding n does not clean batches
            rg.Cell(3, 'code', 'batches = [1, 2]\nprint(batches)', 3),  # an in-scope re-binding does
            rg.Cell(4, 'code', 'def f(x):\n    return x.cuda()', 4),
            rg.Cell(5, 'code', 'def g(n):\n    return n + 1\ng(2)', 5),
            rg.Cell(6, 'code', 'd = keras.distribution.DataParallel()', 6),
            rg.Cell(7, 'code', 'p = keras.utils.get_file("a.zip", origin="x")', 7)]
    r = rg.classify(cells + more)[len(cells):]
    assert r[0] == 'imports tensorflow_datasets'
    assert 'uses `batches`' in r[1]
    assert r[2] is None
    assert r[3] == 'uses a GPU (.cuda())'
    assert r[4] is None                              # the parameter n is not the global n
    assert r[5] == 'uses keras.distribution'
    assert r[6] == 'downloads a file (get_file)'


def test_cells_run_in_one_namespace_and_are_counted():
    cells = [rg.Cell(1, 'code', 'a = 1', 1),
             rg.Cell(2, 'code', 'b = a + 1\nc = undefined_thing', 2),   # fails: b bound, c not
             rg.Cell(3, 'shell', 'pip install x', 3),
             rg.Cell(4, 'code', 'print(b)\nprint(c)', 4),              # a cascade of cell 2
             rg.Cell(5, 'code', 'while True:\n    pass', 5),           # cut by the time limit
             rg.Cell(6, 'code', 'assert a == 1 and b == 2', 6),
             rg.Cell(7, 'code', 'import tensorflow_datasets as tfds', 7)]
    reasons = rg.classify(cells)
    seen = []
    records = rg.run_cells(cells, reasons, cell_timeout=0.3, report=seen.append)
    assert seen == records
    status = [r['status'] for r in records]
    assert status == ['ran', 'failed', 'not run', 'failed', 'cut', 'ran', 'failed']
    assert records[1]['error_type'] == 'NameError' and records[1]['where'] == 'cell 2, line 2'
    assert 'cascade_of' not in records[1] and records[3]['cascade_of'] == 2
    row = rg.summarize('toy', cells, records)
    assert (row['cells'], row['out of scope'], row['in scope'], row['ran'], row['failed'], row['cut']) == \
        (7, 2, 5, 2, 2, 1)
    assert row['independent failures'] == 1
    assert row['first failure'].startswith("cell 2: NameError: name 'undefined_thing' is not defined")


def test_mnist_shim_serves_the_official_sizes_only_for_the_sample():
    def fake(n_train, n_test):
        x = np.arange(n_train * 2).reshape(n_train, 2)
        return lambda: ((x, np.arange(n_train)), (x[:n_test], np.arange(n_test)))

    mod = types.SimpleNamespace(datasets=types.SimpleNamespace(mnist=types.SimpleNamespace(
        load_data=fake(4, 3))))
    assert rg.install_mnist_shape_shim(mod)
    (x, y), (xt, yt) = mod.datasets.mnist.load_data()
    assert x.shape == (60000, 2) and y.shape == (60000,) and xt.shape == (10000, 2)
    assert (x[4] == x[0]).all() and y[5] == 1              # the real samples, repeated
    full = types.SimpleNamespace(datasets=types.SimpleNamespace(mnist=types.SimpleNamespace(
        load_data=fake(60000, 10))))
    rg.install_mnist_shape_shim(full)
    assert full.datasets.mnist.load_data()[1][0].shape == (10, 2)   # official data passes untouched
    assert not rg.install_mnist_shape_shim(types.SimpleNamespace())


def test_every_stored_guide_is_listed_once():
    names = [g[0] for g in rg.GUIDES]
    assert len(names) == len(set(names))
    assert all(f.endswith(('.py', '.ipynb')) and len(sha) == 64 for _, f, sha in rg.GUIDES)


def _payload(rows_by_guide, **extra):
    guides = []
    for name, (ran, failed, first) in rows_by_guide.items():
        row = {'guide': name, 'cells': ran + failed + 1, 'out of scope': 1, 'in scope': ran + failed,
               'ran': ran, 'failed': failed, 'independent failures': failed, 'cut': 0, 'not reached': 0,
               'guide budget hit': False, 'first failure': first}
        records = [{'cell': 1, 'line': 3, 'scope': 'in scope', 'status': 'failed', 'error': first,
                    'first_line': 'model.fit(x | y)'}] if failed else []
        guides.append({'row': row, 'records': records})
    base = {'minidl': '/t', 'minidl_commit': 'abc', 'minidl_uncommitted_changes': False,
            'framework': 'minidl', 'cell_timeout_s': 90.0, 'guide_budget_s': 240.0,
            'mnist': 'tiled to 60000/10000', 'python': '3.11', 'date': 'd', 'command': 'c',
            'load_average_at_start': [1, 1, 1], 'harness_commit': 'h'}
    base.update(extra)
    base.update(guides=guides, rows=[g['row'] for g in guides])
    return base


def test_merge_joins_guide_groups_in_keras_io_order_and_refuses_mixed_runs():
    import pytest
    g0, g1, g2 = (g[0] for g in rg.GUIDES[:3])
    late = _payload({g2: (3, 0, '')}, date='d2')
    early = _payload({g1: (1, 1, 'cell 1: ValueError: x'), g0: (2, 0, '')})
    merged = rg.merge_parts([late, early])
    assert [r['guide'] for r in merged['rows']] == [g0, g1, g2]
    assert [run['date'] for run in merged['runs']] == ['d2', 'd']
    assert merged['runs'][1]['guides'] == [g1, g0]
    with pytest.raises(ValueError, match="differ in 'minidl_commit'"):
        rg.merge_parts([early, _payload({g2: (3, 0, '')}, minidl_commit='other')])
    assert rg.merge_parts([early, _payload({g2: (3, 0, '')}, guide_budget_s=30.0)])['runs'][1]['guide_budget_s'] == 30.0
    with pytest.raises(ValueError, match='more than one part'):
        rg.merge_parts([early, early])


def test_compare_markdown_counts_before_and_after():
    g0, g1 = (g[0] for g in rg.GUIDES[:2])
    before = _payload({g0: (0, 2, 'cell 1: ImportError: no'), g1: (1, 1, 'cell 1: E')})
    after = _payload({g0: (2, 0, ''), g1: (1, 1, 'cell 1: TypeError: a | b')})
    text = rg.compare_markdown(before, after)
    lines = text.split('\n')
    assert lines[2].startswith(f'| {g0} | 3 | 1 | 2 | 0 | 2 | 0 |')
    assert lines[3].startswith(f'| {g1} | 3 | 1 | 2 | 1 | 1 | 1 |') and 'a \\| b' in lines[3]
    assert lines[4].startswith('| **total** | **6** | **2** | **4** | **1** | **3** | **1** |')
    assert f'**{g1}**' in text and f'**{g0}**' not in text.split('\n\n', 1)[1]
    assert '`model.fit(x \\| y)`' in text
