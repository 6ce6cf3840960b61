"""The IMDB sequence examples (issue 16): each builder has Keras 3's parameter count (the same
code built with Keras), and each script runs end to end on tiny synthetic data."""
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'
sys.path.insert(0, str(EXAMPLES))

SCRIPTS = [('imdb_lstm', 2_691_713), ('imdb_bidirectional_lstm', 2_757_761), ('imdb_transformer', 657_758)]


def _lib(name):
    if name == 'keras':
        keras = pytest.importorskip('keras')
        return SimpleNamespace(name='keras', layers=keras.layers, models=keras.models, ops=keras.ops,
                               optimizers=keras.optimizers, Layer=keras.layers.Layer)
    import minidl
    return SimpleNamespace(name='minidl', layers=minidl.layers, models=minidl.models, ops=minidl.ops,
                           optimizers=minidl.optimizers, Layer=minidl.layers.Layer)


@pytest.mark.parametrize('script,params', SCRIPTS)
def test_builders_have_keras_parameter_counts(keras, script, params):
    module = __import__(script)
    maxlen = {'imdb_lstm': 80, 'imdb_bidirectional_lstm': 100, 'imdb_transformer': 200}[script]
    mine = module.build(_lib('minidl'), maxlen, 20000)
    theirs = module.build(_lib('keras'), maxlen, 20000)
    assert mine.count_params() == theirs.count_params() == params


@pytest.mark.slow
@pytest.mark.parametrize('script,params', SCRIPTS)
def test_scripts_run_on_synthetic_data(tmp_path, script, params):
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES.parent), MPLBACKEND='Agg')
    out = subprocess.run([sys.executable, str(EXAMPLES / f'{script}.py'), '--synthetic', '--limit', '16', '--epochs',
                          '1', '--maxlen', '12', '--quiet', '--plot', str(tmp_path / 'h.png')],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(rf'^RESULT model=issue16\.{script} dataset=imdb-synthetic\[:16\] metric=test_accuracy '
                     r'value=\S+ epochs=1 seconds_per_epoch=\S+ backend=numpy$', out.stdout, re.M), out.stdout[-2000:]
