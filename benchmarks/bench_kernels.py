"""Kernel speed: conv2d, max_pool2d and batch_norm at the shapes of the course models, and the
transposed and depthwise convolutions of issue 17, minidl vs PyTorch.

    python benchmarks/bench_kernels.py                   # minidl-numpy vs PyTorch CPU, batch 512
    python benchmarks/bench_kernels.py --batch 128       # lighter (the batch is printed in the header)
    python benchmarks/bench_kernels.py --backend cupy    # minidl-cupy vs PyTorch CUDA
    python benchmarks/bench_kernels.py --ops conv_transpose2d depthwise_conv2d --batch 128   # issue 17's rows only

Shapes: cifar10_k.arch2 (Conv2D 3x3 'same' 3->32 at 32 px, 32->64 at 16 px, 64->128 at 8 px,
128->128 at 4 px, each followed by BatchNormalization and, for the first three, MaxPooling2D 2x2)
and tp4a.ej8_mnist_conv (Conv2D 1->10 with a 24x24 kernel at 28 px, MaxPooling2D 2x2, Conv2D
10->10 with a 12x12 kernel at 14 px, both 'same'). Issue 17 (Keras Conv2DTranspose and
DepthwiseConv2D, 'same', bias): ``cae``, the decoder of examples/mnist_denoising_conv_ae.py
(Conv2DTranspose 3x3 stride 2, 32->32 from 7 to 14 px and from 14 to 28 px) and a DCGAN-style
generator step (4x4 stride 2, 128->64 from 8 to 16 px, 64->32 from 16 to 32 px), against
``torch.nn.functional.conv_transpose2d`` (cropped to Keras' 'same' output); ``mobilenet``,
MobileNet-style depthwise 3x3 layers on CIFAR-sized maps (32 channels at 32 px, 64 at 16 px
stride 1 and 2, 128 at 8 px, depth_multiplier 1), against ``conv2d(groups=C)``. The first conv of each model does not compute
the gradient of its input (as in training). Times are the best of several interleaved rounds;
GFLOP/s of a conv counts 2*N*OH*OW*F*kh*kw*C per GEMM (forward: 1 GEMM, backward: 1 or 2 more),
next to the float32 GEMM rate of the same array library (the ceiling for im2col convolution).
"""
import argparse
import platform
import time

import numpy as np

import minidl
from minidl import Tensor
from minidl.functional import geometry
from minidl.functional.conv import conv2d, conv_transpose2d, depthwise_conv2d
from minidl.functional.norm import batch_norm
from minidl.functional.pool import max_pool2d

ARCH2 = [(32, 3, 32, 3), (16, 32, 64, 3), (8, 64, 128, 3), (4, 128, 128, 3)]  # size, C in, F, kernel
EJ8 = [(28, 1, 10, 24), (14, 10, 10, 12)]
CAE = [(7, 32, 32, 3, 2), (14, 32, 32, 3, 2)]                         # size, C in, F, kernel, stride
DCGAN = [(8, 128, 64, 4, 2), (16, 64, 32, 4, 2)]
MOBILENET = [(32, 32, 3, 1), (16, 64, 3, 1), (16, 64, 3, 2), (8, 128, 3, 1)]   # size, C, kernel, stride


def best_times(fns, sync, rounds):
    """Best seconds per call of each function over ``rounds`` interleaved rounds (after a warm-up)."""
    for fn in fns:
        fn()
    sync()
    best = [float('inf')] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            sync()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def forward_pair(forward, gy, leaves):
    """The forward closure and a forward+backward closure that clears the leaves' grads first
    (the same for minidl and torch tensors)."""
    def forward_backward():
        for t in leaves:
            t.grad = None
        forward().backward(gy)
    return forward, forward_backward


