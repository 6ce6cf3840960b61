"""Images from folders: minidl.utils.image_dataset_from_directory against Keras 3's (file order,
splits, decoded and resized batches, labels), ImageDataGenerator.flow_from_directory against Keras'
legacy generator, and the featurewise statistics and ZCA whitening of ImageDataGenerator.fit."""
import os
import shutil

import numpy as np
import pytest

import minidl
from minidl import layers as L, models
from minidl.preprocessing.image import ImageDataGenerator
from minidl.utils import image_dataset_from_directory

PIL = pytest.importorskip('PIL.Image')

SIZES = [(5, 7), (9, 6), (8, 8), (6, 11), (7, 5)]


def _write(path, rng, size, mode='RGB', fmt='PNG'):
    channels = {'RGB': 3, 'RGBA': 4, 'L': 1}[mode]
    pixels = (rng.random(size + (channels,)) * 255).astype(np.uint8)
    img = PIL.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)
    img.save(path, fmt)


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    """Three classes of small PNGs of odd sizes (one nested folder, one RGBA, one grayscale), plus
    files and folders that must be ignored."""
    root = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    counts = {'cat': 5, 'dog': 4, 'eel': 3}
    for name, count in counts.items():
        os.makedirs(root / name)
        for i in range(count):
            _write(root / name / f'{name}_{i}.png', rng, SIZES[(i + len(name)) % len(SIZES)])
    os.makedirs(root / 'dog' / 'puppies')
    _write(root / 'dog' / 'puppies' / 'p0.png', rng, (6, 6))
    _write(root / 'cat' / 'alpha.png', rng, (7, 9), mode='RGBA')
    _write(root / 'eel' / 'gray.png', rng, (8, 5), mode='L')
    (root / 'cat' / 'notes.txt').write_text('not an image')
    os.makedirs(root / '.hidden')
    _write(root / '.hidden' / 'x.png', rng, (5, 5))
    return str(root)


@pytest.fixture(scope='module')
def jpeg_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('jpegs')
    rng = np.random.default_rng(1)
    for name in ('a', 'b'):
        os.makedirs(root / name)
        for i in range(3):
            pixels = (rng.random((16, 24, 3)) * 255).astype(np.uint8)
            PIL.fromarray(pixels).save(root / name / f'{i}.jpg', 'JPEG')
    return str(root)


def _keras_batches(dataset):
    return [(np.asarray(x), None if y is None else np.asarray(y)) for x, y in
            ((b if isinstance(b, tuple) else (b, None)) for b in dataset)]


def _our_batches(dataset):
    return [(np.asarray(x), None if y is None else np.asarray(y)) for x, y in
            ((b if isinstance(b, tuple) else (b, None)) for b in dataset)]


@pytest.mark.parametrize('subset', ['training', 'validation', 'both'])
def test_same_seed_gives_keras_files_classes_and_split(keras, folder, subset):
    kwargs = dict(validation_split=0.34, subset=subset, seed=7, image_size=(6, 6), verbose=False)
    theirs = keras.utils.image_dataset_from_directory(folder, **kwargs)
    ours = image_dataset_from_directory(folder, **kwargs)
    pairs = zip(ours, theirs) if subset == 'both' else [(ours, theirs)]
    for a, b in pairs:
        assert a.file_paths == b.file_paths and a.class_names == b.class_names == ['cat', 'dog', 'eel']
    if subset == 'both':
        assert not set(ours[0].file_paths) & set(ours[1].file_paths)
        assert len(ours[0].file_paths) + len(ours[1].file_paths) == 15


@pytest.mark.parametrize('options', [
    {}, {'interpolation': 'nearest'}, {'crop_to_aspect_ratio': True}, {'pad_to_aspect_ratio': True},
    {'color_mode': 'grayscale', 'label_mode': 'categorical'}, {'color_mode': 'rgba'},
    {'image_size': (4, 9), 'batch_size': 4}, {'label_mode': None}, {'image_size': 10, 'batch_size': None},
], ids=str)
def test_unshuffled_batches_equal_keras(keras, folder, options):
    kwargs = dict(dict(shuffle=False, image_size=(7, 6), batch_size=5, verbose=False), **options)
    theirs = _keras_batches(keras.utils.image_dataset_from_directory(folder, **kwargs))
    ours = _our_batches(image_dataset_from_directory(folder, **kwargs))
    assert len(ours) == len(theirs)
    # Colour files read as grayscale: Pillow's luma rounds, libpng's (TensorFlow's) truncates: 1 level apart.
    atol = 1.0 + 1e-3 if options.get('color_mode') == 'grayscale' else 2e-3
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        assert xa.dtype == np.float32 and xa.shape == xb.shape
        np.testing.assert_allclose(xa, xb, rtol=1e-5, atol=atol)
        if yb is None:
            assert ya is None
        else:
            assert ya.dtype == yb.dtype
            np.testing.assert_array_equal(ya, yb)


