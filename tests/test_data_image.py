"""ImageDataGenerator: each transform on known images, SciPy as the oracle for the affine
resampling, standardisation statistics, seeded determinism, epochs and validation subsets."""
import math
import os

import numpy as np
import pytest
from scipy import ndimage

import minidl
from minidl.preprocessing.image import ImageDataGenerator

FILL_MODES = ['nearest', 'constant', 'reflect', 'wrap']


@pytest.fixture(autouse=True)
def _numpy_backend():
    """The transforms are checked on the NumPy backend, against NumPy and SciPy; the GPU path is
    checked against this one by ``test_cupy_backend_matches_numpy``."""
    minidl.set_backend('numpy')
    yield


@pytest.fixture
def images(rng):
    return rng.uniform(0, 255, (6, 7, 9, 3)).astype(np.float32)


@pytest.mark.parametrize('fill_mode', FILL_MODES)
@pytest.mark.parametrize('order', [0, 1])
def test_flips_are_exact(images, fill_mode, order):
    gen = ImageDataGenerator(fill_mode=fill_mode, interpolation_order=order)
    np.testing.assert_array_equal(gen.apply_transform(images[0], {'flip_horizontal': True}), images[0][:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(images[0], {'flip_vertical': True}), images[0][::-1])


@pytest.mark.parametrize('order', [0, 1])
def test_one_pixel_shifts_move_the_pixels(images, order):
    x = images[0]
    gen = ImageDataGenerator(fill_mode='constant', cval=-1, interpolation_order=order)
    right = gen.apply_transform(x, {'ty': 1})  # Keras: output(r, c) = input(r, c + ty)
    np.testing.assert_array_equal(right[:, :-1], x[:, 1:])
    assert (right[:, -1] == -1).all()
    down = gen.apply_transform(x, {'tx': -1})
    np.testing.assert_array_equal(down[1:], x[:-1])
    assert (down[0] == -1).all()


@pytest.mark.parametrize('fill_mode, expected_column', [('nearest', 8), ('reflect', 8), ('wrap', 0)])
def test_fill_modes_at_the_border(images, fill_mode, expected_column):
    x = images[0]
    out = ImageDataGenerator(fill_mode=fill_mode).apply_transform(x, {'ty': 1})
    np.testing.assert_array_equal(out[:, -1], x[:, expected_column])
    far = ImageDataGenerator(fill_mode=fill_mode).apply_transform(x, {'ty': 3})
    column = {'nearest': 8, 'reflect': 6, 'wrap': 2}[fill_mode]  # source column 11 of 9
    np.testing.assert_array_equal(far[:, -1], x[:, column])


def test_zero_ranges_are_the_identity(images):
    batch = next(ImageDataGenerator().flow(images, batch_size=6, shuffle=False))
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch, images)
    uint8 = images.astype(np.uint8)
    np.testing.assert_array_equal(next(ImageDataGenerator().flow(uint8, batch_size=6, shuffle=False)), uint8)


def test_uint8_input_matches_float_input(images):
    """Integer images are converted to float inside the resampling, chunk by chunk."""
    as_uint8 = images.astype(np.uint8)
    for fill_mode in ('nearest', 'constant'):
        gen = ImageDataGenerator(rotation_range=30, horizontal_flip=True, fill_mode=fill_mode, cval=3)
        from_uint8 = next(gen.flow(as_uint8, batch_size=6, seed=4))
        from_float = next(gen.flow(as_uint8.astype(np.float32), batch_size=6, seed=4))
        assert from_uint8.dtype == np.float32
        np.testing.assert_array_equal(from_uint8, from_float)


def test_quarter_and_half_turns(rng):
    x = rng.uniform(0, 1, (8, 8, 2)).astype(np.float32)
    gen = ImageDataGenerator()
    np.testing.assert_allclose(gen.apply_transform(x, {'theta': 90}), np.rot90(x, k=-1), atol=1e-5)
    np.testing.assert_allclose(gen.apply_transform(x, {'theta': 180}), x[::-1, ::-1], atol=1e-5)


