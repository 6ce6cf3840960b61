"""Smoke tests of the model benchmark suite (benchmarks/bench_models.py, run_models.py,
model_defs.py): one tiny minidl run, the architectures' parameter counts, and the Markdown
that the driver writes. Nothing here measures speed."""
import os
import sys

import numpy as np
import pytest

import minidl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
import bench_models  # noqa: E402
import model_defs  # noqa: E402
import run_models  # noqa: E402


@pytest.fixture
def keep_backend():
    """bench_models selects minidl's backend for its device: restore the test's afterwards."""
    before = minidl.get_backend()
    yield
    minidl.set_backend(before)


def test_minidl_run_two_steps(keep_backend):
    result = bench_models.run_benchmark('minidl', 'cpu', 'ej8_dense', epochs_measured=1, samples=64, batch_size=32)
    spec = model_defs.SPECS['ej8_dense']
    assert result['status'] == 'ok'
    assert result['params'] == spec.total_params
    assert len(result['epoch_times_s']) == 2          # warm-up + 1 measured
    assert result['extrapolated']
    assert result['sec_per_epoch'] == pytest.approx(result['epoch_times_s'][1] * spec.epoch_size / 64)
    assert result['inference_samples'] == 64 and result['inference_per_s'] > 0
    assert result['peak_rss_mb'] >= result['rss_before_model_mb'] > 0


def test_minidl_on_gpu_without_cuda_is_not_available(keep_backend):
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip('a CUDA device is present: this checks the n/a path')
    except Exception:
        pass
    result = bench_models.run_benchmark('minidl', 'gpu', 'ej8_dense', epochs_measured=1, samples=32, batch_size=32)
    assert result['status'] == 'n/a' and 'CuPy' in result['reason']


def test_bad_arguments_name_the_option():
    with pytest.raises(ValueError, match='--samples'):
        bench_models.run_benchmark('minidl', 'cpu', 'ej8_dense', samples=16, batch_size=32)
    with pytest.raises(ValueError, match='Known models'):
        model_defs.get_spec('ej8')


@pytest.mark.parametrize('name', [n for n in model_defs.SPECS if n != 'cifar10_m.muestra12'])
def test_minidl_and_torch_architectures_have_the_catalogue_counts(name):
    spec = model_defs.SPECS[name]
    model = model_defs.build_keras_style(name, model_defs.keras_api('minidl'))
    assert model.count_params() == spec.total_params
    torch = pytest.importorskip('torch')
    module, _, _, _ = model_defs.build_torch(name)
    assert sum(p.numel() for p in module.parameters()) == spec.trainable_params + spec.torch_extra_params
    assert isinstance(module, torch.nn.Module)


@pytest.mark.parametrize('name', list(model_defs.SPECS))
def test_random_data_has_the_real_shapes(name):
    spec = model_defs.SPECS[name]
    x, y = model_defs.make_data(spec, 8)
    assert x.shape == (8,) + spec.input_shape and x.dtype == (np.int32 if spec.vocabulary else np.float32)
    assert y.shape[0] == 8 and (y.ndim == 1) == (spec.labels == 'sparse10')


def _fake(model, fw, sec, rss, status='ok'):
    if status != 'ok':
        return {'model': model, 'framework': fw, 'status': status, 'reason': 'keras cannot be imported'}
    return {'model': model, 'framework': fw, 'status': 'ok', 'sec_per_epoch': sec, 'fastest_epoch_s': sec,
            'samples': 1000, 'epoch_size': 60000, 'extrapolated': True, 'inference_per_s': 1e4,
            'peak_rss_mb': rss, 'loadavg': [1.0], 'epoch_times_s': [sec * 1000 / 60000] * 2}


def test_targets_mark_met_missed_and_not_measured():
    combined = {('ej8_conv', 'minidl'): _fake('ej8_conv', 'minidl', 40.0, 300.0),
                ('ej8_conv', 'keras'): _fake('ej8_conv', 'keras', 0, 0, status='n/a'),
                ('ej8_conv', 'torch'): _fake('ej8_conv', 'torch', 32.0, 100.0)}
    found = {name: (shown, status) for name, shown, status in run_models.targets('cpu', combined, ['ej8_conv'])}
    assert found['ej8_conv: epoch ≤ Keras-TF'] == ('n/a', 'not measured')
    assert found['ej8_conv: epoch ≤ 1.5× PyTorch'] == ('1.25× PyTorch', 'met')
    assert found['ej8_conv: ≤ 30 s/epoch'][1] == 'missed'
    assert found['ej8_conv: peak RSS ≤ 1.5× PyTorch'] == ('3.00× PyTorch', 'missed')