def test_binary_labels_equal_keras(keras, folder, tmp_path):
    import shutil
    two = tmp_path / 'two'
    for name in ('cat', 'dog'):
        shutil.copytree(os.path.join(folder, name), two / name)
    kwargs = dict(shuffle=False, image_size=(5, 5), label_mode='binary', verbose=False)
    for (xa, ya), (xb, yb) in zip(_our_batches(image_dataset_from_directory(str(two), **kwargs)),
                                  _keras_batches(keras.utils.image_dataset_from_directory(str(two), **kwargs))):
        assert ya.shape == yb.shape == (len(xa), 1)
        np.testing.assert_array_equal(ya, yb)


def test_jpeg_decoding_is_close_to_tensorflows(keras, jpeg_folder):
    """Pillow decodes JPEG with libjpeg's accurate integer IDCT, TensorFlow with its fast one: pixels
    differ by a level or so (at most 5 on CIFAR-10's JPEGs; more on smooth synthetic gradients)."""
    kwargs = dict(shuffle=False, image_size=(16, 24), verbose=False)
    (xa, ya), = _our_batches(image_dataset_from_directory(jpeg_folder, **kwargs))
    (xb, yb), = _keras_batches(keras.utils.image_dataset_from_directory(jpeg_folder, **kwargs))
    assert np.abs(xa - xb).max() <= 6 and np.abs(xa - xb).mean() < 1.5
    np.testing.assert_array_equal(ya, yb)


def test_dataset_trains_a_model_and_reshuffles_every_epoch(folder):
    train, val = image_dataset_from_directory(folder, validation_split=0.25, subset='both', seed=3,
                                              image_size=(6, 6), batch_size=4, verbose=False)
    assert len(train) == 3 and len(val) == 1
    first = np.concatenate([y for _, y in train])
    train.on_epoch_end()
    second = np.concatenate([y for _, y in train])
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)
    assert np.array_equal(np.concatenate([y for _, y in val]), np.concatenate([y for _, y in val]))
    model = models.Sequential([L.Input((6, 6, 3)), L.Rescaling(1 / 255), L.RandomFlip('horizontal', seed=1),
                               L.Flatten(), L.Dense(3, activation='softmax')])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(train, validation_data=val, epochs=2, verbose=0)
    assert len(history.history['loss']) == 2 and 'val_accuracy' in history.history
    assert model.predict(val, verbose=0).shape == (len(val.file_paths), 3)


def test_explicit_labels_and_no_labels(folder):
    n = 16   # given labels: every image under the folder, hidden sub-folders too (as Keras)
    ds = image_dataset_from_directory(folder, labels=list(range(n)), shuffle=False, image_size=(4, 4),
                                      batch_size=n, verbose=False)
    x, y = ds[0]
    assert x.shape == (n, 4, 4, 3) and y.tolist() == list(range(n)) and ds.class_names == [str(i) for i in range(n)]
    only = image_dataset_from_directory(folder, labels=None, image_size=(4, 4), batch_size=6, seed=1, verbose=False)
    assert only[0].shape == (6, 4, 4, 3) and only.class_names is None
    chosen = image_dataset_from_directory(folder, class_names=['eel', 'cat'], shuffle=False, image_size=(4, 4),
                                          verbose=False)
    assert chosen.class_names == ['eel', 'cat'] and len(chosen.file_paths) == 10
    assert chosen[0][1].tolist() == [0] * 4 + [1] * 6
    first = image_dataset_from_directory(folder, data_format='channels_first', shuffle=False, image_size=(4, 5),
                                         verbose=False)[0][0]
    assert first.shape == (15, 3, 4, 5)


