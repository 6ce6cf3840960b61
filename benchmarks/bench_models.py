"""Train one course model in one framework and measure it: steady-state seconds per training
epoch, inference images/s and peak memory. Data are random with the real shapes (speed does not
depend on content).

    python benchmarks/bench_models.py --framework minidl|keras|torch --device cpu|gpu \
        --model ej8_conv [--epochs-measured 3] [--samples N] [--batch-size B] [--json FILE]

* An epoch is ``--samples`` samples (default: the full data set on the GPU, a slice of it on
  the CPU, see model_defs.SPECS); seconds per epoch are the median of the measured epochs after
  one warm-up epoch, EXTRAPOLATED to the real epoch size (60k MNIST, 50k CIFAR-10, 25k IMDB).
* Training runs through each framework's own loop: ``fit`` for minidl and Keras (timed by a
  callback), the usual zero_grad/forward/backward/step loop for PyTorch; all shuffle every epoch
  and accumulate loss and accuracy as Keras does.
* Inference: ``predict`` (PyTorch: eval mode, inference_mode, outputs gathered into one NumPy
  array), median of 3 passes over the epoch's samples at the training batch size.
* Peak memory: on the CPU the process' peak RSS (``ru_maxrss``: interpreter, framework, data and
  model); on the GPU ``torch.cuda.max_memory_allocated`` for PyTorch and Keras-on-PyTorch, the
  high-water mark of CuPy's memory-pool ``total_bytes`` for minidl (sampled at every batch).
* Keras runs on TensorFlow on the CPU and on its PyTorch backend on the GPU (``KERAS_BACKEND``
  overrides). A framework that cannot be imported or has no GPU gives status 'n/a', not a crash.

* ``--threads N`` sets every thread pool of the process to N: BLAS and OpenMP (threadpoolctl),
  PyTorch's intra-op threads, TensorFlow's intra- and inter-op pools. Without it each framework
  keeps its default (PyTorch gets one thread per core it may run on). Either way the result
  records what was in effect (``runtime``): every threadpoolctl pool with its library, kernel
  architecture and thread count, PyTorch's and TensorFlow's own pools, the thread and OpenBLAS
  environment variables, and minidl's host-memory setting with a re-fault probe
  (``minidl.host_memory.refault_pages``; the probe runs in the Keras and PyTorch processes too,
  for their allocator). Each epoch also records its CPU seconds (``process_time``) and minor page
  faults, which tell a slow epoch from a starved one on a shared machine.

The last line printed is ``RESULT_JSON {...}`` (also written to ``--json``); run_models.py reads it.
``--profile FILE`` writes cProfile's top lines (by tottime) over the measured epochs.
"""
import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # minidl from a checkout
import model_defs  # noqa: E402

FRAMEWORKS = ('minidl', 'keras', 'torch')
DEVICES = ('cpu', 'gpu')
PREDICT_REPEATS = 3


class FrameworkUnavailable(Exception):
    """The framework (or its GPU support) is not installed here: report 'n/a'."""


def peak_rss_mb():
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def blas_info():
    """The BLAS libraries loaded in this process: API, kernel architecture, threads."""
    return [lib for lib in thread_pools() if lib.get('user_api') == 'blas']


