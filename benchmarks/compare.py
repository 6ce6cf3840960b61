"""Does a change make minidl slower? Time this checkout against another git revision, interleaved.

    python benchmarks/compare.py --rev main [--models ej8_dense imdb_bow] [--rounds 3] \
        [--samples 4096] [--epochs-measured 2] [--reference] [--json-out FILE] [--markdown FILE]

* The revision is checked out with ``git worktree add --detach`` into a temporary folder (removed
  at the end). Both trees are timed by THIS checkout's ``bench_models.py`` (the same harness),
  each importing its own ``minidl`` (``PYTHONPATH`` points at the tree), in fresh processes.
* ``--reference`` adds a third variant: this checkout with ``MINIDL_KERNELS=reference`` (the
  readable reference ops alone).
* Rounds are interleaved: in every round each model runs once per variant, the variants' order
  rotating from round to round, so that load from other processes on a shared machine falls on
  all variants alike. A figure is the median over the rounds of steady-state seconds per epoch
  (extrapolated to the real epoch as bench_models.py does); a ratio is the median of the
  per-round ratios (variant / revision, paired within a round), with their min-max spread.
* A ratio above 1 means slower than the revision.
* ``--revs R1 R2 ...``: more revisions, each one more variant (a bisection in one interleaved run:
  ``--rev 7a8eb66 --revs 1e3110d 4593f05`` times the three and this tree side by side).
* ``--threads N``: every benchmark process runs with N threads in every pool (BLAS, OpenMP;
  ``bench_models.py --threads``). With ``--threads 1`` the CPU seconds per epoch (``process_time``),
  reported next to wall time, hardly depend on how busy the machine's other core is: the measure
  for a shared machine. Both tables are printed; ratios are paired per round either way.
* ``--count-calls``: instead of timing, count the Python function calls of one training step
  (``train_on_batch`` on one batch, under cProfile, after two warm-up steps) in each variant: a
  deterministic measure of interpreter overhead that a loaded machine cannot blur.
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from run_models import UNSET_ENV, blas_line, cpu_model, versions  # noqa: E402


def git(*args, cwd=ROOT):
    proc = subprocess.run(['git', *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


class Worktree:
    """``with Worktree('main') as path``: the revision checked out (detached) in a temporary folder."""

    def __init__(self, rev):
        self.rev = rev
        self.commit = git('rev-parse', '--short', rev)
        self.path = None

    def __enter__(self):
        # a SIGTERM (a killed run) unwinds through __exit__ too, so no worktree is left behind
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        self.parent = tempfile.mkdtemp(prefix='minidl-compare-')
        self.path = os.path.join(self.parent, 'tree')
        git('worktree', 'add', '--detach', self.path, self.rev)
        return self.path

    def __exit__(self, *exc):
        try:
            git('worktree', 'remove', '--force', self.path)
        except RuntimeError:
            pass
        shutil.rmtree(self.parent, ignore_errors=True)
        return False


def run_variant(variant, model, args):
    """One bench_models.py process for ``variant`` ({'name', 'tree', 'env'}); its result dict."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'result.json')
        cmd = [sys.executable, os.path.join(HERE, 'bench_models.py'), '--framework', 'minidl', '--device',
               args.device, '--model', model, '--epochs-measured', str(args.epochs_measured), '--json', out]
        if args.samples:
            cmd += ['--samples', str(args.samples)]
        if getattr(args, 'threads', None):
            cmd += ['--threads', str(args.threads)]
        env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV and k != 'MINIDL_KERNELS'}
        if getattr(args, 'threads', None):
            for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
                env[var] = str(args.threads)
        env['PYTHONPATH'] = variant['tree'] + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
        env.update(variant['env'])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
        if proc.returncode != 0 or not os.path.exists(out):
            lines = [line for line in (proc.stderr or '').splitlines() if line.strip()]
            return {'status': 'failed', 'reason': lines[-1] if lines else f'exit code {proc.returncode}'}
        with open(out) as f:
            return json.load(f)


COUNT_CALLS = """
import cProfile, pstats, sys
sys.path.insert(0, {here!r})
import model_defs
spec = model_defs.get_spec({model!r})
model = model_defs.build_keras_style(spec.name, model_defs.keras_api('minidl'))
x, y = model_defs.make_data(spec, spec.batch_size)
for _ in range(2):
    model.train_on_batch(x, y)
profile = cProfile.Profile()
profile.enable()
model.train_on_batch(x, y)
profile.disable()
import minidl
print('CALLS', pstats.Stats(profile).total_calls, minidl.__file__)
"""


