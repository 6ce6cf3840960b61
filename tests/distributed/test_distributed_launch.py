"""Whole jobs under ``mpiexec -n 2``, started from a single-process test: a rank that raises ends
the job with its error (no hang), and an example trains with ``--distributed`` and prints one
RESULT line. ``.ci/run`` runs them with ``MINIDL_MPI_JOBS=1``; skipped otherwise (the plain suite
starts no MPI job), where mpiexec or mpi4py is absent, and inside an MPI run (no nesting)."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from minidl import distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = [pytest.mark.mpi, pytest.mark.slow]


def _mpiexec():
    if os.environ.get('MINIDL_MPI_JOBS') != '1':
        pytest.skip('starts MPI jobs: set MINIDL_MPI_JOBS=1 (as .ci/run does)')
    if dist.size() > 1:
        pytest.skip('starts its own MPI jobs; run from a single process')
    pytest.importorskip('mpi4py', reason='needs mpi4py: pip install "minidl[distributed]"')
    found = shutil.which('mpiexec')
    if found is None:
        pytest.skip('needs mpiexec (pip install "minidl[distributed]" brings mpich)')
    return found


def _run(args, timeout):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PMI', 'OMPI_', 'PMIX', 'MV2_', 'HYDRA'))}
    env.update(PYTHONPATH=ROOT + os.pathsep + env.get('PYTHONPATH', ''), OMP_NUM_THREADS='1',
               OPENBLAS_NUM_THREADS='1', MPLBACKEND='Agg')
    start = time.perf_counter()
    try:
        out = subprocess.run([_mpiexec(), '-n', '2'] + args, env=env, capture_output=True, text=True,
                             timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f'the MPI job did not end within {timeout} s (a hang): {exc.stdout!r} {exc.stderr!r}')
    return out, time.perf_counter() - start


FAILING_RANK = '''
import numpy as np
import minidl.distributed as d
d.init()
if d.rank() == 1:
    raise ValueError('rank one fails on purpose')
for _ in range(1000):                       # rank 0 waits in collectives that rank 1 never joins
    d.allreduce(np.ones(4))
print('rank 0 should never get here', flush=True)
'''


def test_a_rank_that_raises_ends_the_whole_job_with_its_error():
    out, seconds = _run([sys.executable, '-c', FAILING_RANK], timeout=120)
    assert out.returncode != 0
    assert 'ValueError: rank one fails on purpose' in out.stderr
    assert 'minidl.distributed: rank 1 of 2 failed' in out.stderr
    assert 'should never get here' not in out.stdout
    assert seconds < 60, f'the job took {seconds:.0f} s to end'


def test_an_example_trains_with_distributed_and_prints_one_result_line(tmp_path):
    out, _ = _run([sys.executable, 'examples/ej8_mnist_dense.py', '--synthetic', '--limit', '128', '--epochs', '1',
                   '--batch-size', '16', '--distributed', '--quiet', '--plot', str(tmp_path / 'h.png')], timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    results = [line for line in out.stdout.splitlines() if line.startswith('RESULT ')]
    assert len(results) == 1 and 'model=tp4a.ej8_mnist_dense' in results[0], out.stdout[-3000:]
    assert os.listdir(tmp_path) == ['h.png']