def test_merge_block_keeps_other_sections_and_replaces_its_own():
    def block(device, word):
        return f'<!-- bench_models:{device}:begin -->\n{word}\n<!-- bench_models:{device}:end -->\n'

    text = run_models.merge_block('', 'cpu', block('cpu', 'first'))
    assert text.startswith('# ') and run_models.SECTION in text and 'first' in text
    text += '\n## Kernels\n\nlead notes\n'
    text = run_models.merge_block(text, 'gpu', block('gpu', 'gpu-run'))
    text = run_models.merge_block(text, 'cpu', block('cpu', 'second'))
    assert 'first' not in text and text.count('second') == 1 and 'lead notes' in text
    assert text.index('second') < text.index('gpu-run') < text.index('## Kernels')


def test_render_block_says_extrapolated_and_reports_missing_frameworks():
    record = {'device': 'cpu', 'when': '2026-01-01 10:00', 'command': 'python benchmarks/run_models.py --device cpu',
              'machine': 'test CPU, 2 cores', 'cores': 2, 'versions': {'python': '3.x'}, 'epochs_measured': 3,
              'rounds': 1,
              'results': [dict(_fake('ej8_dense', 'minidl', 4.0, 90.0), device='cpu', epochs_measured=3),
                          dict(_fake('ej8_dense', 'keras', 0, 0, status='n/a'), device='cpu'),
                          dict(_fake('ej8_dense', 'torch', 2.0, 60.0), device='cpu', epochs_measured=3)]}
    block = run_models.render_block([record])
    assert block.startswith('<!-- bench_models:cpu:begin -->') and block.rstrip().endswith('cpu:end -->')
    assert 'EXTRAPOLATED' in block and 'random with the real shapes' in block
    assert '| ej8_dense | Keras | n/a (keras cannot be imported) |' in block
    assert '| ej8_dense | minidl | 4.00 | 1 round | 4.00 | n/a | 1,000 of 60,000 |' in block
    assert '| ej8_dense: epoch ≤ 1.5× PyTorch | 2.00× PyTorch | missed |' in block


def test_spread_flags_rounds_further_than_ten_percent_from_the_median():
    assert run_models.spread([2.0]) == 0.0
    assert run_models.spread([1.0, 1.05, 0.97]) == pytest.approx(0.05)
    runs = [dict(_fake('imdb_bow', 'minidl', sec, 100.0), round=i) for i, sec in enumerate((1.0, 1.02, 1.3))]
    combined = run_models.combine(runs)
    assert combined['sec_per_epoch'] == 1.02 and combined['sec_per_epoch_rounds'] == [1.0, 1.02, 1.3]
    assert run_models._fmt_spread(combined, 'sec_per_epoch') == '±27 % (unstable)'
    found = {name: status for name, _, status in run_models.targets('cpu', {('imdb_bow', 'minidl'): combined},
                                                                      ['imdb_bow'])}
    assert found['imdb_bow minidl: s/epoch stable to ±10 % between rounds'] == 'missed'


def test_best_anchor_is_the_faster_of_keras_and_torch():
    combined = {('m', 'minidl'): _fake('m', 'minidl', 3.0, 1.0), ('m', 'keras'): _fake('m', 'keras', 2.5, 1.0),
                ('m', 'torch'): _fake('m', 'torch', 4.0, 1.0)}
    assert run_models.best_anchor(combined, 'm') == ('keras', 2.5)
    found = {name: (shown, status) for name, shown, status in run_models.targets('cpu', combined, ['m'])}
    assert found['m: epoch ≤ best anchor (issue 21)'] == ('1.20× Keras', 'missed')


def test_wait_for_load_polls_until_quiet_or_gives_up():
    loads = iter([5.0, 4.0, 2.0])
    clock = iter(range(0, 1000, 30))
    waited, load, quiet = run_models.wait_for_load(2.5, 3600, log=open(os.devnull, 'w'), clock=lambda: next(clock),
                                                   sleep=lambda s: None, loadavg=lambda: (next(loads),))
    assert quiet and load == 2.0 and waited == 90   # three polls, 30 s apart
    waited, load, quiet = run_models.wait_for_load(2.5, 50, log=open(os.devnull, 'w'), clock=lambda: next(clock),
                                                   sleep=lambda s: None, loadavg=lambda: (9.0,))
    assert not quiet and load == 9.0


def test_runtime_record_names_thread_pools_and_host_memory(keep_backend):
    result = bench_models.run_benchmark('minidl', 'cpu', 'ej8_dense', epochs_measured=1, samples=32, batch_size=32)
    runtime = result['runtime']
    assert runtime['minidl_host_memory'] in ('kept', 'system', 'unsupported')
    if runtime['minidl_host_memory'] == 'kept':
        assert runtime['refault_pages_16mib'] < 16   # freed memory is reused, not faulted in again
    assert len(result['epoch_cpu_s']) == 2 and len(result['epoch_minor_faults']) == 2
    assert 'host memory' in bench_models.threads_summary(runtime)
