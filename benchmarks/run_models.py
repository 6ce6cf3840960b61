"""Run bench_models.py for every (model, framework) as separate processes and write the
Markdown table, with the targets of issue 5 marked met or missed, into RESULTS.md.

    python benchmarks/run_models.py --device cpu|gpu [--models ...] [--frameworks ...] \
        [--samples N] [--epochs-measured 3] [--rounds 1] --out benchmarks/RESULTS.md

* Every run is a fresh process without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they force
  slower BLAS kernels), for all frameworks alike; Keras gets KERAS_BACKEND=tensorflow on the CPU
  and torch on the GPU unless KERAS_BACKEND is set.
* With ``--rounds R`` the frameworks run interleaved (the order rotates each round) and every
  figure is the median over the rounds, so that load from other processes hits all alike.
* ``--threads N`` gives every framework's process N threads in every pool (BLAS, OpenMP, PyTorch
  intra-op, TensorFlow intra/inter-op; the environment variables too); without it each keeps its
  default. Either way the table's header lists the pools each framework's process had in effect.
* ``--max-load L`` waits before every run until the 1-minute load average is below L (polling
  every 30 s, at most ``--max-wait`` seconds), so that a shared machine's other jobs do not fall
  on one framework's run; the load at each start and end is kept with the result.
* Every figure comes with its spread over the rounds (the largest deviation from the median, in
  per cent); a figure whose spread exceeds ±10 % is marked as unstable.
* ``--json-out FILE`` keeps the record of a run (machine, versions, raw results);
  ``--from-json F1 F2 ...`` renders several such records (say, GPU runs split to fit a time
  limit per command) into one block without running anything.
* Only this device's block of RESULTS.md (between its ``bench_models:<device>`` markers, inside
  the '## Models (bench_models.py)' section) is replaced; the rest of the file is kept.
"""
import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_defs  # noqa: E402
from bench_models import FRAMEWORKS, write_atomic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SECTION = '## Models (bench_models.py)'
SECTION_INTRO = ('Whole course models trained through each framework\'s own training loop '
                 '(`benchmarks/bench_models.py`, driver `benchmarks/run_models.py`).\n')
FILE_HEADER = '# minidl benchmarks\n\nMeasurements of minidl against Keras and PyTorch (issue 5).\n'
UNSET_ENV = ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')
FRAMEWORK_TITLES = {'minidl': 'minidl', 'keras': 'Keras', 'torch': 'PyTorch'}
DISTRIBUTIONS = [('numpy', ['numpy']), ('cupy', ['cupy', 'cupy-cuda12x', 'cupy-cuda13x', 'cupy-cuda11x']),
                 ('torch', ['torch']), ('tensorflow', ['tensorflow', 'tensorflow-cpu']), ('keras', ['keras']),
                 ('minidl', ['minidl'])]