def count_calls(variant, model, args):
    """Python function calls of one training step of ``model`` in ``variant``."""
    env = {k: v for k, v in os.environ.items() if k != 'MINIDL_KERNELS'}
    env['PYTHONPATH'] = variant['tree']
    env.update(variant['env'])
    code = COUNT_CALLS.format(here=HERE, model=model)
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=args.timeout,
                          cwd=variant['tree'])  # python -c puts the working folder first on sys.path
    lines = [line for line in proc.stdout.splitlines() if line.startswith('CALLS ')]
    if proc.returncode != 0 or not lines:
        return None
    print(f"{variant['name']}: {model} with {lines[-1].split()[2]}", file=sys.stderr)
    return int(lines[-1].split()[1])


def run_rounds(variants, models, args, log=sys.stderr):
    """{(model, variant name): [result per round]}, the variants' order rotating each round."""
    results = {}
    for r in range(args.rounds):
        for i, model in enumerate(models):
            shift = (r + i) % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                res = dict(run_variant(variant, model, args), round=r)
                results.setdefault((model, variant['name']), []).append(res)
                shown = f"{res['sec_per_epoch']:.2f} s/epoch, {res.get('cpu_per_epoch', float('nan')):.2f} CPU s " \
                        f"({res.get('minidl_source', '')}, load {res.get('loadavg_start', 0):.1f})" \
                    if res.get('status') == 'ok' else f"{res.get('status')}: {res.get('reason', '')}"
                print(f"[round {r + 1}/{args.rounds}] {model} {variant['name']}: {shown}", file=log, flush=True)
    return results


def summarize(results, models, variants, baseline, key='sec_per_epoch'):
    """Rows of (model, variant, median, min, max, median ratio, ratio min, ratio max) of ``key``
    (seconds per epoch, or 'cpu_per_epoch': CPU seconds per epoch)."""
    rows = []
    for model in models:
        base = {r['round']: r[key] for r in results.get((model, baseline), [])
                if r.get('status') == 'ok' and r.get(key)}
        for variant in variants:
            ok = [r for r in results.get((model, variant['name']), []) if r.get('status') == 'ok' and r.get(key)]
            if not ok:
                rows.append((model, variant['name'], None, None, None, None, None, None))
                continue
            times = [r[key] for r in ok]
            ratios = [r[key] / base[r['round']] for r in ok if r['round'] in base]
            rows.append((model, variant['name'], statistics.median(times), min(times), max(times),
                         statistics.median(ratios) if ratios else None, min(ratios, default=None),
                         max(ratios, default=None)))
    return rows


def markdown(rows, args, variants, combined, cpu_rows=None):
    v = versions()
    lines = [f"Interleaved comparison (`benchmarks/compare.py`), {datetime.date.today().isoformat()}, "
             f"{cpu_model()} ({os.cpu_count()} cores), {blas_line(combined)}; Python {platform.python_version()}, "
             f"NumPy {v['numpy']}.",
             '',
             'Command: `python benchmarks/compare.py ' + ' '.join(args.argv) + '`',
             '',
             'Variants: ' + '; '.join(f"**{x['name']}** = {x['describe']}" for x in variants) + '.',
             f'{args.rounds} rounds, {args.epochs_measured} measured epochs of {args.samples or "the default"} samples '
             'each, seconds per epoch extrapolated to the real epoch; ratio = variant / revision, paired per round'
             + (f'; every pool at {args.threads} thread(s)' if getattr(args, 'threads', None) else '')
             + (f'; 1-minute load {min(loads):.1f}-{max(loads):.1f}' if (loads := _loads(combined)) else '') + '.',
             '']
    for title, table_rows in (('s/epoch (wall)', rows), ('CPU s/epoch', cpu_rows)):
        if not table_rows:
            continue
        lines += [f'| model | variant | {title} (median) | min-max | ratio to revision (median) | ratio min-max |',
                  '| --- | --- | ---: | ---: | ---: | ---: |']
        for model, name, med, lo, hi, ratio, rlo, rhi in table_rows:
            if med is None:
                lines.append(f'| {model} | {name} | failed | | | |')
                continue
            lines.append(f'| {model} | {name} | {med:.2f} | {lo:.2f}-{hi:.2f} | {ratio:.3f} | {rlo:.3f}-{rhi:.3f} |')
        lines.append('')
    return '\n'.join(lines)


