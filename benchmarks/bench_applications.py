"""Inference speed and memory of the ImageNet backbones: minidl.applications beside Keras 3 on
TensorFlow and PyTorch, on the CPU (the GPU with ``--device gpu`` where one is lent).

Rows (what the course runs): ResNet50 and DenseNet121 with their ImageNet top at 224x224, and
VGG16 as a feature extractor (``include_top=False``) at the course's 32x32 (Muestra 9) and at
224x224 (the resized CIFAR-10 of cifar10_k.tl_vgg16_*), batch 32 by default.

    python benchmarks/bench_applications.py --framework minidl --model resnet50   # one measurement
    python benchmarks/bench_applications.py --all --rounds 2 --json out.json      # the table

* One measurement is one process: build the model (random weights: speed does not depend on
  them), one warm-up batch, then ``--repeats`` timed batches; the median seconds per batch is
  reported, with images/s. minidl and Keras run ``model.predict(x, batch_size=B)``; PyTorch
  runs ``model(x)`` in eval mode under ``torch.inference_mode()`` (its usual inference loop).
* Memory: the process' peak RSS (``ru_maxrss``, interpreter + framework + weights + the
  batch's activations) and the part of it added during inference (peak minus the RSS after the
  model was built and the input made).
* PyTorch models are written here with torch.nn, layer for layer the same networks as Keras'
  (ResNet50 with conv biases and the stride on the first 1x1 convolution, as Keras' v1 blocks;
  torchvision's resnet50 differs in both): torchvision's PyPI wheel links CUDA libraries and
  cannot load next to the CPU-only torch here, so it is not used.
* ``--all`` runs every (model, framework) pair in its own process, the frameworks interleaved in
  each round so that load from other users of the machine spreads over all of them; each row
  reports the best round (the least disturbed) and the spread over rounds.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # minidl from a checkout

MODELS = {  # name -> (application, include_top, input side)
    'resnet50': ('ResNet50', True, 224),
    'densenet121': ('DenseNet121', True, 224),
    'vgg16_notop_32': ('VGG16', False, 32),
    'vgg16_notop_224': ('VGG16', False, 224),
}
FRAMEWORKS = ('minidl', 'keras', 'torch')


def rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------- frameworks

def minidl_runner(app, include_top, size, batch, device):
    import minidl
    from minidl import applications
    if device == 'gpu':
        minidl.set_backend('cupy')
    model = getattr(applications, app)(include_top=include_top, weights=None, input_shape=(size, size, 3))

    def run(x):
        return model.predict(x, batch_size=batch, verbose=0)
    return run, {'minidl': minidl.__version__, 'backend': minidl.get_backend()}


def keras_runner(app, include_top, size, batch, device):
    os.environ.setdefault('KERAS_BACKEND', 'tensorflow' if device == 'cpu' else 'torch')
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    import keras
    model = getattr(keras.applications, app)(include_top=include_top, weights=None, input_shape=(size, size, 3))

    def run(x):
        return model.predict(x, batch_size=batch, verbose=0)
    return run, {'keras': keras.__version__, 'backend': keras.backend.backend()}


def torch_runner(app, include_top, size, batch, device):
    import torch
    dev = torch.device('cuda' if device == 'gpu' else 'cpu')
    model = TORCH_MODELS[app](torch.nn, include_top).to(dev).eval()

    def run(x):
        with torch.inference_mode():
            out = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(dev))
            return out.cpu().numpy()
    return run, {'torch': torch.__version__, 'threads': torch.get_num_threads()}


def torch_vgg16_features(nn, include_top):
    assert not include_top
    stages, channels = [], 3
    for filters, count in zip((64, 128, 256, 512, 512), (2, 2, 3, 3, 3)):
        for _ in range(count):
            stages += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(inplace=True)]
            channels = filters
        stages.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*stages)


def torch_resnet50(nn, include_top):
    """Keras' ResNet50 (v1 blocks: conv biases, stride on the first 1x1 convolution)."""
    import torch

    def bn(c):
        return nn.BatchNorm2d(c, eps=1.001e-5)

    class Block(nn.Module):
        def __init__(self, cin, filters, stride, project):
            super().__init__()
            self.shortcut = nn.Sequential(nn.Conv2d(cin, 4 * filters, 1, stride), bn(4 * filters)) \
                if project else None
            self.body = nn.Sequential(
                nn.Conv2d(cin, filters, 1, stride), bn(filters), nn.ReLU(inplace=True),
                nn.Conv2d(filters, filters, 3, padding=1), bn(filters), nn.ReLU(inplace=True),
                nn.Conv2d(filters, 4 * filters, 1), bn(4 * filters))

        def forward(self, x):
            short = x if self.shortcut is None else self.shortcut(x)
            return torch.relu(short + self.body(x))

    blocks, cin = [], 64
    for filters, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(count):
            blocks.append(Block(cin, filters, stride if i == 0 else 1, i == 0))
            cin = 4 * filters
    layers = [nn.Conv2d(3, 64, 7, 2, padding=3), bn(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1)]
    layers += blocks
    if include_top:
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def torch_densenet121(nn, include_top):
    """Keras' DenseNet121: every conv block concatenates its 32 new channels to its input."""
    import torch

    def bn(c):
        return nn.BatchNorm2d(c, eps=1.001e-5)

    class ConvBlock(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.body = nn.Sequential(bn(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, 128, 1, bias=False),
                                      bn(128), nn.ReLU(inplace=True), nn.Conv2d(128, 32, 3, padding=1, bias=False))

        def forward(self, x):
            return torch.cat([x, self.body(x)], 1)

    layers, c = [nn.Conv2d(3, 64, 7, 2, padding=3, bias=False), bn(64), nn.ReLU(inplace=True),
                 nn.MaxPool2d(3, 2, padding=1)], 64
    for stage, count in enumerate((6, 12, 24, 16)):
        for _ in range(count):
            layers.append(ConvBlock(c))
            c += 32
        if stage < 3:
            layers += [bn(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
            c //= 2
    layers += [bn(c), nn.ReLU(inplace=True)]
    if include_top:
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


TORCH_MODELS = {'VGG16': torch_vgg16_features, 'ResNet50': torch_resnet50, 'DenseNet121': torch_densenet121}
RUNNERS = {'minidl': minidl_runner, 'keras': keras_runner, 'torch': torch_runner}


def measure(framework, model_name, batch, repeats, device):
    app, include_top, size = MODELS[model_name]
    start = time.perf_counter()
    run, versions = RUNNERS[framework](app, include_top, size, batch, device)
    build_s = time.perf_counter() - start
    x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype('float32')
    rss_built = rss_mb()
    start = time.perf_counter()
    out = run(x)
    warmup_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    peak = peak_rss_mb()
    return {'framework': framework, 'model': model_name, 'device': device, 'batch': batch, 'size': size,
            'output_shape': list(np.shape(out)), 'build_s': round(build_s, 2), 'warmup_s': round(warmup_s, 3),
            'seconds_per_batch': round(seconds, 4), 'times': [round(t, 4) for t in times],
            'images_per_s': round(batch / seconds, 2), 'peak_rss_mb': round(peak, 1),
            'rss_built_mb': round(rss_built, 1), 'inference_peak_mb': round(max(0.0, peak - rss_built), 1),
            'versions': versions, 'cpus': os.cpu_count(), 'load_avg_start': os.getloadavg()[0]}


def run_all(args):
    """Every (model, framework) pair ``--rounds`` times in fresh processes, interleaved."""
    results = []
    for r in range(args.rounds):
        for model in args.models:
            for framework in args.frameworks:
                cmd = [sys.executable, os.path.abspath(__file__), '--framework', framework, '--model', model,
                       '--batch', str(args.batch), '--repeats', str(args.repeats), '--device', args.device]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
                line = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT_JSON ')]
                if proc.returncode != 0 or not line:
                    print(f'round {r} {model} {framework}: failed\n{proc.stderr[-2000:]}', file=sys.stderr)
                    continue
                result = json.loads(line[-1][len('RESULT_JSON '):])
                result['round'] = r
                results.append(result)
                print(f"round {r} {model:16s} {framework:6s} {result['seconds_per_batch']:8.3f} s/batch "
                      f"{result['images_per_s']:8.1f} img/s  peak {result['peak_rss_mb']:7.0f} MB "
                      f"(+{result['inference_peak_mb']:.0f})  load {result['load_avg_start']:.1f}", flush=True)
    print(table(results, args))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return results


def table(results, args):
    lines = [f'| model (batch {args.batch}) | framework | s/batch (best) | rounds | img/s | vs PyTorch | '
             'peak RSS MB | +inference MB |', '|---|---|---:|---|---:|---:|---:|---:|']
    best = {}
    for r in results:
        key = (r['model'], r['framework'])
        best.setdefault(key, []).append(r)
    for model in args.models:
        torch_best = min((r['seconds_per_batch'] for r in best.get((model, 'torch'), [])), default=None)
        for framework in args.frameworks:
            runs = best.get((model, framework))
            if not runs:
                continue
            top = min(runs, key=lambda r: r['seconds_per_batch'])
            spread = ', '.join(f"{r['seconds_per_batch']:.2f}" for r in runs)
            ratio = f"{top['seconds_per_batch'] / torch_best:.2f}x" if torch_best else 'n/a'
            lines.append(f"| {model} | {framework} | {top['seconds_per_batch']:.3f} | {spread} | "
                         f"{top['images_per_s']:.1f} | {ratio} | {top['peak_rss_mb']:.0f} | "
                         f"{top['inference_peak_mb']:.0f} |")
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--framework', choices=FRAMEWORKS)
    p.add_argument('--model', choices=list(MODELS))
    p.add_argument('--all', action='store_true', help='every model and framework, in subprocesses')
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    p.add_argument('--frameworks', nargs='+', default=list(FRAMEWORKS), choices=FRAMEWORKS)
    p.add_argument('--rounds', type=int, default=1)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--device', choices=('cpu', 'gpu'), default='cpu')
    p.add_argument('--json', default=None)
    args = p.parse_args()
    if args.all:
        run_all(args)
        return
    if not (args.framework and args.model):
        p.error('give --framework and --model, or --all')
    result = measure(args.framework, args.model, args.batch, args.repeats, args.device)
    print('RESULT_JSON ' + json.dumps(result))


if __name__ == '__main__':
    main()