# Targets of issue 5
CPU_MAX_VS_KERAS = 1.0
CPU_MAX_VS_TORCH = 1.5
MAX_MEMORY_VS_TORCH = 1.5
CPU_EJ8_CONV_MAX_S = 30.0
CPU_EJ8_CONV_MAX_S_ISSUE21 = 15.0   # issue 21: half of this machine's 2048^3 GEMM limit
STABLE_SPREAD = 0.10                 # issue 21: every figure within ±10 % between rounds
GPU_ARCH2_MAX_S = 1.0
GPU_ARCH2_STRETCH_S = 0.6
GPU_ARCH2_MIN_SPEEDUP_VS_KERAS = 2.5
GPU_ARCH2_MAX_VS_TORCH = 2.0
GPU_ARCH2_MIN_INFERENCE = 150_000


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------
def bench_env(device, threads=None):
    """The environment of a benchmark process: this one without the OpenBLAS overrides (and
    with every thread-count variable at ``threads`` when it is given)."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    env.setdefault('KERAS_BACKEND', 'torch' if device == 'gpu' else 'tensorflow')
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    if threads:
        for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
            env[var] = str(threads)
    return env


def wait_for_load(max_load, max_wait, log=sys.stderr, poll=30.0, clock=time.monotonic, sleep=time.sleep,
                  loadavg=os.getloadavg):
    """Block until the 1-minute load average is below ``max_load`` or ``max_wait`` seconds have
    passed; returns (seconds waited, load at the end, whether it got below)."""
    start = clock()
    while True:
        load = loadavg()[0]
        waited = clock() - start
        if load < max_load:
            return waited, load, True
        if waited >= max_wait:
            print(f'load {load:.1f} still above {max_load} after {waited:.0f} s: running anyway', file=log, flush=True)
            return waited, load, False
        print(f'load {load:.1f} >= {max_load}: waiting', file=log, flush=True)
        sleep(poll)


def run_one(python, device, model, framework, epochs_measured, samples, timeout, threads=None):
    """Run bench_models.py in a subprocess and return its result dict ('failed'/'timeout' with
    the reason when it did not finish)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'result.json')
        cmd = [python, os.path.join(HERE, 'bench_models.py'), '--framework', framework, '--device', device,
               '--model', model, '--epochs-measured', str(epochs_measured), '--json', out]
        if samples:
            cmd += ['--samples', str(samples)]
        if threads:
            cmd += ['--threads', str(threads)]
        base = {'model': model, 'framework': framework, 'device': device}
        try:
            proc = subprocess.run(cmd, env=bench_env(device, threads), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return dict(base, status='timeout', reason=f'no result within {timeout} s')
        if proc.returncode != 0 or not os.path.exists(out):
            lines = [line for line in (proc.stderr or '').splitlines() if line.strip()]
            return dict(base, status='failed', reason=(lines[-1] if lines else f'exit code {proc.returncode}'))
        with open(out) as f:
            return json.load(f)


def run_all(python, device, models, frameworks, epochs_measured, samples, rounds, timeout, log=sys.stderr,
            on_result=None, threads=None, max_load=None, max_wait=4 * 3600):
    """{(model, framework): [result per round]}, frameworks interleaved in a rotating order;
    ``on_result(results)`` is called after every run (to save partial results)."""
    results = {}
    for r in range(rounds):
        for i, model in enumerate(models):
            shift = (r + i) % len(frameworks)
            for framework in frameworks[shift:] + frameworks[:shift]:
                gate = {}
                if max_load:
                    waited, load, quiet = wait_for_load(max_load, max_wait, log)
                    gate = {'load_gate': max_load, 'load_waited_s': waited, 'load_at_gate': load, 'load_quiet': quiet}
                res = run_one(python, device, model, framework, epochs_measured, samples, timeout, threads)
                results.setdefault((model, framework), []).append(dict(res, round=r, **gate))
                if on_result is not None:
                    on_result(results)
                summary = (f"{res['sec_per_epoch']:.2f} s/epoch" if res['status'] == 'ok'
                           else f"{res['status']}: {res.get('reason', '')}")
                print(f'[round {r + 1}/{rounds}] {model} {framework}: {summary}', file=log, flush=True)
    return results


def spread(values):
    """The largest deviation of ``values`` from their median, as a fraction of it (0 for one value)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    median = statistics.median(values)
    return max(abs(v - median) for v in values) / median if median else None


def combine(runs):
    """One figure set from the rounds of one (model, framework): medians over the rounds, with
    each figure's rounds (``<key>_rounds``) and spread (``<key>_spread``)."""
    ok = [r for r in runs if r['status'] == 'ok']
    if not ok:
        return dict(runs[0])
    out = dict(ok[0])
    for key in ('sec_per_epoch', 'cpu_per_epoch', 'inference_per_s', 'peak_rss_mb', 'device_peak_mb'):
        values = [r[key] for r in ok if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
        out[key + '_rounds'] = values
        out[key + '_spread'] = spread(values)
    fastest = min(min(r['epoch_times_s'][1:]) for r in ok)
    out['fastest_epoch_s'] = fastest * ok[0]['epoch_size'] / ok[0]['samples']
    out['rounds_ok'] = len(ok)
    out['loadavg'] = [v for r in ok for v in (r.get('loadavg_start'), r.get('loadavg_end')) if v is not None]
    return out


# ------------------------------------------------------------------------------------------------
# Machine and versions
# ------------------------------------------------------------------------------------------------
def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_model():
    try:
        proc = subprocess.run(['nvidia-smi', '--query-gpu=name,memory.total', '--format=csv,noheader'],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 'n/a'
    return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else 'n/a'


def versions():
    """Installed versions (from package metadata, nothing imported), minidl with its git commit."""
    found = {}
    for name, dists in DISTRIBUTIONS:
        found[name] = 'n/a'
        for dist in dists:
            try:
                found[name] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    commit = _git('rev-parse', '--short', 'HEAD')
    if commit:
        dirty = _git('status', '--porcelain', '--', 'minidl')
        found['minidl'] += f" (git {commit}{', minidl/ modified' if dirty else ''})"
    return found


def _git(*args):
    try:
        proc = subprocess.run(['git', '-C', HERE, *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ''
    return proc.stdout.strip() if proc.returncode == 0 else ''


def blas_line(combined):
    """'openblas 0.3.x, SkylakeX kernels, 2 threads' as seen by a minidl process (else any)."""
    ordered = sorted(combined.values(), key=lambda r: r['framework'] != 'minidl')
    for r in ordered:
        for lib in r.get('blas') or []:
            return (f"{lib['internal_api']} {lib.get('version') or ''}, {lib.get('architecture')} kernels, "
                    f"{lib.get('num_threads')} threads")
    return 'n/a'


# ------------------------------------------------------------------------------------------------
# Markdown
# ------------------------------------------------------------------------------------------------
def _num(value, digits=2):
    if value is None:
        return 'n/a'
    if value >= 1000:
        return f'{value:,.0f}'
    return f'{value:.{digits}f}'


def _ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def _fmt_ratio(r):
    return 'n/a' if r is None else f'{r:.2f}×'


def _fmt_spread(r, key):
    """'±4 %' (the figure's spread over the rounds), '±12 % (unstable)' past ±10 %, '1 round'."""
    value, rounds = r.get(key + '_spread'), r.get(key + '_rounds') or []
    if value is None or len(rounds) < 2:
        return '1 round'
    return f'±{100 * value:.0f} %' + (' (unstable)' if value > STABLE_SPREAD else '')


def best_anchor(combined, model):
    """(framework, s/epoch) of the faster of Keras and PyTorch for ``model``, or (None, None)."""
    found = [(combined[(model, fw)]['sec_per_epoch'], fw) for fw in ('keras', 'torch')
             if combined.get((model, fw), {}).get('status') == 'ok']
    if not found:
        return None, None
    sec, fw = min(found)
    return fw, sec


def table(device, combined, models, frameworks):
    """The per-model, per-framework Markdown table."""
    mem_title = 'peak RSS (MiB)' if device == 'cpu' else 'device peak (MiB)'
    mem_key = 'peak_rss_mb' if device == 'cpu' else 'device_peak_mb'
    rows = ['| model | framework | s/epoch (median) | s/epoch spread | fastest epoch (s) | CPU s/epoch | '
            'samples/epoch measured | inference (samples/s) | inference spread | '
            f'{mem_title} | epoch ÷ Keras | epoch ÷ PyTorch | epoch ÷ best anchor | memory ÷ PyTorch |',
            '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for model in models:
        keras = combined.get((model, 'keras'), {})
        torch = combined.get((model, 'torch'), {})
        for fw in frameworks:
            r = combined.get((model, fw))
            if r is None:
                continue
            if r['status'] != 'ok':
                reason = r.get('reason', '').replace('|', '/')
                rows.append(f"| {model} | {FRAMEWORK_TITLES[fw]} | {r['status']} ({reason}) |" + ' |' * 13)
                continue
            sample_note = (f"{r['samples']:,} of {r['epoch_size']:,}" if r['extrapolated']
                           else f"{r['samples']:,} (full)")
            _, anchor = best_anchor(combined, model)
            rows.append('| ' + ' | '.join([
                model, FRAMEWORK_TITLES[fw], _num(r['sec_per_epoch']), _fmt_spread(r, 'sec_per_epoch'),
                _num(r['fastest_epoch_s']), _num(r.get('cpu_per_epoch')), sample_note,
                _num(r['inference_per_s'], 0), _fmt_spread(r, 'inference_per_s'), _num(r.get(mem_key), 0),
                _fmt_ratio(_ratio(r['sec_per_epoch'], keras.get('sec_per_epoch'))),
                _fmt_ratio(_ratio(r['sec_per_epoch'], torch.get('sec_per_epoch'))),
                _fmt_ratio(_ratio(r['sec_per_epoch'], anchor)),
                _fmt_ratio(_ratio(r.get(mem_key), torch.get(mem_key)))]) + ' |')
    return '\n'.join(rows)


def targets(device, combined, models):
    """[(target, measured, 'met'/'missed'/'not measured')] for issue 5's targets on this device."""
    def fig(model, fw, key):
        r = combined.get((model, fw))
        return r.get(key) if r and r['status'] == 'ok' else None

    def check(name, value, ok, shown):
        if value is None:
            return (name, 'n/a', 'not measured')
        return (name, shown, 'met' if ok(value) else 'missed')

    out = []
    mem_key = 'peak_rss_mb' if device == 'cpu' else 'device_peak_mb'
    mem_name = 'peak RSS' if device == 'cpu' else 'peak device memory'
    if device == 'cpu':
        for m in models:
            t = fig(m, 'minidl', 'sec_per_epoch')
            r = _ratio(t, fig(m, 'keras', 'sec_per_epoch'))
            out.append(check(f'{m}: epoch ≤ Keras-TF', r, lambda v: v <= CPU_MAX_VS_KERAS, f'{_fmt_ratio(r)} Keras'))
            r = _ratio(t, fig(m, 'torch', 'sec_per_epoch'))
            out.append(check(f'{m}: epoch ≤ {CPU_MAX_VS_TORCH}× PyTorch', r, lambda v: v <= CPU_MAX_VS_TORCH,
                             f'{_fmt_ratio(r)} PyTorch'))
        if 'ej8_conv' in models:
            t = fig('ej8_conv', 'minidl', 'sec_per_epoch')
            out.append(check(f'ej8_conv: ≤ {CPU_EJ8_CONV_MAX_S:.0f} s/epoch', t, lambda v: v <= CPU_EJ8_CONV_MAX_S,
                             f'{_num(t)} s ({_fmt_ratio(_ratio(t, CPU_EJ8_CONV_MAX_S))} target)'))
        for m in models:  # issue 21: at or under the faster of Keras-TF and PyTorch in the same run
            fw, anchor = best_anchor(combined, m)
            r = _ratio(fig(m, 'minidl', 'sec_per_epoch'), anchor)
            out.append(check(f'{m}: epoch ≤ best anchor (issue 21)', r, lambda v: v <= 1.0,
                             f'{_fmt_ratio(r)} {FRAMEWORK_TITLES.get(fw, "")}'.strip()))
        if 'ej8_conv' in models:
            t = fig('ej8_conv', 'minidl', 'sec_per_epoch')
            out.append(check(f'ej8_conv: ≤ {CPU_EJ8_CONV_MAX_S_ISSUE21:.0f} s/epoch (issue 21)', t,
                             lambda v: v <= CPU_EJ8_CONV_MAX_S_ISSUE21,
                             f'{_num(t)} s ({_fmt_ratio(_ratio(t, CPU_EJ8_CONV_MAX_S_ISSUE21))} target)'))
        for m in models:
            for fw in FRAMEWORKS:
                r = combined.get((m, fw))
                if r and r.get('status') == 'ok' and len(r.get('sec_per_epoch_rounds') or []) > 1:
                    v = r.get('sec_per_epoch_spread')
                    out.append(check(f'{m} {FRAMEWORK_TITLES[fw]}: s/epoch stable to ±10 % between rounds', v,
                                     lambda x: x <= STABLE_SPREAD, f'±{100 * v:.0f} %'))
    else:
        m = 'cifar10_k.arch2'
        if m in models:
            t = fig(m, 'minidl', 'sec_per_epoch')
            out.append(check(f'{m}: ≤ {GPU_ARCH2_MAX_S} s/epoch', t, lambda v: v <= GPU_ARCH2_MAX_S,
                             f'{_num(t)} s ({_fmt_ratio(_ratio(t, GPU_ARCH2_MAX_S))} target)'))
            r = _ratio(fig(m, 'keras', 'sec_per_epoch'), t)
            out.append(check(f'{m}: ≥ {GPU_ARCH2_MIN_SPEEDUP_VS_KERAS}× faster than Keras 3', r,
                             lambda v: v >= GPU_ARCH2_MIN_SPEEDUP_VS_KERAS, f'{_fmt_ratio(r)} faster'))
            r = _ratio(t, fig(m, 'torch', 'sec_per_epoch'))
            out.append(check(f'{m}: within {GPU_ARCH2_MAX_VS_TORCH}× of PyTorch eager', r,
                             lambda v: v <= GPU_ARCH2_MAX_VS_TORCH, f'{_fmt_ratio(r)} PyTorch'))
            v = fig(m, 'minidl', 'inference_per_s')
            out.append(check(f'{m}: inference ≥ {GPU_ARCH2_MIN_INFERENCE:,} img/s', v,
                             lambda x: x >= GPU_ARCH2_MIN_INFERENCE, f'{_num(v, 0)} img/s'))
            out.append(check(f'{m} (stretch): ≤ {GPU_ARCH2_STRETCH_S} s/epoch', t,
                             lambda x: x <= GPU_ARCH2_STRETCH_S, f'{_num(t)} s'))
    for m in models:
        r = _ratio(fig(m, 'minidl', mem_key), fig(m, 'torch', mem_key))
        out.append(check(f'{m}: {mem_name} ≤ {MAX_MEMORY_VS_TORCH}× PyTorch', r,
                         lambda v: v <= MAX_MEMORY_VS_TORCH, f'{_fmt_ratio(r)} PyTorch'))
    return out


def render_block(records):
    """The Markdown block of one device from one or more driver records (see ``main``): the
    runs of a (model, framework) found in several records are combined like rounds."""
    device = records[0]['device']
    if any(r['device'] != device for r in records):
        raise ValueError('All records rendered into one block must come from the same device.')
    runs = {}
    for rec in records:
        for res in rec['results']:
            runs.setdefault((res['model'], res['framework']), []).append(res)
    combined = {key: combine(rs) for key, rs in runs.items()}
    models = [m for m in model_defs.SPECS if any(k[0] == m for k in combined)]
    frameworks = [f for f in FRAMEWORKS if any(k[1] == f for k in combined)]
    first = records[0]
    loads = [v for r in combined.values() for v in r.get('loadavg', [])]
    load_note = (f"1-minute load average {min(loads):.1f}–{max(loads):.1f} on {first['cores']} cores during the runs"
                 if loads else 'load average not recorded')
    keras_backend = next((r['keras_backend'] for r in combined.values()
                          if r.get('keras_backend') and r['status'] == 'ok'), 'n/a')
    extrapolated = any(r.get('extrapolated') for r in combined.values())
    sources = sorted({res['minidl_source'] for rec in records for res in rec['results'] if res.get('minidl_source')})
    epochs = '/'.join(sorted({str(r['epochs_measured']) for r in records}))
    rounds = '/'.join(str(n) for n in sorted({len(rs) for rs in runs.values()}))
    title = 'CPU' if device == 'cpu' else 'GPU'
    stamps = sorted(r['when'] for r in records)
    when = stamps[0] if stamps[0] == stamps[-1] else f'{stamps[0]} to {stamps[-1]}'
    lines = [f'<!-- bench_models:{device}:begin -->', f'### {title} — {when}', '',
             f"- Machine: {first['machine']}",
             '- Versions: ' + ', '.join(f'{k} {v}' for k, v in first['versions'].items())
             + f'; Keras backend {keras_backend}; BLAS seen by numpy: {blas_line(combined)}',
             '- minidl source per run: ' + (', '.join(sources) or 'n/a'),
             '- Command: ' + '; '.join(f"`{r['command']}`" for r in records),
             '- Data: **random with the real shapes** (speed does not depend on content); float32; each '
             "framework's batch size and architecture identical (see `benchmarks/model_defs.py`).",
             f'- s/epoch: median of {epochs} epochs after one warm-up epoch, then the median over '
             f'{rounds} round(s) run interleaved; "fastest epoch" is the fastest single epoch seen.'
             + (' **Epochs of fewer samples than the real data set are EXTRAPOLATED linearly to the real '
                'epoch size** (60,000 MNIST, 50,000 CIFAR-10, 25,000 IMDB): see "samples/epoch measured".'
                if extrapolated else ''),
             '- Inference: `predict` at the training batch size over the measured samples, median of 3 passes.',
             '- Threads and memory in effect in each framework\'s process (threadpoolctl, the frameworks\' own '
             'pools, environment; re-faults = minor page faults of re-allocating a freed 16 MiB block):']
    lines += [f'  - {FRAMEWORK_TITLES[fw]}: {thread_line}' for fw, thread_line in thread_lines(combined, frameworks)]
    lines += [
             '- Spread: the largest deviation of a round from the median over the rounds; "unstable" past ±10 %. '
             'CPU s/epoch: the process\' CPU seconds (all threads) per epoch, extrapolated like s/epoch.',
             ('- Memory: peak RSS of the benchmark process (`ru_maxrss`: interpreter, framework, the random '
              'data set of the measured size, model, optimizer state).' if device == 'cpu' else
              '- Memory: `torch.cuda.max_memory_allocated` for PyTorch and Keras-on-PyTorch; for minidl the '
              "high-water mark of CuPy's memory-pool `total_bytes` (blocks held, an upper bound of what is in "
              'use). minidl and PyTorch keep the data set on the device, Keras keeps it on the host.'),
             (f'- Noise: {load_note}; other engineers share this machine, so single figures can be off by '
              'tens of percent — compare within one run only.' if device == 'cpu' else f'- Load: {load_note}.'),
             '', table(device, combined, models, frameworks), '',
             '| target (issues 5, 21) | measured (minidl) | status |', '|---|---|---|']
    lines += [f'| {name} | {shown} | {status} |' for name, shown, status in targets(device, combined, models)]
    lines += [f'<!-- bench_models:{device}:end -->']
    return '\n'.join(lines) + '\n'


def thread_lines(combined, frameworks):
    """[(framework, 'openblas 0.3.31 SkylakeX x2, ...')] from each framework's recorded runtime
    (every distinct setting seen over its runs)."""
    from bench_models import threads_summary
    out = []
    for fw in frameworks:
        seen = []
        for (model, f), r in combined.items():
            if f == fw and r.get('status') == 'ok' and r.get('runtime'):
                line = threads_summary(r['runtime'])
                if line not in seen:
                    seen.append(line)
        out.append((fw, ' | '.join(seen) if seen else 'not recorded'))
    return out


def merge_block(text, device, block):
    """``text`` (RESULTS.md, or '' for a new file) with this device's block replaced or inserted
    into the Models section; every other part of the file is kept."""
    begin, end = f'<!-- bench_models:{device}:begin -->', f'<!-- bench_models:{device}:end -->'
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        return head + block.rstrip('\n') + tail
    if not text.strip():
        text = FILE_HEADER
    if SECTION not in text:
        text = text.rstrip('\n') + f'\n\n{SECTION}\n\n{SECTION_INTRO}\n'
    other = 'gpu' if device == 'cpu' else 'cpu'
    if device == 'cpu' and f'<!-- bench_models:{other}:begin -->' in text:
        head, tail = text.split(f'<!-- bench_models:{other}:begin -->', 1)
        return head + block + '\n' + f'<!-- bench_models:{other}:begin -->' + tail
    head, tail = text.split(SECTION, 1)  # at the end of the Models section
    following = tail.find('\n## ')
    if following < 0:
        return head + SECTION + tail.rstrip('\n') + '\n\n' + block
    return head + SECTION + tail[:following].rstrip('\n') + '\n\n' + block + '\n' + tail[following + 1:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cpu', choices=('cpu', 'gpu'))
    parser.add_argument('--models', nargs='+', choices=list(model_defs.SPECS),
                        help='default: every model (on the CPU without the GPU-only ones)')
    parser.add_argument('--frameworks', nargs='+', choices=FRAMEWORKS, default=list(FRAMEWORKS))
    parser.add_argument('--samples', type=int, help='samples per epoch for every model (default: per model)')
    parser.add_argument('--epochs-measured', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=1, help='interleaved repetitions; figures are medians')
    parser.add_argument('--timeout', type=int, default=3600, help='seconds allowed per benchmark process')
    parser.add_argument('--python', default=sys.executable, help='interpreter for the benchmark processes')
    parser.add_argument('--threads', type=int, help='threads for every pool of every framework (default: theirs)')
    parser.add_argument('--max-load', type=float, help='before each run, wait until the 1-minute load is below this')
    parser.add_argument('--max-wait', type=float, default=4 * 3600, help='seconds to wait for --max-load at most')
    parser.add_argument('--json-out', help='also write the record of this run (machine, versions, raw results) '
                                           'here, for a later --from-json')
    parser.add_argument('--from-json', nargs='+', metavar='FILE',
                        help='run nothing: render the records of earlier runs (e.g. several short GPU runs)')
    parser.add_argument('--out', default=os.path.join(HERE, 'RESULTS.md'))
    args = parser.parse_args(argv)
    if args.from_json:
        records = []
        for path in args.from_json:
            with open(path) as f:
                records.append(json.load(f))
    else:
        models = args.models or [n for n, s in model_defs.SPECS.items() if args.device == 'gpu' or not s.gpu_only]
        record = {'device': args.device, 'when': datetime.datetime.now().strftime('%Y-%m-%d %H:%M'),
                  'command': 'python ' + ' '.join(shlex.quote(a) for a in ['benchmarks/run_models.py'] + sys.argv[1:]),
                  'machine': f'{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}'
                             + (f'; GPU {gpu_model()}' if args.device == 'gpu' else ''),
                  'cores': os.cpu_count(), 'versions': dict(python=platform.python_version(), **versions()),
                  'epochs_measured': args.epochs_measured, 'rounds': args.rounds}

        def save(results):
            record['results'] = [r for runs in results.values() for r in runs]
            if args.json_out:
                write_atomic(args.json_out, json.dumps(record, indent=1) + '\n')

        record.update(threads=args.threads, max_load=args.max_load)
        save(run_all(args.python, args.device, models, args.frameworks, args.epochs_measured, args.samples,
                     args.rounds, args.timeout, on_result=save, threads=args.threads, max_load=args.max_load,
                     max_wait=args.max_wait))
        records = [record]
    block = render_block(records)
    existing = open(args.out).read() if os.path.exists(args.out) else ''
    write_atomic(args.out, merge_block(existing, records[0]['device'], block))
    print(block)
    return 0


if __name__ == '__main__':
    sys.exit(main())
