"""The course examples: every builder has the parameter counts MODELS.md catalogues, and every script
runs end to end on tiny synthetic data (exit 0 and its RESULT line). The transfer-learning scripts
(ImageNet weights) are tested in test_applications_examples.py."""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'
sys.path.insert(0, str(EXAMPLES))

RESULT = re.compile(r'^RESULT model=(?P<model>\S+) dataset=(?P<dataset>\S+) metric=(?P<metric>\S+) '
                    r'value=(?P<value>\S+) epochs=(?P<epochs>\d+) seconds_per_epoch=(?P<seconds>\S+) '
                    r'backend=(?P<backend>numpy|cupy)$', re.M)


def _counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params()
    return total, trainable, total - trainable


def _builders():
    """(model id, zero-argument builder, total params, non-trainable params) from MODELS.md."""
    import cifar100_basenet as c100
    import cifar10_arquitecturas as arq
    import cifar10_muestras as mu
    import ej1_boston_linear as ej1
    import ej2_cifar10_dense as ej2
    import ej2_xor as xor
    import ej3_imdb_bow as ej3
    import ej4_imdb_conv1d as conv1d
    import ej4_imdb_embedding as emb
    import ej5_logistic_map as ej5
    import ej6_pima_kfold as ej6
    import ej7_mnist_denoising_ae as ej7
    import ej8_mnist_conv as ej8c
    import ej8_mnist_dense as ej8d
    import ej10_cifar_alexnet as alex
    import ej10_cifar_vgg16 as vgg
    return [
        ('tp4a.ej1_boston_linear', ej1.build, 14, 0),
        ('tp4a.ej2a_cifar10_mse_l2', lambda: ej2.build('mse', 0.05), 308_310, 0),
        ('tp4a.ej2c_xor', xor.build_plain, 9, 0),
        ('tp4a.ej2c_xor_concat', xor.build_concat, 7, 0),
        ('tp4a.ej3_imdb_bow_l2', lambda: ej3.build('tp4a', None, 1e-3), 1_011_121, 0),
        ('tp4a.ej3_imdb_bow_l2_bn', lambda: ej3.build('tp4a', 'bn', 1e-2), 1_011_561, 220),
        ('tp4b.ej3_imdb_dense', lambda: ej3.build('tp4b', None, None), 1_005_201, 0),
        ('tp4b.ej3_imdb_dense_bn', lambda: ej3.build('tp4b', 'bn', None), 1_005_801, 300),
        ('tp4a.ej4_imdb_embed_dense', emb.build_tp4a, 1_937_121, 0),
        ('tp4b.ej4_imdb_embed_dense', emb.build_tp4b, 450_401, 0),
        ('tp4a.ej4_imdb_conv1d', conv1d.build_tp4a, 329_489, 160),
        ('tp4b.ej4_imdb_conv1d', conv1d.build_tp4b, 160_241, 0),
        ('tp4a.ej5_logistic_map', ej5.build, 17, 0),
        ('tp4a.ej6_pima_kfold', ej6.build_tp4a, 673, 72),
        ('tp4b.ej6_pima_kfold', ej6.build_tp4b, 37_551, 0),
        ('tp4a.ej7_conv_denoise_ae', ej7.build_conv, 10_188, 0),
        ('tp4b.ej7_dense_denoise_ae', ej7.build_dense, 4_982_534, 0),
        ('tp4a.ej8_mnist_dense', ej8d.build_tp4a, 698_486, 1_768),
        ('tp4a.ej8_mnist_dense_dropout', ej8d.build_tp4a_dropout, 698_486, 1_768),
        ('tp4b.ej8_mnist_dense', ej8d.build_tp4b, 79_510, 0),
        ('tp4a.ej8_mnist_conv', ej8c.build_tp4a, 39_790, 0),
        ('tp4b.ej8_mnist_conv', ej8c.build_tp4b, 94_650, 0),
        ('tp4a.ej10_alexnet_cifar100', lambda: alex.build_alexnet(100), 3_987_836, 4_912),
        ('tp4a.ej10_vgg16_cifar100', lambda: vgg.build_vgg16(100), 12_906_372, 19_328),
        ('cifar10_m.muestra01', lambda: mu.build(1), 263_402, 0),
        ('cifar10_m.muestra03', lambda: mu.build(3), 265_834, 0),
        ('cifar10_m.muestra05', lambda: mu.build(5), 78_474, 0),
        ('cifar10_m.muestra06', lambda: mu.build(6), 1_410_122, 0),
        ('cifar10_m.muestra07', lambda: mu.build(7), 1_676_874, 2_048),
        ('cifar10_m.muestra08', lambda: mu.build(8), 16_035_658, 2_048),
        ('cifar10_m.muestra11', lambda: mu.build(11), 16_035_658, 2_048),
        ('cifar10_m.muestra12', lambda: mu.build(12), 16_052_554, 10_496),
        ('cifar10_k.arch1', arq.build_arch1, 2_394_826, 1_536),
        ('cifar10_k.arch1_improved', arq.build_arch1_improved, 2_394_826, 1_536),
        ('cifar10_k.arch2', arq.build_arch2, 802_506, 1_472),
        ('cifar10_k.arch2_leakyrelu', lambda: arq.build_arch2(leaky=True), 800_970, 704),
        ('cifar10_k.arch3', arq.build_arch3, 1_118_154, 2_048),
        ('cifar100_b.basenet', c100.build_basenet, 24_197, 0),
        ('cifar100_b.mired_v1', lambda: c100.build_mired('mired_v1'), 87_049, 0),
        ('cifar100_b.mired_v2', lambda: c100.build_mired('mired_v2'), 1_615_705, 0),
        ('cifar100_b.mired_v3', lambda: c100.build_mired('mired_v3'), 3_678_553, 0),
        ('cifar100_b.mired_v4', lambda: c100.build_mired('mired_v4'), 1_781_913, 0),
        ('cifar100_b.mired_v5', lambda: c100.build_mired('mired_v5'), 1_906_841, 0),
        ('cifar100_b.mired_bn_v1', lambda: c100.build_mired_bn(1), 1_907_993, 576),
        ('cifar100_b.mired_bn_v2', lambda: c100.build_mired_bn(2), 1_911_065, 2_112),
        ('cifar100_b.mired_bn_v3', lambda: c100.build_mired_bn(3), 1_911_065, 2_112),
    ]