def _loads(combined):
    return [v for r in combined.values() for v in (r.get('loadavg_start'), r.get('loadavg_end')) if v is not None]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rev', required=True, help='git revision to compare against (main, a commit, a tag)')
    p.add_argument('--revs', nargs='+', default=[], help='more revisions, timed as further variants (a bisection)')
    p.add_argument('--threads', type=int, help='threads of every pool in every benchmark process')
    p.add_argument('--models', nargs='+', default=['ej8_dense', 'imdb_bow'], help='bench_models.py models')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--samples', type=int, default=None, help='samples per measured epoch')
    p.add_argument('--epochs-measured', type=int, default=2)
    p.add_argument('--device', default='cpu', choices=['cpu', 'gpu'])
    p.add_argument('--reference', action='store_true', help='also time this checkout with MINIDL_KERNELS=reference')
    p.add_argument('--timeout', type=float, default=1800, help='seconds per benchmark process')
    p.add_argument('--json-out', help='write the raw results here')
    p.add_argument('--markdown', help='write the Markdown block here (it is printed either way)')
    p.add_argument('--count-calls', action='store_true', help='count Python calls per training step instead of timing')
    args = p.parse_args(argv)
    args.argv = argv
    head = git('rev-parse', '--short', 'HEAD')
    dirty = ' + uncommitted changes' if git('status', '--porcelain', '--', 'minidl') else ''
    with contextlib.ExitStack() as stack:
        tree = stack.enter_context(Worktree(args.rev))
        rev_commit = git('rev-parse', '--short', args.rev)
        variants = [{'name': 'revision', 'tree': tree, 'env': {}, 'describe': f'`{args.rev}` at {rev_commit}, fast path'}]
        for rev in args.revs:
            commit = git('rev-parse', '--short', rev)
            variants.append({'name': f'rev {commit}', 'tree': stack.enter_context(Worktree(rev)), 'env': {},
                             'describe': f'`{rev}` at {commit}, fast path'})
        variants.append({'name': 'this tree', 'tree': ROOT, 'env': {}, 'describe': f'{head}{dirty}, fast path (default)'})
        if args.reference:
            variants.append({'name': 'this tree, reference', 'tree': ROOT, 'env': {'MINIDL_KERNELS': 'reference'},
                             'describe': f'{head}{dirty} with `MINIDL_KERNELS=reference`'})
        print(f'comparing {args.rev} ({rev_commit}) with this tree ({head}{dirty})', file=sys.stderr)
        if args.count_calls:
            lines = ['| model | ' + ' | '.join(v['name'] for v in variants) + ' |',
                     '| --- |' + ' ---: |' * len(variants)]
            for model in args.models:
                counts = [count_calls(v, model, args) for v in variants]
                lines.append(f'| {model} | ' + ' | '.join('failed' if c is None else f'{c:,}' for c in counts) + ' |')
            text = ('Python function calls per training step (`train_on_batch`, one batch, cProfile). Command: '
                    '`python benchmarks/compare.py ' + ' '.join(argv) + '`\n\n' + '\n'.join(lines) + '\n')
            print(text)
            if args.markdown:
                with open(args.markdown, 'w') as f:
                    f.write(text)
            return 0
        results = run_rounds(variants, args.models, args)
    rows = summarize(results, args.models, variants, 'revision')
    cpu_rows = summarize(results, args.models, variants, 'revision', key='cpu_per_epoch')
    combined = {k: v[0] for k, v in results.items() if v and v[0].get('status') == 'ok'}
    for k, r in combined.items():
        r.setdefault('framework', 'minidl')
    text = markdown(rows, args, variants, combined, cpu_rows if any(r[2] for r in cpu_rows) else None)
    print(text)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text)
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump({'argv': argv, 'variants': [{k: v for k, v in x.items() if k != 'tree'} for x in variants],
                       'results': {f'{m}|{n}': rs for (m, n), rs in results.items()}}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
