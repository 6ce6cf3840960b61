"""The nine transfer-learning course models (MODELS.md marks them): their parameter counts, the
message each script prints when the ImageNet weights (or the birds data) are missing, and a run
of every one, end to end (1 epoch, a few synthetic images), on backbone weights written by Keras
(by minidl in Keras' layout where Keras is absent) in each of Keras' HDF5 layouts.
"""
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
sys.path.insert(0, str(Path(__file__).resolve().parent / 'fixtures'))

from minidl import applications, layers, models  # noqa: E402

RESULT = re.compile(r'^RESULT model=(?P<model>\S+) dataset=(?P<dataset>\S+) metric=\S+ value=(?P<value>\S+) '
                    r'epochs=(?P<epochs>\d+) ', re.M)


def _counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return model.count_params(), trainable, model.count_params() - trainable


def test_transfer_models_have_the_catalogued_counts():
    """MODELS.md's totals (computed there from the course's printed summaries)."""
    import birds_resnet50 as birds
    import cifar10_muestras as muestras
    import cifar10_transfer as transfer

    base = transfer.base_with_flatten('VGG16', None)
    assert _counts(base) == (14_714_688, 0, 14_714_688)
    transfer.unfreeze('VGG16', base)
    model = models.Sequential([layers.Input(shape=(32, 32, 3)), layers.Resizing(224, 224), base]
                              + transfer.head(0.5))
    assert _counts(model) == (21_173_194, 13_537_162, 7_636_032)  # cifar10_k.tl_vgg16_finetune_aug
    base = transfer.base_with_flatten('DenseNet121', None)
    assert len(base.layers) == 428 and base.output_shape == (None, 50_176)
    transfer.unfreeze('DenseNet121', base)
    assert _counts(base)[1] == 639_616
    model = models.Sequential([layers.Input(shape=(32, 32, 3)), layers.Resizing(224, 224), base]
                              + transfer.head(0.4))
    assert _counts(model)[:2] == (19_918_538, 13_519_882)  # cifar10_k.tl_densenet121_finetune_aug
    features = models.Sequential([layers.Input(shape=(25_088,))] + transfer.head(0.6))
    assert _counts(features) == (6_458_506, 6_457_738, 768)  # cifar10_k.tl_vgg16_features (head)

    resnet = applications.ResNet50(include_top=False, weights=None, pooling='avg')
    assert _counts(resnet) == (23_587_712, 23_534_592, 53_120)
    for variant, total in (('ft_v1', 24_739_400), ('ft_v2', 24_819_528)):
        out = resnet.output
        for layer in birds.head_layers(variant):
            out = layer(out)
        assert _counts(models.Model(resnet.input, out)) == (total, total - 53_120, 53_120)
    for variant, total in (('feat_v1', 1_151_688), ('feat_v2', 1_151_688), ('feat_v3', 1_231_816)):
        assert models.Sequential([layers.Input(shape=(2048,))] + birds.head_layers(variant)).count_params() == total

    muestra = muestras.build_muestra09(None)
    assert muestra.layers[0].count_params() == 14_714_688 and not muestra.layers[0].trainable_weights


def _run(script, flags, tmp_path, **env):
    """Run an example with an empty home (no ~/.keras, no ~/.minidl) and downloads off."""
    full_env = dict(os.environ, MINIDL_DATA=str(tmp_path / 'no-datasets'), HOME=str(tmp_path / 'home'),
                    MINIDL_OFFLINE='1', MPLBACKEND='Agg')
    full_env.update(env)
    return subprocess.run([sys.executable, str(EXAMPLES / script)] + flags, capture_output=True, text=True,
                          env=full_env, cwd=tmp_path, timeout=900)


SMOKE = ['--synthetic', '--epochs', '1', '--limit', '16', '--batch-size', '8']