def test_every_builder_has_the_catalogued_parameter_counts():
    mismatches = []
    for model_id, build, total, non_trainable in _builders():
        got_total, _, got_non_trainable = _counts(build())
        if (got_total, got_non_trainable) != (total, non_trainable):
            mismatches.append(f'{model_id}: {got_total:,} / non-trainable {got_non_trainable:,}, '
                              f'MODELS.md {total:,} / {non_trainable:,}')
    assert not mismatches, '\n'.join(mismatches)


SMOKE = ['--synthetic', '--limit', '64', '--epochs', '1', '--batch-size', '16']
TINY = ['--limit', '8', '--batch-size', '8']  # appended after SMOKE for the 16M-parameter networks

# (script, extra flags, model ids of the RESULT lines it must print)
RUNS = [
    ('ej1_boston_linear.py', ['--model', 'tp4b'], ['tp4b.ej1_boston_linear']),
    ('ej2_cifar10_dense.py', ['--loss', 'hinge'], ['tp4b.ej2a_cifar10_hinge_l2']),
    ('ej2_xor.py', [], ['tp4a.ej2c_xor', 'tp4a.ej2c_xor_concat']),
    ('ej3_imdb_bow.py', ['--variant', 'bn'], ['tp4a.ej3_imdb_bow_l2_bn']),
    ('ej3_imdb_bow.py', ['--variant', 'dense_dropout'], ['tp4b.ej3_imdb_dense_dropout']),
    ('ej4_imdb_embedding.py', ['--model', 'tp4a'], ['tp4a.ej4_imdb_embed_dense']),
    ('ej4_imdb_conv1d.py', ['--model', 'tp4b'], ['tp4b.ej4_imdb_conv1d']),
    ('ej5_logistic_map.py', ['--model', 'tp4b'], ['tp4b.ej5_logistic_map']),
    ('ej6_pima_kfold.py', ['--model', 'tp4a'], ['tp4a.ej6_pima_kfold', 'tp4a.ej6_pima_kfold']),
    ('ej7_mnist_denoising_ae.py', ['--model', 'conv'], ['tp4a.ej7_conv_denoise_ae']),
    ('ej7_mnist_denoising_ae.py', ['--model', 'dense'], ['tp4b.ej7_dense_denoise_ae']),
    ('ej8_mnist_dense.py', ['--model', 'tp4a_dropout'], ['tp4a.ej8_mnist_dense_dropout']),
    ('ej8_mnist_conv.py', [], ['tp4a.ej8_mnist_conv']),
    ('ej8_mnist_conv.py', ['--model', 'tp4b', '--dataset', 'fashion_mnist'], ['tp4b.ej8_mnist_conv']),
    ('ej9_permuted_mnist.py', ['--model', 'tp4a_conv'], ['tp4a.ej9_perm_mnist_conv']),
    ('ej10_cifar_alexnet.py', ['--model', 'tp4a'], ['tp4a.ej10_alexnet_cifar100']),
    ('ej10_cifar_vgg16.py', ['--model', 'tp4b'] + TINY, ['tp4b.ej10_vgg16_cifar10']),
    ('cifar10_muestras.py', ['--muestra', '1'], ['cifar10_m.muestra01']),
    ('cifar10_muestras.py', ['--muestra', '5'], ['cifar10_m.muestra05']),
    ('cifar10_muestras.py', ['--muestra', '12'] + TINY, ['cifar10_m.muestra12']),
    ('cifar10_arquitecturas.py', ['--arch', '2leaky'], ['cifar10_k.arch2_leakyrelu']),
    ('cifar10_arquitecturas.py', ['--arch', '3aug'], ['cifar10_k.arch3_aug_strong']),
    ('cifar100_basenet.py', ['--model', 'basenet'], ['cifar100_b.basenet']),
    ('cifar100_basenet.py', ['--model', 'mired_bn_v3_es'], ['cifar100_b.mired_bn_v3_es']),
    ('cifar10_folders.py', [], ['cifar10_folders.augmented_cnn']),
    ('mnist_denoising_conv_ae.py', [], ['keras_io.conv_denoising_ae']),
]