def keras_matrix(theta, tx, ty, shear, zx, zy, rows, cols):
    """Keras' composition (rotation, shift, shear, zoom), centred on the pixel centre, as the
    (matrix, offset) of scipy.ndimage.affine_transform."""
    t, s = np.deg2rad(theta), np.deg2rad(shear)
    rotation = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    shear_m = np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    m = rotation @ shift @ shear_m @ zoom
    centre = np.array([[1, 0, (rows - 1) / 2], [0, 1, (cols - 1) / 2], [0, 0, 1]])
    m = centre @ m @ np.linalg.inv(centre)
    return m[:2, :2], m[:2, 2]


SCIPY_MODE = {'nearest': 'nearest', 'constant': 'grid-constant', 'reflect': 'reflect', 'wrap': 'grid-wrap'}


@pytest.mark.parametrize('fill_mode', FILL_MODES)
def test_affine_resampling_matches_scipy(images, fill_mode):
    """One batch, different random parameters per image, against scipy per image and channel
    (flips applied after the affine map, as Keras does)."""
    gen = ImageDataGenerator(rotation_range=40, width_shift_range=0.3, height_shift_range=0.3, shear_range=20,
                             zoom_range=0.3, horizontal_flip=True, vertical_flip=True, fill_mode=fill_mode, cval=7.0)
    rng = np.random.default_rng(1)
    params = gen._random_params(len(images), 7, 9, rng)
    out = gen._transform_batch(images, params)
    for i, x in enumerate(images):
        p = {k: v[i] for k, v in params.items()}
        matrix, offset = keras_matrix(p['theta'], p['tx'], p['ty'], p['shear'], p['zx'], p['zy'], 7, 9)
        expected = np.stack([ndimage.affine_transform(x[..., k].astype(np.float64), matrix, offset, order=1,
                                                      mode=SCIPY_MODE[fill_mode], cval=7.0)
                             for k in range(3)], axis=-1)
        if p['flip_horizontal']:
            expected = expected[:, ::-1]
        if p['flip_vertical']:
            expected = expected[::-1]
        np.testing.assert_allclose(out[i], expected, atol=2e-3, err_msg=f'image {i}, params {p}')


def test_random_integer_shifts_are_whole_pixels_per_image(rng):
    x = rng.uniform(0, 1, (40, 5, 12, 1)).astype(np.float32)
    gen = ImageDataGenerator(width_shift_range=2, fill_mode='wrap')
    out = next(gen.flow(x, batch_size=40, shuffle=False, seed=3))
    shifts = []
    for original, moved in zip(x, out):
        matches = [s for s in range(-2, 3) if np.array_equal(moved, np.roll(original, -s, axis=1))]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert set(shifts) == {-2, -1, 0, 1, 2}  # drawn per image, not per batch


def test_brightness_and_channel_shift(images):
    gen = ImageDataGenerator(brightness_range=(0.5, 0.5))
    np.testing.assert_allclose(next(gen.flow(images, batch_size=6, shuffle=False)), images * 0.5, rtol=1e-6)
    x = np.linspace(0, 100, 7 * 9 * 3, dtype=np.float32).reshape(7, 9, 3)
    shifted = ImageDataGenerator().apply_transform(x, {'channel_shift_intensity': 10.0})
    np.testing.assert_allclose(shifted, np.minimum(x + 10, 100), rtol=1e-6)


def test_brightness_clips_like_keras():
    """Keras (PIL on a 0-255 image) clips at 255; an image outside 0-255 is scaled within its own range."""
    x = np.array([0.0, 100.0, 200.0, 250.0], np.float32).reshape(2, 2, 1)
    brighter = ImageDataGenerator().apply_transform(x, {'brightness': 1.2})
    np.testing.assert_allclose(brighter.ravel(), [0, 120, 240, 255])
    wide = np.array([-10.0, 0.0, 300.0, 590.0], np.float32).reshape(2, 2, 1)
    np.testing.assert_allclose(ImageDataGenerator().apply_transform(wide, {'brightness': 1.5}).ravel(),
                               [-10, 5, 455, 590], rtol=1e-6)


def test_brightness_matches_keras_up_to_pil_rounding(images):
    legacy = pytest.importorskip('keras.src.legacy.preprocessing.image')
    pytest.importorskip('PIL')
    for factor in (0.9, 1.2):
        ours = ImageDataGenerator().apply_transform(images[0], {'brightness': factor})
        theirs = legacy.ImageDataGenerator().apply_transform(images[0].copy(), {'brightness': factor})
        np.testing.assert_allclose(ours, theirs, atol=1.0 + factor)  # PIL truncates, then rounds, to uint8


