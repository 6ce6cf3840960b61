"""minidl.distributed's tests.

Run under MPI by ``.ci/run``: ``mpiexec -n 2 python -m pytest tests/distributed``; every rank
runs every test, and the tests that need several ranks (the ``world`` fixture) are skipped in a
plain ``python -m pytest`` run. A test that fails on one rank aborts the whole job with its
report (the other rank would otherwise wait in a collective of that test).
"""
import sys

import pytest

import minidl.distributed as dist

dist.init()   # a world of one, importing nothing, without mpiexec


@pytest.fixture
def world():
    """The world of ranks; the test is skipped unless it runs on two or more."""
    if dist.size() < 2:
        pytest.skip('needs several MPI ranks: mpiexec -n 2 python -m pytest tests/distributed (.ci/run)')
    return dist


_session = {}


def pytest_configure(config):
    _session['config'] = config


def pytest_runtest_logreport(report):
    if report.failed and dist.size() > 1:
        capture = _session['config'].pluginmanager.getplugin('capturemanager')
        if capture is not None:
            capture.suspend_global_capture(in_=True)     # write to the real stderr, not the captured one
        sys.stdout.flush()
        sys.stderr.write(f'\n[rank {dist.rank()}] {report.nodeid} failed ({report.when}):\n{report.longreprtext}\n')
        sys.stderr.flush()
        dist.mpi_communicator().Abort(1)