def _run(script, flags, tmp_path):
    env = dict(os.environ, MINIDL_DATA=str(tmp_path / 'no-datasets'), MPLBACKEND='Agg')
    return subprocess.run([sys.executable, str(EXAMPLES / script)] + flags, capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)


@pytest.mark.parametrize('script, flags, model_ids', RUNS,
                         ids=[f'{s[:-3]}{"-" + "-".join(f[1::2][:1]) if f else ""}' for s, f, _ in RUNS])
def test_script_runs_on_synthetic_data(script, flags, model_ids, tmp_path):
    plot = tmp_path / 'plots' / 'history.png'
    proc = _run(script, SMOKE + ['--plot', str(plot)] + flags, tmp_path)
    assert proc.returncode == 0, f'{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    results = [m.groupdict() for m in RESULT.finditer(proc.stdout)]
    assert [r['model'] for r in results] == model_ids, proc.stdout[-2000:]
    for r in results:
        generated = r['dataset'] in ('xor', 'logistic_map')  # these scripts make their own data
        assert r['epochs'] == '1' and r['backend'] == 'numpy' and (generated or 'synthetic' in r['dataset'])
        assert math.isfinite(float(r['value'])) and float(r['seconds']) >= 0
    pictures = list(plot.parent.glob('*.png'))
    if 'matplotlib' in sys.modules or _has_matplotlib():
        assert pictures, f'{script} saved no picture next to {plot}'


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_missing_data_set_is_explained_without_a_traceback(tmp_path):
    """Real data asked for, none cached (empty MINIDL_DATA and home) and downloads off."""
    env = dict(os.environ, MINIDL_DATA=str(tmp_path / 'empty'), HOME=str(tmp_path), MINIDL_OFFLINE='1')
    proc = subprocess.run([sys.executable, str(EXAMPLES / 'cifar100_basenet.py'), '--epochs', '1'],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 2
    assert "'cifar-100-python.tar.gz' was not found" in proc.stderr and '--synthetic' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_time_limit_ends_training_and_still_reports(tmp_path):
    """--time-limit stops a run after the first epoch that uses up the budget; the script still
    evaluates, saves its plot and prints its RESULT line."""
    flags = SMOKE + ['--arch', '2', '--epochs', '5', '--time-limit', '0.0001', '--plot', str(tmp_path / 'h.png')]
    proc = _run('cifar10_arquitecturas.py', flags, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Epoch 1: TimeStopping after' in proc.stdout
    assert [r['epochs'] for r in RESULT.finditer(proc.stdout)] == ['1']