def test_featurewise_statistics_match_numpy(images):
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rescale=1 / 255)
    with pytest.raises(ValueError, match='fit'):
        gen.standardize(images)
    gen.fit(images)
    scaled = images.astype(np.float64) / 255
    np.testing.assert_allclose(gen.mean.ravel(), scaled.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(gen.std.ravel(), scaled.std(axis=(0, 1, 2)), rtol=1e-6)
    out = gen.standardize(images)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-4)
    np.testing.assert_allclose(gen.standardize(images[2]), out[2], rtol=1e-6)  # a single image


def test_samplewise_normalisation_and_preprocessing_function(images):
    seen = []

    def preprocess(image):
        seen.append(image.shape)
        return image + 1

    gen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True,
                             preprocessing_function=preprocess)
    out = gen.standardize(images)
    assert seen == [images.shape[1:]] * len(images)  # called on each image
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-4)


AUGMENT = dict(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, horizontal_flip=True,
               zoom_range=0.1, brightness_range=(0.7, 1.3))


def take(iterator, count):
    return [next(iterator) for _ in range(count)]


def test_same_seed_same_batches(images):
    labels = np.arange(len(images))
    first = take(ImageDataGenerator(**AUGMENT).flow(images, labels, batch_size=4, seed=11), 5)
    second = take(ImageDataGenerator(**AUGMENT).flow(images, labels, batch_size=4, seed=11), 5)
    other = take(ImageDataGenerator(**AUGMENT).flow(images, labels, batch_size=4, seed=12), 5)
    for (xa, ya), (xb, yb) in zip(first, second):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other))


def test_epochs_visit_every_image_once_and_reshuffle(images):
    ids = np.arange(len(images))
    iterator = ImageDataGenerator().flow(images, ids, batch_size=4, seed=0)
    assert len(iterator) == math.ceil(len(images) / 4) == 2
    epochs = []
    for _ in range(3):
        batches = take(iterator, len(iterator))
        assert [len(y) for _, y in batches] == [4, 2]
        order = np.concatenate([y for _, y in batches])
        assert sorted(order.tolist()) == ids.tolist()
        for x, y in batches:
            np.testing.assert_array_equal(x, images[y])  # images stay with their labels
        epochs.append(order.tolist())
    assert len({tuple(e) for e in epochs}) > 1
    ordered = take(ImageDataGenerator().flow(images, ids, batch_size=4, shuffle=False), 3)
    assert [y.tolist() for _, y in ordered] == [[0, 1, 2, 3], [4, 5], [0, 1, 2, 3]]


def test_validation_split_subsets_are_disjoint_and_complete(rng):
    x = rng.uniform(0, 1, (23, 4, 4, 1)).astype(np.float32)
    ids = np.arange(23)
    gen = ImageDataGenerator(validation_split=0.3)
    seen = {}
    for subset in ('training', 'validation'):
        iterator = gen.flow(x, ids, batch_size=5, subset=subset, seed=1, ignore_class_split=True)
        seen[subset] = np.concatenate([y for _, y in take(iterator, len(iterator))])
    assert sorted(seen['validation'].tolist()) == list(range(6))  # int(23 * 0.3) first samples
    assert set(seen['training'].tolist()).isdisjoint(seen['validation'].tolist())
    assert sorted(np.concatenate([seen['training'], seen['validation']]).tolist()) == ids.tolist()
    # Keras refuses a split that leaves classes on one side only (every id is its own class here).
    with pytest.raises(ValueError, match='different classes.*ignore_class_split=True'):
        gen.flow(x, ids, subset='training')
    labels = np.arange(23) % 2
    assert len(gen.flow(x, labels, batch_size=5, subset='validation')) == 2