@pytest.mark.parametrize('kwargs, message', [
    ({'validation_split': 0.2, 'subset': 'training'}, 'give a seed'),
    ({'validation_split': 0.2}, 'validation_split and subset together'),
    ({'label_mode': 'binary'}, "label_mode='binary' needs exactly 2 classes, found 3"),
    ({'label_mode': 'sparse'}, "label_mode must be 'int'"),
    ({'labels': [0, 1]}, '2 labels were given but .* holds 16 image files'),
    ({'class_names': ['cat', 'cow']}, r"the classes \['cow'\] have no sub-folder"),
    ({'interpolation': 'lanczos5'}, 'interpolation must be one of'),
    ({'color_mode': 'cmyk'}, 'color_mode must be'),
    ({'image_size': (3, 4, 5)}, r'image_size must be \(height, width\)'),
])
def test_image_dataset_errors(folder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        image_dataset_from_directory(folder, verbose=False, **kwargs)


def test_missing_folder_and_missing_pillow(folder, monkeypatch):
    with pytest.raises(ValueError, match="'/no/such/folder' is not a folder.*one sub-folder per class"):
        image_dataset_from_directory('/no/such/folder')
    import sys
    monkeypatch.setitem(sys.modules, 'PIL', None)
    ds = image_dataset_from_directory(folder, shuffle=False, image_size=(4, 4), verbose=False)
    with pytest.raises(ImportError, match='needs Pillow.*pip install pillow'):
        ds[0]


# --- ImageDataGenerator.flow_from_directory against Keras' legacy generator ----------------------------

def _legacy():
    legacy = pytest.importorskip('keras.src.legacy.preprocessing.image')
    return legacy.ImageDataGenerator


@pytest.mark.parametrize('options', [
    {}, {'class_mode': 'sparse', 'interpolation': 'bilinear'}, {'keep_aspect_ratio': True, 'target_size': (5, 8)},
    {'color_mode': 'grayscale', 'class_mode': 'binary'}, {'class_mode': None}, {'class_mode': 'input'},
    {'classes': ['eel', 'dog']},
], ids=str)
def test_flow_from_directory_equals_keras_legacy(keras, folder, options):
    kwargs = dict(dict(target_size=(7, 6), batch_size=4, shuffle=False), **options)
    theirs = _legacy()(rescale=1 / 255).flow_from_directory(folder, **kwargs)
    ours = ImageDataGenerator(rescale=1 / 255).flow_from_directory(folder, **kwargs)
    assert ours.class_indices == theirs.class_indices and ours.filenames == theirs.filenames
    np.testing.assert_array_equal(ours.classes, theirs.classes)
    assert len(ours) == len(theirs) and ours.samples == theirs.samples and ours.image_shape == theirs.image_shape
    for i in range(len(theirs)):
        want, got = theirs[i], ours[i]
        if not isinstance(want, tuple):
            want, got = (want,), (got,)
        for a, b in zip(got, want):
            assert np.asarray(a).dtype == b.dtype
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('subset', ['training', 'validation'])
def test_flow_from_directory_split_per_class_equals_keras(keras, folder, subset):
    theirs = _legacy()(validation_split=0.4).flow_from_directory(folder, subset=subset, shuffle=False)
    ours = ImageDataGenerator(validation_split=0.4).flow_from_directory(folder, subset=subset, shuffle=False)
    assert ours.filenames == theirs.filenames and ours.class_indices == theirs.class_indices


def test_flow_from_directory_augments_trains_and_saves(folder, tmp_path):
    gen = ImageDataGenerator(rescale=1 / 255, horizontal_flip=True, rotation_range=20)
    it = gen.flow_from_directory(folder, target_size=(6, 6), batch_size=5, seed=2, save_to_dir=str(tmp_path),
                                 save_prefix='aug', classes=['cat', 'dog', 'eel'])
    x, y = next(it)
    assert x.shape == (5, 6, 6, 3) and y.shape == (5, 3) and np.all(y.sum(1) == 1)
    assert len([f for f in os.listdir(tmp_path) if f.startswith('aug_') and f.endswith('.png')]) == 5
    seen = np.concatenate([np.argmax(next(it)[1], 1) for _ in range(len(it) - 1)])
    assert len(seen) == 10
    model = models.Sequential([L.Input((6, 6, 3)), L.Flatten(), L.Dense(3, activation='softmax')])
    model.compile(optimizer='sgd', loss='categorical_crossentropy')
    again = ImageDataGenerator(rescale=1 / 255).flow_from_directory(folder, target_size=(6, 6), batch_size=5,
                                                                    classes=['cat', 'dog', 'eel'])
    assert np.isfinite(model.fit(again, epochs=1, verbose=0).history['loss']).all()
    with pytest.raises(ValueError, match="class_mode must be one of"):
        gen.flow_from_directory(folder, class_mode='multi')
    with pytest.raises(ValueError, match='validation_split > 0'):
        gen.flow_from_directory(folder, subset='training')


# --- featurewise statistics and ZCA against Keras' legacy generator -------------------------------------

@pytest.mark.parametrize('options', [
    {'featurewise_center': True}, {'featurewise_center': True, 'featurewise_std_normalization': True},
    {'featurewise_std_normalization': True, 'rescale': 1 / 255},
    {'zca_whitening': True}, {'zca_whitening': True, 'zca_epsilon': 1e-2, 'rescale': 0.5},
    {'zca_whitening': True, 'featurewise_std_normalization': True},
    {'samplewise_std_normalization': True, 'featurewise_center': True},
], ids=str)
def test_featurewise_statistics_and_zca_equal_keras_legacy(keras, options):
    rng = np.random.default_rng(4)
    x = (rng.random((12, 4, 3, 3)) * 100).astype(np.float32)
    x[..., 1] += np.linspace(0, 30, 12)[:, None, None]          # correlated pixels for ZCA to undo
    import warnings
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter('always')
        ours = ImageDataGenerator(**options)
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter('always')
        theirs = _legacy()(**options)
    def words(caught):  # Keras' texts lack a space here and there
        return [str(w.message).replace('`', ' `').split() for w in caught]
    assert words(ours_warned) == words(theirs_warned)
    assert ours.featurewise_center == theirs.featurewise_center
    assert ours.featurewise_std_normalization == theirs.featurewise_std_normalization
    assert ours.samplewise_center == theirs.samplewise_center
    ours.fit(x)
    theirs.fit(x)
    if theirs.mean is not None:
        np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-5, atol=1e-4)
    if theirs.std is not None:
        np.testing.assert_allclose(ours.std, theirs.std, rtol=1e-5, atol=1e-4)
    if theirs.zca_whitening_matrix is not None:
        np.testing.assert_allclose(ours.zca_whitening_matrix, theirs.zca_whitening_matrix, rtol=2e-3, atol=2e-3)
    probe = (rng.random((3, 4, 3, 3)) * 100).astype(np.float32)
    want = np.stack([theirs.standardize(p.copy()) for p in probe])
    np.testing.assert_allclose(ours.standardize(probe), want, rtol=2e-3, atol=2e-3)