@pytest.mark.parametrize('script, flags, missing, says', [
    ('cifar10_muestras.py', SMOKE + ['--muestra', '9'], ['--weights'],
     'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5'),
    ('cifar10_transfer.py', SMOKE + ['--model', 'densenet121_finetune'], ['--weights'], 'downloads are turned off'),
    ('birds_resnet50.py', ['--model', 'ft_v2', '--weights', 'absent.h5'], ['--weights', '--birds-dir'],
     'not found: absent.h5'),
    ('birds_resnet50.py', SMOKE + ['--model', 'feat_v1'], ['--weights'],
     'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5'),
])
def test_scripts_say_what_is_missing(script, flags, missing, says, tmp_path):
    proc = _run(script, flags, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'cannot run' in proc.stdout and 'RESULT' not in proc.stdout and 'Traceback' not in proc.stderr
    for flag in missing:
        assert f'  {flag} ' in proc.stdout
    assert says in proc.stdout and 'imagenet_weights.py' in proc.stdout


# The nine course models: (script, flags, model id, backbone, layout of the weights file).
RUNS = [
    ('cifar10_muestras.py', ['--muestra', '9'], 'cifar10_m.muestra09', 'VGG16', 'legacy'),
    ('cifar10_transfer.py', ['--model', 'vgg16_features', '--image-size', '48'], 'cifar10_k.tl_vgg16_features',
     'VGG16', 'keras3'),
    ('cifar10_transfer.py', ['--model', 'vgg16_finetune', '--image-size', '32', '--steps-per-epoch', '2'],
     'cifar10_k.tl_vgg16_finetune_aug', 'VGG16', 'keras2'),
    ('cifar10_transfer.py', ['--model', 'densenet121_finetune', '--image-size', '32', '--steps-per-epoch', '2'],
     'cifar10_k.tl_densenet121_finetune_aug', 'DenseNet121', 'legacy'),
    ('birds_resnet50.py', ['--model', 'feat_v1', '--image-size', '32'], 'cifar100_b.resnet50_feat_v1', 'ResNet50',
     'legacy'),
    ('birds_resnet50.py', ['--model', 'feat_v2', '--image-size', '32'], 'cifar100_b.resnet50_feat_v2', 'ResNet50',
     'keras3'),
    ('birds_resnet50.py', ['--model', 'feat_v3', '--image-size', '32', '--early-stopping', '--epochs', '1'],
     'cifar100_b.resnet50_feat_v3', 'ResNet50', 'keras2'),
    ('birds_resnet50.py', ['--model', 'ft_v1', '--image-size', '32', '--augment', 'flip'],
     'cifar100_b.resnet50_ft_v1', 'ResNet50', 'legacy'),
    ('birds_resnet50.py', ['--model', 'ft_v2', '--image-size', '32'], 'cifar100_b.resnet50_ft_v2', 'ResNet50',
     'official-cache'),
]


@pytest.fixture(scope='module')
def backbone_weights(tmp_path_factory):
    """{(backbone, layout): path}: no-top weights of the three backbones written by Keras 3
    (weights=None under a seed, random biases and BN statistics) in its three layouts, or by
    minidl in Keras 2's layout when Keras is absent. 'official-cache' is a legacy-layout file
    under its official name in an otherwise empty home's ~/.minidl/models/."""
    folder = tmp_path_factory.mktemp('backbones')
    home = folder / 'home'
    cache = home / '.minidl' / 'models'
    cache.mkdir(parents=True)
    paths = {}
    try:
        import applications_oracle as oracle
        import keras
    except ImportError:
        keras = None
    for i, name in enumerate(('VGG16', 'DenseNet121', 'ResNet50')):
        if keras is not None:
            keras.utils.set_random_seed(i)
            model = oracle.randomize(getattr(keras.applications, name)(include_top=False, weights=None), seed=i)
            for layout, path in oracle.write_layouts(model, name, str(folder), name).items():
                paths[name, layout] = path
            official = cache / applications.weights_file(name, include_top=False)[0]
            os.replace(oracle.write_legacy(model, oracle.family(name), str(official) + '.tmp'), official)
        else:
            model = getattr(applications, name)(include_top=False, weights=None)
            path = str(folder / f'{name}.h5')
            model.save_weights(path)  # Keras 2's layout: layer_names / weight_names
            model.save_weights(str(cache / applications.weights_file(name, include_top=False)[0]))
            for layout in ('legacy', 'keras2', 'keras3'):
                paths[name, layout] = path
        paths[name, 'official-cache'] = None
    paths['home'] = str(home)
    return paths


@pytest.mark.slow
@pytest.mark.parametrize('script, flags, model_id, backbone, layout', RUNS, ids=[r[2] for r in RUNS])
def test_course_models_run_on_keras_written_weights(backbone_weights, script, flags, model_id, backbone, layout,
                                                    tmp_path):
    path = backbone_weights[backbone, layout]
    weights = ['--weights', path] if path else []  # official-cache: weights='imagenet' finds it
    proc = _run(script, SMOKE + flags + weights + ['--plot', str(tmp_path / 'history.png')], tmp_path,
                HOME=backbone_weights['home'])
    assert proc.returncode == 0, f'{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    results = [m.groupdict() for m in RESULT.finditer(proc.stdout)]
    assert [r['model'] for r in results] == [model_id], proc.stdout[-2000:]
    assert results[0]['epochs'] == '1' and 'synthetic' in results[0]['dataset']
    assert math.isfinite(float(results[0]['value']))
