"""benchmarks/count_launches.py: minidl's CuPy path run on the CPU with a counting stand-in for
cupy. Counted in a child process (the stand-in replaces ``cupy`` in sys.modules)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'benchmarks')


def child(code):
    env = dict(os.environ, PYTHONPATH=ROOT, MINIDL_KERNELS='fast')
    env.pop('MINIDL_BACKEND', None)
    proc = subprocess.run([sys.executable, '-c', f'import sys; sys.path.insert(0, {BENCH!r})\n' + code], env=env,
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_each_cupy_call_counts_once_and_fused_kernels_count_one_launch():
    out = child('''
import json, numpy as np, count_launches as c
c.install()
import minidl
from minidl import Tensor
minidl.set_backend('cupy')
x = Tensor(minidl.backend.as_array(np.array([[-1.0, 2.0], [3.0, -4.0]], np.float32)), requires_grad=True)
c.reset()
y = minidl.functional.relu(x)        # ReLUGPU: maximum forward, one fused kernel backward
first = c.counts()
c.reset()
y.backward(minidl.backend.as_array(np.ones((2, 2), np.float32)))
second = c.counts()
print(json.dumps({"is_cupy": minidl.backend.is_cupy(y.data), "forward": [[k[0], k[1], v] for k, v in first.items()],
                  "backward": [[k[0], k[1], v] for k, v in second.items()]}))
''')
    assert out['is_cupy']
    assert out['forward'] == [['elementwise', 'maximum', 1]]
    assert ['fused', 'minidl_relu_grad', 1] in out['backward']


@pytest.mark.slow
def test_a_training_step_counts_one_adam_kernel_per_weight():
    out = child('''
import json, count_launches as c
found, chosen = c.count_step('ej8_dense', batch_size=16)
print(json.dumps({"found": [[k[0], k[1], v] for k, v in found.items()], "chosen": chosen}))
''')
    found = {(cat, name): v for cat, name, v in out['found']}
    assert found[('fused', 'minidl_adam')] == 10           # 3 kernels, 3 biases, 2 gammas, 2 betas
    assert found[('gemm', 'matmul')] >= 8                  # 3 forward products, their gradients, column sums
    assert out['chosen'].get('FusedBatchNorm') == 2
