"""Why did ``predict`` fall 10-50x in issue 21's re-measurement? Inference of one benchmark model
in minidl and PyTorch (and Keras-TF), each in a fresh process, under controlled conditions:

    python benchmarks/bench_predict_threads.py [--model ej8_dense] [--threads 1 2] [--busy 0 2] \
        [--coretype unset Haswell] [--frameworks minidl torch keras] [--rounds 2] [--json-out FILE]

* ``--threads``: every thread pool of the process (BLAS/OpenMP via threadpoolctl, PyTorch's
  intra-op pool, TensorFlow's pools), as ``bench_models.py --threads`` sets them.
* ``--busy N``: N busy-looping processes started beside the benchmark for its whole run, the
  stand-in for other engineers' jobs (``busy 2`` on 2 cores is a load of about 2 more).
* ``--coretype``: the process' ``OPENBLAS_CORETYPE`` (``unset``: neither it nor
  ``OPENBLAS_L2_SIZE``; a name: that kernel forced, as this machine's environment does for old
  OpenBLAS builds). The kernel OpenBLAS then reports (threadpoolctl) is recorded.
* Per configuration: samples/s (median of 3 passes over ``--samples`` at the training batch size)
  and CPU seconds per pass, so that waiting (for a core, or for a descheduled pool thread at a
  barrier) shows as wall time without CPU time.
Configurations are interleaved over ``--rounds``; the figure is the median over rounds.
"""
import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PASSES = 3


def child(framework, model, samples, threads):
    """Run in the benchmark process: time predict, print one JSON line."""
    import bench_models
    import model_defs
    bench_models.set_threads(threads)
    spec = model_defs.get_spec(model)
    x, _ = model_defs.make_data(spec, samples)
    batch = spec.batch_size
    if framework == 'torch':
        import torch
        torch.set_num_threads(threads)
        module = model_defs.build_torch(model)[0]
        if x.ndim == 4:
            x = x.transpose(0, 3, 1, 2).copy()
        xt = torch.from_numpy(x)
        module.eval()

        def predict(data):
            with torch.inference_mode():
                return torch.cat([module(data[i:i + batch]) for i in range(0, data.shape[0], batch)]).numpy()
        data = xt
    else:
        if framework == 'keras':
            os.environ.setdefault('KERAS_BACKEND', 'tensorflow')
        api = model_defs.keras_api('keras' if framework == 'keras' else 'minidl')
        if framework == 'keras':
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        net = model_defs.build_keras_style(model, api)

        def predict(data):
            return net.predict(data, batch_size=batch, verbose=0)
        data = x
    predict(data[:2 * batch])
    walls, cpus = [], []
    for _ in range(PASSES):
        w, c = time.perf_counter(), time.process_time()
        predict(data)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    from threadpoolctl import threadpool_info
    pools = [{k: p.get(k) for k in ('internal_api', 'architecture', 'num_threads', 'version')} for p in threadpool_info()]
    extra = {}
    if 'torch' in sys.modules:
        t = sys.modules['torch']
        extra['torch_threads'] = t.get_num_threads()
        extra['torch_config_blas'] = [line.strip() for line in t.__config__.show().splitlines()
                                      if 'BLAS_INFO' in line or 'USE_OPENMP' in line or 'USE_MKL' in line][:4]
    print(json.dumps({'samples': int(data.shape[0]), 'walls': walls, 'cpus': cpus, 'pools': pools,
                      'loadavg': os.getloadavg()[0], **extra}))


def run_config(framework, model, samples, threads, busy, coretype, python):
    env = {k: v for k, v in os.environ.items() if k not in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')}
    if coretype != 'unset':
        env['OPENBLAS_CORETYPE'] = coretype
    env['PYTHONPATH'] = os.path.dirname(HERE) + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    spinners = [subprocess.Popen([python, '-c', 'while True: pass']) for _ in range(busy)]
    try:
        proc = subprocess.run([python, __file__, '--child', framework, model, str(samples), str(threads)],
                              env=env, capture_output=True, text=True, timeout=600)
    finally:
        for s in spinners:
            s.kill()
            s.wait()
    if proc.returncode != 0:
        return {'status': 'failed', 'stderr': proc.stderr[-2000:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out['status'] = 'ok'
    out['per_s'] = out['samples'] / statistics.median(out['walls'])
    out['cpu_per_pass'] = statistics.median(out['cpus'])
    out['wall_per_pass'] = statistics.median(out['walls'])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', default='ej8_dense')
    p.add_argument('--samples', type=int, default=8192)
    p.add_argument('--frameworks', nargs='+', default=['minidl', 'torch'], choices=['minidl', 'torch', 'keras'])
    p.add_argument('--threads', nargs='+', type=int, default=[1, 2])
    p.add_argument('--busy', nargs='+', type=int, default=[0, 2])
    p.add_argument('--coretype', nargs='+', default=['unset'])
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--json-out')
    args = p.parse_args(argv)
    configs = list(itertools.product(args.frameworks, args.threads, args.busy, args.coretype))
    results = {c: [] for c in configs}
    for r in range(args.rounds):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for c in order:
            fw, th, busy, core = c
            res = run_config(fw, args.model, args.samples, th, busy, core, sys.executable)
            results[c].append(res)
            shown = (f"{res['per_s']:,.0f} samples/s, {res['wall_per_pass']:.3f} s wall / {res['cpu_per_pass']:.3f} s CPU"
                     f" per pass, kernel {'/'.join(str(pp['architecture']) for pp in res['pools'])}"
                     if res['status'] == 'ok' else res['stderr'][-300:])
            print(f'round {r} {fw:6s} threads {th} busy {busy} coretype {core}: {shown}', flush=True)
    print(f'\n| framework | threads | busy processes | OPENBLAS_CORETYPE | samples/s (median, min-max) '
          f'| wall s/pass | CPU s/pass | BLAS kernel |')
    print('|---|---:|---:|---|---:|---:|---:|---|')
    rows = []
    for c in configs:
        ok = [x for x in results[c] if x['status'] == 'ok']
        if not ok:
            print(f'| {c[0]} | {c[1]} | {c[2]} | {c[3]} | failed | | | |')
            continue
        rates = [x['per_s'] for x in ok]
        wall = statistics.median(x['wall_per_pass'] for x in ok)
        cpu = statistics.median(x['cpu_per_pass'] for x in ok)
        kern = ', '.join(sorted({f"{pp['internal_api']} {pp['architecture'] or ''} x{pp['num_threads']}".replace('  ', ' ') for x in ok for pp in x['pools']}))
        print(f'| {c[0]} | {c[1]} | {c[2]} | {c[3]} | {statistics.median(rates):,.0f} '
              f'({min(rates):,.0f}-{max(rates):,.0f}) | {wall:.3f} | {cpu:.3f} | {kern} |')
        rows.append({'framework': c[0], 'threads': c[1], 'busy': c[2], 'coretype': c[3], 'runs': results[c]})
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump({'argv': sys.argv[1:], 'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                       'rows': rows}, f, indent=1)


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--child':
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
