"""benchmarks/bench_lstm.py runs end to end at tiny sizes (in a child process: it needs Keras on
TensorFlow, while the test session's Keras oracle runs on PyTorch) and checks the frameworks'
gradients equal before it times them."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'benchmarks', 'bench_lstm.py')


def run(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != 'KERAS_BACKEND'}
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT)


@pytest.mark.slow
def test_bench_lstm_tiny_run_checks_gradients_and_writes_json(tmp_path):
    pytest.importorskip('torch')
    pytest.importorskip('tensorflow')
    pytest.importorskip('keras')
    out = tmp_path / 'lstm.json'
    proc = run('--sizes', '2x3', '--units', '5', '--features', '4', '--rounds', '2', '--reps', '1', '--reference',
               '--json', str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(out.read_text())
    row = record['results']['2x3']
    assert set(row) == {'keras', 'minidl', 'minidl-reference', 'torch', 'torch-1-thread'}
    assert all(len(r['step_rounds']) == 2 and r['step_best'] <= r['step'] for r in row.values())
    assert proc.stdout.count('| 2x3 |') == 5


def test_bench_lstm_parts():
    pytest.importorskip('threadpoolctl')
    proc = run('--parts', '--sizes', '2x3', '--units', '5', '--features', '4')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('| 2x3 |') == 5