def thread_pools():
    """Every native thread pool threadpoolctl finds in this process (BLAS and OpenMP): API,
    library file, kernel architecture, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ('user_api', 'internal_api', 'architecture', 'num_threads', 'version', 'threading_layer')
    return [dict({k: lib.get(k) for k in keys}, library=os.path.basename(lib.get('filepath') or ''))
            for lib in threadpool_info()]


THREAD_ENV = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE',
              'OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'KMP_BLOCKTIME', 'TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS',
              'MINIDL_HOST_MEMORY', 'MINIDL_KERNELS', 'MALLOC_MMAP_MAX_', 'MALLOC_TRIM_THRESHOLD_')


def set_threads(n):
    """Every thread pool of this process to ``n`` threads, before the frameworks start theirs
    (the parent also sets the environment variables: OpenMP reads them when it loads)."""
    for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        pass


def runtime_info():
    """What decides speed in this process besides the code: thread pools, thread and allocator
    environment, minidl's host-memory setting and whether freed memory is re-faulted."""
    info = {'thread_pools': thread_pools(),
            'env': {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
            'affinity_cores': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}
    if 'torch' in sys.modules:
        torch = sys.modules['torch']
        info['torch'] = {'intra_op_threads': torch.get_num_threads(), 'inter_op_threads': torch.get_num_interop_threads(),
                         'parallel_info': torch.__config__.parallel_info().splitlines()[:12]}
    if 'tensorflow' in sys.modules:
        tf = sys.modules['tensorflow']
        # 0 means TensorFlow's default: one thread per core (intra) and a pool it sizes itself (inter)
        info['tensorflow'] = {'intra_op_threads': tf.config.threading.get_intra_op_parallelism_threads(),
                              'inter_op_threads': tf.config.threading.get_inter_op_parallelism_threads()}
    hm = sys.modules.get('minidl.host_memory')
    if hm is not None:  # an older minidl (compare.py times old revisions) has no state/probe
        info['minidl_host_memory'] = getattr(hm, 'state', {}).get('setting', 'set at import (older minidl)')
        info['refault_pages_16mib'] = hm.refault_pages() if hasattr(hm, 'refault_pages') else _refault_probe()
    else:
        info['minidl_host_memory'] = 'not imported (glibc defaults)'
        info['refault_pages_16mib'] = _refault_probe()
    return info


def _refault_probe(nbytes=16 * 2 ** 20):
    """minidl.host_memory.refault_pages without importing minidl (for the Keras and PyTorch
    processes): minor faults of allocating, touching and freeing 16 MiB a second time."""
    def touch():
        a = np.empty(nbytes, np.uint8)
        a.fill(1)
        del a
    touch()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    touch()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _counters():
    """(wall, CPU seconds of this process, minor page faults) now."""
    return time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def minidl_source():
    """'git <commit>' of the checkout this minidl is imported from, '+ modified' when its minidl/
    folder has uncommitted changes ('' outside a git checkout)."""
    import subprocess
    import minidl
    root = os.path.dirname(os.path.dirname(os.path.abspath(minidl.__file__)))
    try:
        commit = subprocess.run(['git', '-C', root, 'rev-parse', '--short', 'HEAD'], capture_output=True,
                                text=True, timeout=30)
        dirty = subprocess.run(['git', '-C', root, 'status', '--porcelain', '--', 'minidl'], capture_output=True,
                               text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ''
    if commit.returncode != 0:
        return ''
    return f'git {commit.stdout.strip()}' + (' + modified' if dirty.stdout.strip() else '')


class Profiler:
    """cProfile switched on only during the measured epochs (a no-op when no file is asked)."""

    def __init__(self, path, top=15):
        self.path, self.top = path, top
        self.profile = cProfile.Profile() if path else None

    def enable(self, epoch):
        if self.profile is not None and epoch >= 1:
            self.profile.enable()

    def disable(self):
        if self.profile is not None:
            self.profile.disable()

    def write(self, header):
        if self.profile is None:
            return None
        out = io.StringIO()
        pstats.Stats(self.profile, stream=out).sort_stats('tottime').print_stats(self.top)
        text = header + '\n' + _strip_pstats_preamble(out.getvalue())
        write_atomic(self.path, text)
        return text


def _strip_pstats_preamble(text):
    """pstats' report from the 'ncalls' header line on, without the blank lines around it and
    with file names relative to the checkout or to site-packages."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    text = re.sub(r'\S*[/\\](site|dist)-packages[/\\]', r'\1-packages/', text.replace(root, ''))
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith('ncalls')), 0)
    total = next((line.strip() for line in lines if 'function calls' in line), '')
    return '\n'.join([total] + [line for line in lines[start:] if line.strip()]) + '\n'


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp_', suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------------------------------
# Keras-style frameworks: minidl and Keras
# ------------------------------------------------------------------------------------------------
def _import_keras_style(framework, device):
    """(api namespace, sync(), device-memory sampler or None, info dict) for minidl or Keras."""
    if framework == 'keras':
        os.environ.setdefault('KERAS_BACKEND', 'torch' if device == 'gpu' else 'tensorflow')
        os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
        try:
            api = model_defs.keras_api('keras')
        except ImportError as err:
            raise FrameworkUnavailable(f'keras (backend {os.environ["KERAS_BACKEND"]}) cannot be imported: {err}')
        backend = os.environ['KERAS_BACKEND']
        info = {'keras_backend': backend}
        if backend == 'torch':
            import torch
            if device == 'gpu' and not torch.cuda.is_available():
                raise FrameworkUnavailable('Keras on PyTorch: no CUDA device')
            info['torch_threads'] = torch.get_num_threads()
            sync = torch.cuda.synchronize if device == 'gpu' else (lambda: None)
            return api, sync, None, info
        if device == 'gpu':
            raise FrameworkUnavailable(f'Keras on the GPU is measured on its PyTorch backend, not {backend}')
        return api, (lambda: None), None, info
    try:
        import minidl
        api = model_defs.keras_api('minidl')
    except ImportError as err:
        raise FrameworkUnavailable(f'minidl front end cannot be imported: {err}')
    if device == 'cpu':
        minidl.set_backend('numpy')
        return api, (lambda: None), None, {'minidl_backend': 'numpy', 'minidl_source': minidl_source()}
    try:
        minidl.set_backend('cupy')
        import cupy
        cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # BackendError, ImportError or a CUDA runtime error
        raise FrameworkUnavailable(f'minidl on the GPU needs CuPy and CUDA: {err}')
    pool = cupy.get_default_memory_pool()
    high_water = {'total_bytes': 0, 'used_bytes': 0}

    def sample():
        high_water['total_bytes'] = max(high_water['total_bytes'], pool.total_bytes())
        high_water['used_bytes'] = max(high_water['used_bytes'], pool.used_bytes())
        return high_water

    info = {'minidl_backend': 'cupy', 'minidl_source': minidl_source()}
    return api, cupy.cuda.get_current_stream().synchronize, sample, info


def _epoch_timer_class(callback_base, sync, sample, profiler):
    """A Callback (of the framework's own base class) that times every epoch, optionally
    profiles the epochs after the first and samples device memory before every batch (the pool
    keeps its blocks, so the previous step's peak is still counted) and after every epoch."""

    class EpochTimer(callback_base):
        def __init__(self):
            super().__init__()
            self.times, self.cpu_times, self.faults = [], [], []
            self._t0 = None

        def on_epoch_begin(self, epoch, logs=None):
            sync()
            profiler.enable(epoch)
            self._t0 = _counters()

        def on_epoch_end(self, epoch, logs=None):
            sync()
            now = _counters()
            self.times.append(now[0] - self._t0[0])
            self.cpu_times.append(now[1] - self._t0[1])
            self.faults.append(now[2] - self._t0[2])
            profiler.disable()
            if sample is not None:
                sample()

    if sample is not None:  # a batch-*begin* hook: batch-end hooks make fit read the logs, a sync per batch
        EpochTimer.on_train_batch_begin = lambda self, batch, logs=None: sample()
    return EpochTimer()


def run_keras_style(framework, spec, device, x, y, epochs, batch_size, predict_batch_size, profiler, threads=None):
    api, sync, sample, info = _import_keras_style(framework, device)
    if threads and 'tensorflow' in sys.modules:
        tf = sys.modules['tensorflow']
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    if threads and 'torch' in sys.modules:
        sys.modules['torch'].set_num_threads(threads)
    if framework == 'minidl' and device == 'gpu':
        import cupy
        x, y = cupy.asarray(x), cupy.asarray(y)
    rss_before_model = peak_rss_mb()
    model = model_defs.build_keras_style(spec.name, api)
    params = int(model.count_params())
    timer = _epoch_timer_class(api.callbacks.Callback, sync, sample, profiler)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True, callbacks=[timer])

    def predict(data):
        out = model.predict(data, batch_size=predict_batch_size, verbose=0)
        sync()
        return out

    predict_s = _time_predict(predict, x, predict_batch_size)
    result = dict(info, epoch_times_s=timer.times, epoch_cpu_s=timer.cpu_times, epoch_minor_faults=timer.faults,
                  predict_s=predict_s, params=params, rss_before_model_mb=rss_before_model)
    if framework == 'keras' and info['keras_backend'] == 'torch' and device == 'gpu':
        import torch
        result['device_peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
        result['device_peak_kind'] = 'torch.cuda.max_memory_allocated'
    if sample is not None:
        high = sample()
        result['device_peak_mb'] = high['total_bytes'] / 2**20
        result['device_peak_kind'] = 'cupy pool total_bytes high-water'
        result['device_used_peak_mb'] = high['used_bytes'] / 2**20
    return result


# ------------------------------------------------------------------------------------------------
# PyTorch
# ------------------------------------------------------------------------------------------------
def run_torch(spec, device, x, y, epochs, batch_size, predict_batch_size, profiler, threads=None):
    try:
        import torch
    except ImportError as err:
        raise FrameworkUnavailable(f'torch cannot be imported: {err}')
    if device == 'gpu':
        if not torch.cuda.is_available():
            raise FrameworkUnavailable('torch has no CUDA device here')
        torch.backends.cudnn.benchmark = True
        dev = torch.device('cuda')
        sync = torch.cuda.synchronize
    else:
        torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
        dev = torch.device('cpu')
        sync = (lambda: None)
    if x.ndim == 4:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NHWC -> NCHW
    xt = torch.from_numpy(x).to(dev)
    yt = torch.from_numpy(y).to(dev)
    rss_before_model = peak_rss_mb()
    module, loss_fn, hits, optimizer = model_defs.build_torch(spec.name)
    module.to(dev)
    params = sum(p.numel() for p in module.parameters())
    params += sum(b.numel() for b in module.buffers() if b.dtype.is_floating_point)  # BN statistics
    n = xt.shape[0]
    times, cpu_times, faults = [], [], []
    for epoch in range(epochs):
        sync()
        profiler.enable(epoch)
        t0 = _counters()
        module.train()
        loss_sum = torch.zeros((), device=dev)
        hit_sum = torch.zeros((), device=dev, dtype=torch.int64)
        perm = torch.randperm(n, device=dev)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            xb, yb = xt[idx], yt[idx]
            optimizer.zero_grad(set_to_none=True)
            out = module(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum += loss.detach()
                hit_sum += hits(out, yb)
        float(loss_sum), int(hit_sum)  # epoch logs, as Keras reads them (one sync per epoch)
        sync()
        now = _counters()
        times.append(now[0] - t0[0])
        cpu_times.append(now[1] - t0[1])
        faults.append(now[2] - t0[2])
        profiler.disable()

    def predict(data):
        module.eval()
        with torch.inference_mode():
            outs = [module(data[i:i + predict_batch_size]) for i in range(0, data.shape[0], predict_batch_size)]
            result = torch.cat(outs).cpu().numpy()
        sync()
        return result

    predict_s = _time_predict(predict, xt, predict_batch_size)
    result = {'epoch_times_s': times, 'epoch_cpu_s': cpu_times, 'epoch_minor_faults': faults,
              'predict_s': predict_s, 'params': int(params),
              'rss_before_model_mb': rss_before_model, 'torch_threads': torch.get_num_threads()}
    if device == 'gpu':
        result['device_peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
        result['device_peak_kind'] = 'torch.cuda.max_memory_allocated'
        result['device_reserved_peak_mb'] = torch.cuda.max_memory_reserved() / 2**20
    return result


def _time_predict(predict, x, predict_batch_size):
    """(samples, [seconds per pass]) of PREDICT_REPEATS passes over the whole batches of ``x``,
    after a warm-up on two batches."""
    n = max(predict_batch_size, x.shape[0] // predict_batch_size * predict_batch_size)
    data = x[:n]
    predict(data[:2 * predict_batch_size])
    times, cpu = [], []
    for _ in range(PREDICT_REPEATS):
        t0 = _counters()
        predict(data)
        now = _counters()
        times.append(now[0] - t0[0])
        cpu.append(now[1] - t0[1])
    return {'samples': int(min(n, x.shape[0])), 'times_s': times, 'cpu_s': cpu}


# ------------------------------------------------------------------------------------------------
def run_benchmark(framework, device, model, epochs_measured=3, samples=None, batch_size=None,
                  predict_batch_size=None, profile=None, profile_top=15, seed=0, threads=None):
    """Measure one (framework, device, model) in this process and return the result dict
    (status 'ok', or 'n/a' with a reason when the framework is not available)."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"--framework must be one of {FRAMEWORKS}, got '{framework}'.")
    if device not in DEVICES:
        raise ValueError(f"--device must be one of {DEVICES}, got '{device}'.")
    if epochs_measured < 1:
        raise ValueError(f'--epochs-measured must be at least 1, got {epochs_measured}.')
    spec = model_defs.get_spec(model)
    batch_size = batch_size or spec.batch_size
    predict_batch_size = predict_batch_size or batch_size
    samples = samples or ((spec.gpu_samples or spec.epoch_size) if device == 'gpu' else spec.cpu_samples)
    if samples < batch_size:
        raise ValueError(f'--samples ({samples}) must be at least one batch ({batch_size}).')
    base = {'model': spec.name, 'course_id': spec.course_id, 'framework': framework, 'device': device,
            'samples': samples, 'epoch_size': spec.epoch_size, 'batch_size': batch_size,
            'predict_batch_size': predict_batch_size, 'epochs_measured': epochs_measured,
            'data': 'random, real shapes', 'python': platform.python_version(),
            'loadavg_start': os.getloadavg()[0]}
    if threads is not None:
        if threads < 1:
            raise ValueError(f'--threads must be at least 1, got {threads}.')
        set_threads(threads)
        base['threads_set'] = threads
    x, y = model_defs.make_data(spec, samples, seed)
    profiler = Profiler(profile, profile_top)
    runner_args = (spec, device, x, y, epochs_measured + 1, batch_size, predict_batch_size, profiler)
    try:
        if framework == 'torch':
            measured = run_torch(*runner_args, threads=threads)
        else:
            measured = run_keras_style(framework, *runner_args, threads=threads)
    except FrameworkUnavailable as err:
        return dict(base, status='n/a', reason=str(err))
    steady = measured['epoch_times_s'][1:]
    median = statistics.median(steady)
    predict = measured.pop('predict_s')
    result = dict(base, status='ok', **measured)
    result.update({
        'warmup_epoch_s': measured['epoch_times_s'][0],
        'median_epoch_s_measured': median,
        'sec_per_epoch': median * spec.epoch_size / samples,
        'extrapolated': samples != spec.epoch_size,
        'inference_samples': predict['samples'],
        'inference_times_s': predict['times_s'],
        'inference_cpu_s': predict['cpu_s'],
        'inference_per_s': predict['samples'] / statistics.median(predict['times_s']),
        'median_epoch_cpu_s_measured': statistics.median(measured['epoch_cpu_s'][1:]),
        'cpu_per_epoch': statistics.median(measured['epoch_cpu_s'][1:]) * spec.epoch_size / samples,
        'peak_rss_mb': peak_rss_mb(),
        'blas': blas_info(),
        'runtime': runtime_info(),
        'loadavg_end': os.getloadavg()[0],
        'profiled': bool(profile),
    })
    if profile:
        header = (f'cProfile, {framework} {device} {spec.name}: {len(steady)} epoch(s) of {samples} samples, '
                  f'batch {batch_size}, top {profile_top} by tottime')
        result['profile_text'] = profiler.write(header)
    return result


def threads_summary(runtime):
    """'openblas 0.3.31 SkylakeX x2, openmp x2; torch intra 2 / inter 2; host memory kept (0 re-faults)'."""
    parts = [f"{p['internal_api']}{' ' + p['version'] if p.get('version') else ''}"
             f"{' ' + p['architecture'] if p.get('architecture') else ''} x{p['num_threads']}"
             for p in runtime.get('thread_pools', [])]
    text = ', '.join(parts) or 'no native pool seen'
    if 'torch' in runtime:
        text += f"; torch intra {runtime['torch']['intra_op_threads']} / inter {runtime['torch']['inter_op_threads']}"
    if 'tensorflow' in runtime:
        tf = runtime['tensorflow']
        text += f"; TF intra {tf['intra_op_threads'] or 'default'} / inter {tf['inter_op_threads'] or 'default'}"
    env = runtime.get('env', {})
    shown = [f'{k}={v}' for k, v in env.items() if k not in ('MINIDL_KERNELS',)]
    if shown:
        text += '; ' + ' '.join(shown)
    if 'minidl_host_memory' in runtime:
        text += f"; host memory {runtime['minidl_host_memory']} ({runtime.get('refault_pages_16mib')} re-faults/16 MiB)"
    return text


def describe(result):
    """A few human-readable lines about one result."""
    head = f"{result['framework']:>6} {result['device']} {result['model']}"
    if result['status'] != 'ok':
        return f"{head}: {result['status']} ({result.get('reason', '')})"
    lines = [f"{head}: {result['sec_per_epoch']:.2f} s/epoch"
             + (f" (extrapolated from {result['samples']} of {result['epoch_size']} samples)"
                if result['extrapolated'] else ''),
             f"  measured epochs {', '.join(f'{t:.3f}' for t in result['epoch_times_s'][1:])} s "
             f"(warm-up {result['warmup_epoch_s']:.3f} s)",
             f"  CPU seconds per measured epoch {', '.join(f'{t:.3f}' for t in result['epoch_cpu_s'][1:])}",
             f"  inference {result['inference_per_s']:,.0f} samples/s; peak RSS {result['peak_rss_mb']:.0f} MiB",
             f"  threads: {threads_summary(result.get('runtime', {}))}"]
    if 'device_peak_mb' in result:
        lines.append(f"  device peak {result['device_peak_mb']:.0f} MiB ({result['device_peak_kind']})")
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--framework', required=True, choices=FRAMEWORKS)
    parser.add_argument('--device', default='cpu', choices=DEVICES)
    parser.add_argument('--model', required=True, choices=list(model_defs.SPECS))
    parser.add_argument('--epochs-measured', type=int, default=3, help='epochs timed after the warm-up epoch')
    parser.add_argument('--samples', type=int, help='samples per epoch (default: see model_defs.SPECS)')
    parser.add_argument('--batch-size', type=int, help="training batch size (default: the model's)")
    parser.add_argument('--predict-batch-size', type=int, help='inference batch size (default: training batch)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random data')
    parser.add_argument('--json', help='also write the result as JSON to this file')
    parser.add_argument('--profile', help='write cProfile top lines (by tottime) of the measured epochs here')
    parser.add_argument('--profile-top', type=int, default=15)
    parser.add_argument('--threads', type=int, help='threads of every pool (BLAS, OpenMP, PyTorch, TensorFlow)')
    args = parser.parse_args(argv)
    result = run_benchmark(args.framework, args.device, args.model, args.epochs_measured, args.samples,
                           args.batch_size, args.predict_batch_size, args.profile, args.profile_top, args.seed,
                           args.threads)
    print(describe(result), file=sys.stderr)
    if result.get('profile_text'):
        print(result['profile_text'], file=sys.stderr)
    text = json.dumps(result)
    if args.json:
        write_atomic(args.json, text + '\n')
    print('RESULT_JSON ' + text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
