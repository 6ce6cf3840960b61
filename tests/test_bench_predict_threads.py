"""Smoke test of benchmarks/bench_predict_threads.py (the inference-anomaly probe): one tiny
configuration per framework in its child process (one beside a busy process), and the JSON
record it writes. Nothing here measures speed."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'benchmarks', 'bench_predict_threads.py')


@pytest.mark.slow
def test_probe_records_rate_cpu_time_and_thread_pools(tmp_path):
    # the probe reads every pool through threadpoolctl and times PyTorch beside minidl: both are
    # benchmark tools, not dependencies (a clean install has neither)
    pytest.importorskip('threadpoolctl')
    pytest.importorskip('torch')
    out = tmp_path / 'probe.json'
    proc = subprocess.run([sys.executable, SCRIPT, '--samples', '256', '--frameworks', 'minidl', 'torch',
                           '--threads', '1', '--busy', '0', '--rounds', '1', '--json-out', str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())['rows']
    assert {(r['framework'], r['busy']) for r in rows} == {('minidl', 0), ('torch', 0)}
    for row in rows:
        run, = row['runs']
        assert run['status'] == 'ok' and run['samples'] == 256 and run['per_s'] > 0
        assert len(run['walls']) == len(run['cpus']) == 3
        assert all(p['num_threads'] == 1 for p in run['pools'] if p['internal_api'] == 'openblas')
        if row['framework'] == 'torch':
            assert run['torch_threads'] == 1
    assert '| minidl | 1 | 0 | unset |' in proc.stdout


def test_busy_processes_are_stopped_when_the_benchmark_fails():
    sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
    import bench_predict_threads as probe
    started = []
    real_popen = subprocess.Popen

    def popen(args, *rest, **kwargs):
        process = real_popen(args, *rest, **kwargs)
        if args[1:] == ['-c', 'while True: pass']:
            started.append(process)
        return process
    probe.subprocess.Popen = popen
    try:
        result = probe.run_config('minidl', 'no_such_model', 64, 1, 1, 'unset', sys.executable)
    finally:
        probe.subprocess.Popen = real_popen
    assert result['status'] == 'failed' and 'no_such_model' in result['stderr']
    assert len(started) == 1 and started[0].poll() is not None