class MinidlRunner:
    """Builds minidl closures (forward, forward+backward) for one op on the chosen backend."""
    def __init__(self, backend):
        minidl.set_backend(backend)
        self.xp = minidl.backend.xp()
        self.sync = self.xp.cuda.Device().synchronize if backend == 'cupy' else (lambda: None)

    def array(self, a):
        return self.xp.asarray(a)

    def conv(self, x, w, b, gy, x_grad):
        xs = Tensor(self.array(x), requires_grad=x_grad)
        ws, bs, g = Tensor(self.array(w), requires_grad=True), Tensor(self.array(b), requires_grad=True), self.array(gy)
        return forward_pair(lambda: conv2d(xs, ws, bs, padding='same'), g, (xs, ws, bs))

    def conv_transpose(self, x, w, b, gy, strides):
        xs, ws, bs = (Tensor(self.array(a), requires_grad=True) for a in (x, w, b))
        g = self.array(gy)
        return forward_pair(lambda: conv_transpose2d(xs, ws, bs, strides=strides, padding='same'), g, (xs, ws, bs))

    def depthwise(self, x, w, b, gy, strides):
        xs, ws, bs = (Tensor(self.array(a), requires_grad=True) for a in (x, w, b))
        g = self.array(gy)
        return forward_pair(lambda: depthwise_conv2d(xs, ws, bs, strides=strides, padding='same'), g, (xs, ws, bs))

    def pool(self, x, gy):
        xs, g = Tensor(self.array(x), requires_grad=True), self.array(gy)
        return forward_pair(lambda: max_pool2d(xs, 2), g, (xs,))

    def bn(self, x, gy):
        c = x.shape[-1]
        xs, g = Tensor(self.array(x), requires_grad=True), self.array(gy)
        gamma = Tensor(self.xp.ones(c, np.float32), requires_grad=True)
        beta = Tensor(self.xp.zeros(c, np.float32), requires_grad=True)
        mean, var = Tensor(self.xp.zeros(c, np.float32)), Tensor(self.xp.ones(c, np.float32))
        return forward_pair(lambda: batch_norm(xs, gamma, beta, mean, var, training=True), g, (xs, gamma, beta))

    def gemm_gflops(self, n=2048, rounds=3):
        a = self.xp.asarray(np.random.default_rng(0).standard_normal((n, n), dtype=np.float32))
        t = best_times([lambda: a @ a], self.sync, rounds)[0]
        return 2 * n ** 3 / t / 1e9