def test_flow_saves_every_image_without_changing_the_transforms(rng, tmp_path):
    pytest.importorskip('PIL')
    x = rng.uniform(0, 255, (5, 6, 6, 3)).astype(np.float32)
    gen = ImageDataGenerator(rotation_range=30, horizontal_flip=True, data_format=None, dtype=None)
    plain = next(gen.flow(x, batch_size=5, shuffle=False, seed=3))
    saved = next(gen.flow(x, batch_size=5, shuffle=False, seed=3, save_to_dir=str(tmp_path),
                          save_prefix='aug', save_format='jpeg'))
    np.testing.assert_array_equal(plain, saved)
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 5 and all(n.startswith('aug_') and n.endswith('.jpeg') for n in names)
    assert sorted(int(n.split('_')[1]) for n in names) == list(range(5))
    assert gen.dtype == np.float32 and gen.data_format == 'channels_last'


def test_flow_outputs_and_errors(images):
    gen = ImageDataGenerator(horizontal_flip=True)
    x_only = next(gen.flow(images, batch_size=2, seed=0))
    assert isinstance(x_only, np.ndarray) and x_only.shape == (2, 7, 9, 3)
    x, y, w = next(gen.flow(images, np.arange(6), sample_weight=np.ones(6), batch_size=3, seed=0))
    assert x.shape == (3, 7, 9, 3) and y.shape == w.shape == (3,)
    with pytest.raises(ValueError, match=r'x\[\.\.\., None\]'):
        gen.flow(images[..., 0])
    with pytest.raises(ValueError, match='validation_split'):
        gen.flow(images, subset='validation')
    with pytest.raises(ValueError, match='6 images but y has 5'):
        gen.flow(images, np.arange(5))
    with pytest.raises(ValueError, match='fill_mode'):
        ImageDataGenerator(fill_mode='mirror')


def test_get_random_transform_and_random_transform_are_seeded(images):
    gen = ImageDataGenerator(**AUGMENT)
    params = gen.get_random_transform(images[0].shape, seed=5)
    assert params == gen.get_random_transform(images[0].shape, seed=5)
    assert set(params) >= {'theta', 'tx', 'ty', 'zx', 'zy', 'flip_horizontal', 'brightness'}
    np.testing.assert_array_equal(gen.random_transform(images[0], seed=5), gen.apply_transform(images[0], params))


@pytest.mark.gpu
def test_cupy_backend_matches_numpy(images):
    cupy = pytest.importorskip('cupy')
    expected = take(ImageDataGenerator(**AUGMENT).flow(images, np.arange(6), batch_size=4, seed=2), 2)
    minidl.set_backend('cupy')
    try:
        got = take(ImageDataGenerator(**AUGMENT).flow(images, np.arange(6), batch_size=4, seed=2), 2)
    finally:
        minidl.set_backend('numpy')
    for (xe, ye), (xg, yg) in zip(expected, got):
        assert isinstance(xg, cupy.ndarray)
        np.testing.assert_allclose(cupy.asnumpy(xg), xe, atol=1e-3)
        np.testing.assert_array_equal(cupy.asnumpy(yg), ye)


def test_flow_with_other_inputs_equals_keras_legacy(rng):
    """``flow((images, other), y)``: the batches' x is [images, other], as in Keras' legacy generator."""
    legacy = pytest.importorskip('keras.src.legacy.preprocessing.image')
    x = rng.uniform(0, 255, (7, 4, 4, 3)).astype(np.float32)
    other, third = rng.standard_normal((7, 2)).astype(np.float32), np.arange(7)
    y = np.arange(7) % 2
    for misc in (other, [other, third]):
        ours = ImageDataGenerator(rescale=1 / 255).flow((x, misc), y, batch_size=3, shuffle=False)
        theirs = legacy.ImageDataGenerator(rescale=1 / 255).flow((x, misc), y, batch_size=3, shuffle=False)
        for _ in range(3):
            (xa, ya), (xb, yb) = next(ours), next(theirs)
            assert len(xa) == len(xb) == (2 if misc is other else 3)
            for a, b in zip(xa, xb):
                np.testing.assert_allclose(np.asarray(a), b, rtol=1e-6)
            np.testing.assert_array_equal(np.asarray(ya), yb)
    with pytest.raises(ValueError, match=r'x has 7 images but x\[1\]\[0\] has 6'):
        ImageDataGenerator().flow((x, other[:6]))
    val = ImageDataGenerator(validation_split=0.3).flow((x, other), y, batch_size=7, subset='validation')
    xs, _ = next(val)
    np.testing.assert_array_equal(np.asarray(xs[1]), other[:2])