def test_zca_whitens_the_data():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((400, 1))
    x = np.concatenate([base + 0.1 * rng.standard_normal((400, 1)) for _ in range(4)], 1).reshape(400, 2, 2, 1)
    gen = ImageDataGenerator(featurewise_center=True, zca_whitening=True, zca_epsilon=1e-8, dtype="float64")
    gen.fit(x * 10 + 3)
    white = gen.standardize(x * 10 + 3).reshape(400, -1)
    # Centred per channel (as Keras), so the whitened second moment, not the covariance, is the identity.
    np.testing.assert_allclose(white.T @ white / 400, np.eye(4), atol=1e-6)
    flow = next(gen.flow(x * 10 + 3, np.zeros(400), batch_size=400, shuffle=False))[0]
    np.testing.assert_allclose(np.asarray(flow).reshape(400, -1), white, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match='zca_whitening but fit\\(\\) was not called'):
        ImageDataGenerator(featurewise_center=True, zca_whitening=True).standardize(x[0])


def test_cifar10_layout_script_extracts_only_class_images(tmp_path):
    """examples/cifar10_to_folders.py: train/<class>/*.jpg and test/<class>/*.jpg are laid out
    (capped per class); anything else in the archive, paths leaving the folder included, is not."""
    import io
    import sys
    import tarfile
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'examples'))
    import cifar10_to_folders
    archive = tmp_path / 'cifar.tar.gz'
    data = io.BytesIO()
    PIL.fromarray(np.zeros((4, 4, 3), np.uint8)).save(data, 'JPEG')
    names = [f'{split}/{c}/{i:04d}.jpg' for split in ('train', 'test') for c in ('cat', 'ship') for i in range(3)]
    names += ['../evil.jpg', 'train/unicorn/0000.jpg', 'train/cat/readme.txt', 'train/cat/sub/0000.jpg']
    with tarfile.open(archive, 'w:gz') as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = len(data.getvalue())
            tar.addfile(info, io.BytesIO(data.getvalue()))
    out = cifar10_to_folders.layout(str(archive), str(tmp_path / 'folders'), per_class=2, verbose=False)
    found = sorted(os.path.relpath(os.path.join(r, f), out) for r, _, files in os.walk(out) for f in files)
    assert found == ['.layout.json'] + sorted(f'{s}/{c}/{i:04d}.jpg' for s in ('train', 'test')
                                              for c in ('cat', 'ship') for i in (0, 1))
    assert not (tmp_path / 'evil.jpg').exists()
    assert [d for d in os.listdir(tmp_path) if d.startswith('.')] == []  # no temporary folder left
    ds = image_dataset_from_directory(os.path.join(out, 'train'), image_size=(4, 4), verbose=False)
    assert ds.class_names == ['cat', 'ship'] and len(ds.file_paths) == 4
    with pytest.raises(FileNotFoundError, match='cifar10-jpeg.tar.gz'):
        cifar10_to_folders.layout(str(tmp_path / 'missing.tar.gz'), str(tmp_path / 'other'), verbose=False)