class TorchRunner:
    """The same closures in PyTorch (NCHW, its native layout)."""
    def __init__(self, torch, device):
        self.torch, self.device = torch, device
        self.sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)

    def tensor(self, a, grad=False, nchw=False):
        a = np.ascontiguousarray(a.transpose(0, 3, 1, 2) if nchw else a)
        return self.torch.tensor(a, device=self.device, requires_grad=grad)

    def conv(self, x, w, b, gy, x_grad):
        f = self.torch.nn.functional
        xs, g = self.tensor(x, x_grad, nchw=True), self.tensor(gy, nchw=True)
        ws = self.torch.tensor(np.ascontiguousarray(w.transpose(3, 2, 0, 1)), device=self.device, requires_grad=True)
        bs = self.tensor(b, True)
        k = w.shape[0]
        pads = ((k - 1) // 2, k - 1 - (k - 1) // 2)  # Keras 'same' at stride 1: the smaller half first
        return forward_pair(lambda: f.conv2d(f.pad(xs, pads + pads), ws, bs), g, (xs, ws, bs))

    def conv_transpose(self, x, w, b, gy, strides):
        """Keras' 'same' transposed convolution: torch's full output (padding 0) cropped by the
        pads of ``geometry.transposed_pad_amounts`` (torch's ``padding`` crops both sides alike,
        the rest is a slice)."""
        f = self.torch.nn.functional
        xs, g, bs = self.tensor(x, True, nchw=True), self.tensor(gy, nchw=True), self.tensor(b, True)
        ws = self.torch.tensor(np.ascontiguousarray(w.transpose(3, 2, 0, 1)), device=self.device, requires_grad=True)
        pads = geometry.transposed_pad_amounts(x.shape[1:3], w.shape[:2], (strides,) * 2, 'same')
        assert all(after >= 0 for _, after in pads), pads
        common = tuple(min(p) for p in pads)
        crop = tuple(slice(before - c, size + before - c) for (before, _), c, size in zip(pads, common, gy.shape[1:3]))

        def forward():
            y = f.conv_transpose2d(xs, ws, bs, stride=strides, padding=common)
            return y[(slice(None), slice(None)) + crop]
        return forward_pair(forward, g, (xs, ws, bs))

    def depthwise(self, x, w, b, gy, strides):
        """``conv2d(groups=C)`` with the kernel (kh, kw, C, M) as (C M, 1, kh, kw), output channel
        c M + m as in Keras; Keras' 'same' pads (the smaller half first) by ``F.pad``."""
        f = self.torch.nn.functional
        xs, g, bs = self.tensor(x, True, nchw=True), self.tensor(gy, nchw=True), self.tensor(b, True)
        kh, kw, c, m = w.shape
        grouped = np.ascontiguousarray(w.reshape(kh, kw, 1, c * m).transpose(3, 2, 0, 1))
        ws = self.torch.tensor(grouped, device=self.device, requires_grad=True)
        (top, bottom), (left, right) = geometry.pad_amounts(x.shape[1:3], (kh, kw), (strides,) * 2, 'same')
        return forward_pair(lambda: f.conv2d(f.pad(xs, (left, right, top, bottom)), ws, bs, stride=strides, groups=c),
                            g, (xs, ws, bs))

    def pool(self, x, gy):
        xs, g = self.tensor(x, True, nchw=True), self.tensor(gy, nchw=True)
        return forward_pair(lambda: self.torch.nn.functional.max_pool2d(xs, 2), g, (xs,))

    def bn(self, x, gy):
        c = x.shape[-1]
        xs, g = self.tensor(x, True, nchw=True), self.tensor(gy, nchw=True)
        ones, zeros = np.ones(c, np.float32), np.zeros(c, np.float32)
        gamma, beta = self.tensor(ones, True), self.tensor(zeros, True)
        mean, var = self.tensor(zeros), self.tensor(ones)
        return forward_pair(lambda: self.torch.nn.functional.batch_norm(xs, mean, var, gamma, beta, True, 0.01, 1e-3),
                            g, (xs, gamma, beta))

    def gemm_gflops(self, n=2048, rounds=3):
        a = self.torch.randn(n, n, device=self.device)
        t = best_times([lambda: a @ a], self.sync, rounds)[0]
        return 2 * n ** 3 / t / 1e9


def cases(batch, mnist_batch):
    """(model, op, description, builder(runner) -> (forward, forward_backward), GEMM flops of fwd and fwd+bwd)."""
    rng = np.random.default_rng(0)
    out = []
    for model, layers, n in (('arch2', ARCH2, batch), ('ej8', EJ8, mnist_batch)):
        for i, (size, c, f, k) in enumerate(layers):
            x = rng.standard_normal((n, size, size, c), dtype=np.float32)
            w = rng.standard_normal((k, k, c, f), dtype=np.float32) * np.float32((2 / (k * k * c)) ** 0.5)
            b = np.zeros(f, np.float32)
            y = rng.standard_normal((n, size, size, f), dtype=np.float32)
            flops = 2 * n * size * size * f * k * k * c
            x_grad = i > 0
            out.append((model, 'conv2d', f'{n}x{size}x{size}x{c} -> {f}, {k}x{k} same',
                        lambda r, x=x, w=w, b=b, y=y, g=x_grad: r.conv(x, w, b, y, g), flops, flops * (2 + x_grad)))
            if model == 'arch2':
                out.append((model, 'batch_norm', f'{n}x{size}x{size}x{f}', lambda r, y=y: r.bn(y, y), None, None))
            if size > 4 and (model == 'arch2' or i == 0):
                half = rng.standard_normal((n, size // 2, size // 2, f), dtype=np.float32)
                out.append((model, 'max_pool2d', f'{n}x{size}x{size}x{f}, 2x2',
                            lambda r, y=y, h=half: r.pool(y, h), None, None))
    for model, layers in (('cae', CAE), ('dcgan', DCGAN)):
        for size, c, f, k, s in layers:
            x = rng.standard_normal((batch, size, size, c), dtype=np.float32)
            w = rng.standard_normal((k, k, f, c), dtype=np.float32) * np.float32((2 / (k * k * c)) ** 0.5)
            b = np.zeros(f, np.float32)
            y = rng.standard_normal((batch, size * s, size * s, f), dtype=np.float32)
            flops = 2 * batch * size * size * c * f * k * k     # x @ w^T: one GEMM each way
            out.append((model, 'conv_transpose2d', f'{batch}x{size}x{size}x{c} -> {f}, {k}x{k} s{s} same',
                        lambda r, x=x, w=w, b=b, y=y, s=s: r.conv_transpose(x, w, b, y, s), flops, 3 * flops))
    for size, c, k, s in MOBILENET:
        x = rng.standard_normal((batch, size, size, c), dtype=np.float32)
        w = rng.standard_normal((k, k, c, 1), dtype=np.float32) * np.float32((2 / (k * k)) ** 0.5)
        b = np.zeros(c, np.float32)
        o = -(-size // s)
        y = rng.standard_normal((batch, o, o, c), dtype=np.float32)
        flops = 2 * batch * o * o * c * k * k
        out.append(('mobilenet', 'depthwise_conv2d', f'{batch}x{size}x{size}x{c}, {k}x{k} s{s} same',
                    lambda r, x=x, w=w, b=b, y=y, s=s: r.depthwise(x, w, b, y, s), flops, 3 * flops))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--backend', choices=['numpy', 'cupy'], default='numpy')
    parser.add_argument('--batch', type=int, default=512, help='batch of the arch2 shapes (default 512)')
    parser.add_argument('--mnist-batch', type=int, default=None, help='batch of the ej8 shapes (default: --batch)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--ops', nargs='+', default=None, metavar='OP',
                        help='only these ops (conv2d, batch_norm, max_pool2d, conv_transpose2d, depthwise_conv2d)')
    args = parser.parse_args()
    mnist_batch = args.mnist_batch or args.batch
    ours = MinidlRunner(args.backend)
    try:
        import torch
        theirs = TorchRunner(torch, 'cuda' if args.backend == 'cupy' else 'cpu')
        torch_name = f'PyTorch {torch.__version__} {"CUDA" if args.backend == "cupy" else "CPU"}'
    except ImportError:
        theirs, torch_name = None, 'PyTorch (not installed)'
    threads = f', torch threads {torch.get_num_threads()}' if theirs else ''
    print(f'# bench_kernels  {time.strftime("%Y-%m-%d")}  {platform.processor() or platform.machine()}, '
          f'minidl-{args.backend} vs {torch_name}, batch {args.batch} (arch2, cae, dcgan, mobilenet) / {mnist_batch} (ej8), '
          f'float32, best of {args.rounds}{threads}\n')
    print(f'GEMM float32 2048^3: minidl backend {ours.gemm_gflops():.0f} GFLOP/s'
          + (f', torch {theirs.gemm_gflops():.0f} GFLOP/s' if theirs else '') + '\n')
    print('| model | op | shape | minidl fwd ms | minidl fwd+bwd ms | torch fwd ms | torch fwd+bwd ms '
          '| fwd+bwd ratio | minidl GFLOP/s fwd / fwd+bwd | torch GFLOP/s fwd+bwd |')
    print('|---|---|---|---:|---:|---:|---:|---:|---:|---:|')
    totals = {}
    for model, op, desc, build, flops_fwd, flops_both in cases(args.batch, mnist_batch):
        if args.ops and op not in args.ops:
            continue
        fns = list(build(ours))
        if theirs:
            fns += list(build(theirs))
        times = best_times(fns, lambda: (ours.sync(), theirs.sync() if theirs else None), args.rounds)
        ms = [f'{t * 1e3:.1f}' for t in times] + ['-'] * (4 - len(times))
        ratio = f'{times[1] / times[3]:.2f}' if theirs else '-'
        rate = f'{flops_fwd / times[0] / 1e9:.0f} / {flops_both / times[1] / 1e9:.0f}' if flops_fwd else '-'
        trate = f'{flops_both / times[3] / 1e9:.0f}' if flops_fwd and theirs else '-'
        print(f'| {model} | {op} | {desc} | {" | ".join(ms)} | {ratio} | {rate} | {trate} |')
        if theirs:
            key = (model, op)
            totals[key] = [a + b for a, b in zip(totals.get(key, [0, 0]), (times[1], times[3]))]
    if totals:
        print('\n| model | op | total fwd+bwd minidl ms | total fwd+bwd torch ms | ratio |')
        print('|---|---|---:|---:|---:|')
        for (model, op), (m, t) in totals.items():
            print(f'| {model} | {op} | {m * 1e3:.1f} | {t * 1e3:.1f} | {m / t:.2f} |')


if __name__ == '__main__':
    main()
