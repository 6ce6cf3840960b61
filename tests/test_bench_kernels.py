"""benchmarks/bench_kernels.py's issue-17 rows time the same function on both sides: minidl's
Conv2DTranspose / DepthwiseConv2D ('same', bias) and the PyTorch call it is set beside
(conv_transpose2d cropped to Keras' output, conv2d with groups=C and Keras' pads) give the same
output and the same gradients of input, kernel and bias, on small copies of the benchmark shapes."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
import bench_kernels  # noqa: E402

torch = pytest.importorskip('torch')


@pytest.mark.parametrize('case', ['conv_transpose2d', 'depthwise_conv2d'])
def test_minidl_and_torch_rows_compute_the_same_function(case):
    chosen = [c for c in bench_kernels.cases(2, 2) if c[1] == case]
    assert len(chosen) >= 2
    ours = bench_kernels.MinidlRunner('numpy')
    theirs = bench_kernels.TorchRunner(torch, 'cpu')
    for model, op, desc, build, *_ in chosen:
        # the leaves each runner makes, caught where it hands them to forward_pair
        captured = {}
        original = bench_kernels.forward_pair

        def spy(forward, gy, leaves):
            captured.setdefault('leaves', []).append(leaves)
            return original(forward, gy, leaves)
        bench_kernels.forward_pair = spy
        try:
            f_ours, fb_ours = build(ours)
            f_theirs, fb_theirs = build(theirs)
        finally:
            bench_kernels.forward_pair = original
        y_ours = f_ours().data
        y_theirs = f_theirs().detach().numpy().transpose(0, 2, 3, 1)
        assert y_ours.shape == y_theirs.shape, desc
        np.testing.assert_allclose(y_ours, y_theirs, rtol=1e-4, atol=1e-4, err_msg=desc)
        fb_ours()
        fb_theirs()
        (xs, ws, bs), (xt, wt, bt) = captured['leaves']
        np.testing.assert_allclose(xs.grad, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4,
                                   err_msg=f'{desc}: input gradient')
        np.testing.assert_allclose(bs.grad, bt.grad.numpy(), rtol=1e-4, atol=1e-3, err_msg=f'{desc}: bias gradient')
        if op == 'conv_transpose2d':   # torch (C, F, kh, kw) -> Keras (kh, kw, F, C)
            gw_t = wt.grad.numpy().transpose(2, 3, 1, 0)
        else:                          # torch (C M, 1, kh, kw) -> Keras (kh, kw, C, M)
            kh, kw, c, m = ws.shape
            gw_t = wt.grad.numpy().transpose(2, 3, 1, 0).reshape(kh, kw, c, m)
        np.testing.assert_allclose(ws.grad, gw_t, rtol=1e-4, atol=1e-3, err_msg=f'{desc}: kernel gradient')