def test_cifar10_layout_script_is_safe_to_rerun(tmp_path, monkeypatch):
    """A rerun with the same cap does nothing (it does not even need the archive); another cap is
    refused; the layout has ordinary permissions; a run that loses the race to another run's
    rename keeps the winner's complete layout; a failed run leaves nothing behind."""
    import io
    import json
    import stat
    import sys
    import tarfile
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'examples'))
    import cifar10_to_folders
    archive = tmp_path / 'cifar.tar.gz'
    data = io.BytesIO()
    PIL.fromarray(np.zeros((4, 4, 3), np.uint8)).save(data, 'JPEG')
    with tarfile.open(archive, 'w:gz') as tar:
        for name in [f'{s}/{c}/{i:04d}.jpg' for s in ('train', 'test') for c in ('cat', 'dog') for i in range(3)]:
            info = tarfile.TarInfo(name)
            info.size = len(data.getvalue())
            tar.addfile(info, io.BytesIO(data.getvalue()))
    out = str(tmp_path / 'folders')
    cifar10_to_folders.layout(str(archive), out, per_class=2, verbose=False)
    with open(os.path.join(out, '.layout.json')) as f:
        assert json.load(f) == {'source': 'cifar.tar.gz', 'per_class': 2, 'images': {'train': 4, 'test': 4}}
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o777 & ~umask
    before = sorted(os.path.join(r, f) for r, _, files in os.walk(out) for f in files)
    assert cifar10_to_folders.layout(str(tmp_path / 'gone.tar.gz'), out, per_class=2, verbose=False) == out
    assert sorted(os.path.join(r, f) for r, _, files in os.walk(out) for f in files) == before
    with pytest.raises(ValueError, match='--per-class 2, not None'):
        cifar10_to_folders.layout(str(archive), out, per_class=None, verbose=False)
    # Losing the race: another run renames its complete layout into place just before this one does.
    other = str(tmp_path / 'raced')
    real_replace = os.replace

    def replace_after_the_other_run(src, dst):
        if dst == other and not os.path.exists(other):
            shutil.copytree(out, other)
        return real_replace(src, dst)
    monkeypatch.setattr(cifar10_to_folders.os, 'replace', replace_after_the_other_run)
    monkeypatch.setattr(cifar10_to_folders.os.path, 'exists', lambda p, real=os.path.exists: False if p == other
                        else real(p))
    assert cifar10_to_folders.layout(str(archive), other, per_class=2, verbose=False) == other
    monkeypatch.undo()
    assert sorted(os.listdir(os.path.join(other, 'train'))) == ['cat', 'dog']
    assert [d for d in os.listdir(tmp_path) if d.startswith('.')] == []
    # An archive with nothing to lay out fails and leaves no temporary folder.
    empty = tmp_path / 'empty.tar.gz'
    with tarfile.open(empty, 'w:gz'):
        pass
    with pytest.raises(ValueError, match='holds no train'):
        cifar10_to_folders.layout(str(empty), str(tmp_path / 'none'), verbose=False)
    assert [d for d in os.listdir(tmp_path) if d.startswith('.')] == [] and not os.path.exists(tmp_path / 'none')
