"""Preprocessing layers: Rescaling, Normalization (adapt), Resizing, CenterCrop and the Random*
augmentation layers. Keras 3 is the oracle wherever it is deterministic (fixed parameters,
inference paths, the transforms Keras draws replayed through minidl); the random paths are checked
for their distributions, seeds and batch vectorisation; every layer's gradient is checked in
float64; configs have Keras' keys."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import layers as L, models
from minidl.autograd import Tensor
from minidl.functional import image as image_ops
from minidl.layers.preprocessing import augmentation
from minidl.testing import gradcheck


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def images(seed=0, shape=(3, 7, 9, 2), scale=255.0):
    return (np.random.default_rng(seed).random(shape) * scale).astype(np.float32)


def knp(keras, t):
    return keras.ops.convert_to_numpy(t)


# --- Rescaling and Normalization --------------------------------------------------------------------

@pytest.mark.parametrize('scale, offset', [(1 / 255, 0.0), (1 / 127.5, -1.0),
                                           (np.array([0.5, 2.0]), np.array([1.0, -1.0]))])
def test_rescaling_equals_keras(keras, scale, offset):
    x = images()
    want = knp(keras, keras.layers.Rescaling(scale, offset)(x))
    layer = L.Rescaling(scale, offset)
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(layer(x.astype(np.uint8)).numpy(), knp(keras, keras.layers.Rescaling(scale, offset)(
        x.astype(np.uint8))), rtol=1e-6)
    assert layer.get_config().keys() == keras.layers.Rescaling(scale, offset).get_config().keys()
    again = L.Rescaling.from_config(minidl.saving.serialize_keras_object(layer)['config'])
    np.testing.assert_allclose(again(x).numpy(), want, rtol=1e-6)
    gradcheck(lambda t: L.Rescaling(scale, offset)(t), x[:1, :2, :3].astype(np.float64))


@pytest.mark.parametrize('axis', [-1, (1, 3), None, 1])
def test_normalization_adapt_equals_keras(keras, axis):
    x = images(1, (6, 4, 5, 3), scale=10.0) + 3
    theirs = keras.layers.Normalization(axis=axis)
    theirs.adapt(x)
    ours = L.Normalization(axis=axis)
    ours.adapt(x)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    for a, b in zip(ours.get_weights()[:2], theirs.get_weights()[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    np.testing.assert_allclose(ours(x).numpy(), knp(keras, theirs(x)), rtol=1e-5, atol=1e-5)
    assert ours.count_params() == theirs.count_params()
    assert ours.get_config().keys() == theirs.get_config().keys()


def test_normalization_adapt_from_batches_equals_keras_and_one_array(keras):
    x = images(2, (10, 6), scale=5.0)
    batches = [x[:3], x[3:7], x[7:]]
    theirs = keras.layers.Normalization()
    theirs.adapt(batches)
    ours = L.Normalization()
    ours.adapt(iter(batches))
    whole = L.Normalization()
    whole.adapt(x)
    for a, b, c in zip(ours.get_weights()[:2], theirs.get_weights()[:2], whole.get_weights()[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-5)
        np.testing.assert_allclose(a, c, rtol=1e-5)
    pairs = L.Normalization()
    pairs.adapt([(b, np.zeros(len(b))) for b in batches])   # (x, y) batches: the x is used
    np.testing.assert_allclose(pairs.get_weights()[0], whole.get_weights()[0], rtol=1e-5)


@pytest.mark.parametrize('mean, variance, axis', [(2.0, 4.0, -1), ([1.0, 2.0, 3.0], [1.0, 4.0, 9.0], -1),
                                                  (np.ones((5, 3)), np.full((5, 3), 2.0), (2, 3))])
@pytest.mark.parametrize('invert', [False, True])
def test_normalization_given_statistics_and_invert_equal_keras(keras, mean, variance, axis, invert):
    x = images(3, (2, 4, 5, 3), scale=4.0)
    theirs = keras.layers.Normalization(axis=axis, mean=mean, variance=variance, invert=invert)
    ours = L.Normalization(axis=axis, mean=mean, variance=variance, invert=invert)
    np.testing.assert_allclose(ours(x).numpy(), knp(keras, theirs(x)), rtol=1e-5, atol=1e-5)
    assert ours.weights == [] and ours.get_config() == {**theirs.get_config(), 'name': ours.name}
    gradcheck(lambda t: L.Normalization(axis=axis, mean=mean, variance=variance, invert=invert)(t),
              x[:1].astype(np.float64))


def test_normalization_loads_keras_weights_and_errors():
    layer = L.Normalization()
    layer.build((None, 3))
    layer.set_weights([np.array([1.0, 2.0, 3.0]), np.array([4.0, 4.0, 4.0]), np.array(5)])
    assert layer(np.array([[3.0, 4.0, 5.0]], np.float32)).numpy().tolist() == [[1.0, 1.0, 1.0]]
    with pytest.raises(ValueError, match=r"Normalization.*both mean and variance"):
        L.Normalization(mean=1.0)
    with pytest.raises(ValueError, match=r"Normalization.*built for inputs of shape \(None, 3\).*\(4, 2\)"):
        layer.adapt(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"Normalization.*got no batches"):
        L.Normalization().adapt([])
    with pytest.raises(ValueError, match=r"Normalization.*given mean and variance"):
        L.Normalization(mean=1.0, variance=1.0).adapt(np.ones((2, 2)))


def test_normalization_in_a_model_keeps_its_statistics_in_the_weights():
    norm = L.Normalization()
    x = images(4, (20, 3))
    norm.adapt(x)
    model = models.Sequential([L.Input((3,)), norm, L.Dense(1)])
    assert [w.path for w in model.non_trainable_weights] == ['normalization/mean', 'normalization/variance',
                                                             'normalization/count']
    out = model.layers[0](x).numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-4)


# --- Resizing and CenterCrop -------------------------------------------------------------------------

RESIZES = [(3, 4), (14, 20), (7, 3), (1, 1), (10, 9)]


@pytest.mark.parametrize('size', RESIZES)
@pytest.mark.parametrize('options', [{}, {'antialias': True}, {'crop_to_aspect_ratio': True},
                                     {'pad_to_aspect_ratio': True, 'fill_value': 3.0}], ids=str)
def test_bilinear_resizing_equals_keras(keras, size, options):
    x = images()
    want = knp(keras, keras.layers.Resizing(*size, **options)(x))
    got = L.Resizing(*size, **options)(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize('size', RESIZES)
def test_nearest_resizing_equals_tensorflow_and_torch_nearest_exact(size):
    tf = pytest.importorskip('tensorflow')
    torch = pytest.importorskip('torch')
    x = images()
    got = L.Resizing(*size, interpolation='nearest')(x).numpy()
    np.testing.assert_array_equal(got, tf.image.resize(x, size, method='nearest').numpy())
    exact = torch.nn.functional.interpolate(torch.tensor(x).permute(0, 3, 1, 2), size=size, mode='nearest-exact')
    np.testing.assert_array_equal(got, exact.permute(0, 2, 3, 1).numpy())


@pytest.mark.parametrize('interpolation', ['bilinear', 'nearest'])
@pytest.mark.parametrize('options', [{}, {'antialias': True}, {'crop_to_aspect_ratio': True},
                                     {'pad_to_aspect_ratio': True}], ids=str)
def test_resizing_gradcheck(interpolation, options):
    x = np.random.default_rng(5).standard_normal((2, 5, 4, 2))
    gradcheck(lambda t: L.Resizing(3, 7, interpolation=interpolation, **options)(t), x)


def test_interpolation_matrices_are_averages():
    for n_in, n_out in ((5, 3), (3, 8), (7, 7), (9, 2)):
        for interpolation, antialias in (('bilinear', False), ('bilinear', True), ('nearest', False)):
            m = image_ops.interpolation_matrix(n_in, n_out, interpolation, antialias)
            assert m.shape == (n_out, n_in) and np.all(m >= 0)
            np.testing.assert_allclose(m.sum(axis=1), 1)


@pytest.mark.parametrize('size', [(3, 5), (7, 9), (9, 12), (2, 11)])
def test_center_crop_equals_keras(keras, size):
    x = images()
    want = knp(keras, keras.layers.CenterCrop(*size)(x))
    np.testing.assert_allclose(L.CenterCrop(*size)(x).numpy(), want, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(L.CenterCrop(*size)(x[0]).numpy(), knp(keras, keras.layers.CenterCrop(*size)(x[0])),
                               rtol=1e-5, atol=1e-3)
    gradcheck(lambda t: L.CenterCrop(*size)(t), x[:1].astype(np.float64) / 255)


def test_channels_first_is_channels_last_transposed():
    x = images()
    first = np.transpose(x, (0, 3, 1, 2))
    for make in (lambda f: L.Resizing(4, 5, data_format=f), lambda f: L.CenterCrop(3, 3, data_format=f),
                 lambda f: L.RandomRotation(0.2, seed=3, data_format=f),
                 lambda f: L.RandomFlip(seed=3, data_format=f)):
        last = make('channels_last')(x, training=True).numpy()
        got = make('channels_first')(first, training=True).numpy()
        np.testing.assert_allclose(np.transpose(got, (0, 2, 3, 1)), last, rtol=1e-6, atol=1e-4)
    assert L.Resizing(4, 5, data_format='channels_first').compute_output_shape((None, 2, 7, 9)) == (None, 2, 4, 5)


# --- affine resampling against Keras' own, on fixed transforms --------------------------------------

@pytest.mark.parametrize('fill_mode', ['constant', 'nearest', 'wrap', 'reflect'])
@pytest.mark.parametrize('interpolation', ['bilinear', 'nearest'])
def test_affine_transform_equals_keras(keras, fill_mode, interpolation):
    x = images(6)
    rng = np.random.default_rng(7)
    transform = np.concatenate([augmentation.affine_matrix(rng.uniform(-60, 60, 3), 7, 9, scale=1.3)[:, :6]
                                + rng.normal(0, 0.3, (3, 6)) * [0, 0, 4, 0, 0, 4], np.zeros((3, 2))], axis=1)
    want = knp(keras, keras.ops.image.affine_transform(x, transform.astype(np.float32), interpolation=interpolation,
                                                       fill_mode=fill_mode, fill_value=7.0))
    got = image_ops.affine_transform(Tensor(x), transform.astype(np.float32), interpolation, fill_mode, 7.0).numpy()
    if interpolation == 'nearest':  # a coordinate at exactly .5 may round either way in float32
        assert np.mean(np.isclose(got, want, atol=1e-3)) > 0.99
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-2)


@pytest.mark.parametrize('fill_mode', ['constant', 'nearest', 'wrap', 'reflect'])
@pytest.mark.parametrize('interpolation', ['bilinear', 'nearest'])
def test_affine_transform_gradcheck(fill_mode, interpolation):
    x = np.random.default_rng(8).standard_normal((2, 4, 5, 2))
    transform = augmentation.affine_matrix([25.0, -140.0], 4, 5, translate_x=0.7, translate_y=-1.3, scale=1.2)
    gradcheck(lambda t: image_ops.affine_transform(t, transform, interpolation, fill_mode, 0.5), x)


def test_affine_transform_quarter_turn_and_shift_are_exact():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    turned = image_ops.affine_transform(Tensor(x), augmentation.affine_matrix([90.0], 4, 4)).numpy()
    np.testing.assert_allclose(turned[0, ..., 0], np.rot90(x[0, ..., 0], 1), atol=1e-4)   # counter-clockwise
    shifted = image_ops.affine_transform(Tensor(x), augmentation.translation_matrix([1.0], [0.0]), 'nearest',
                                         'constant', -1.0).numpy()
    assert shifted[0, :, 0, 0].tolist() == [-1] * 4 and shifted[0, :, 1:, 0].tolist() == x[0, :, :3, 0].tolist()


def test_random_layers_replay_keras_transforms(keras):
    """Keras draws each layer's random parameters; the same parameters through minidl's matrices and
    resampling give Keras' images."""
    x = images(9)
    rot = keras.layers.RandomRotation(0.3, seed=1, fill_mode='reflect')
    t = rot.get_random_transformation(x, training=True)
    mine = augmentation.affine_matrix(knp(keras, t['angle']), 7, 9)
    np.testing.assert_allclose(mine, knp(keras, t['rotation_matrix']), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(image_ops.affine_transform(Tensor(x), mine, 'bilinear', 'reflect').numpy(),
                               knp(keras, rot.transform_images(x, t)), rtol=1e-4, atol=2e-2)
    zoom = keras.layers.RandomZoom((-0.3, 0.4), (0.1, 0.5), seed=2, fill_mode='constant')
    t = zoom.get_random_transformation(x, training=True)
    mine = augmentation.zoom_matrix(knp(keras, t['width_zoom'])[:, 0], knp(keras, t['height_zoom'])[:, 0], 7, 9)
    np.testing.assert_allclose(image_ops.affine_transform(Tensor(x), mine, 'bilinear', 'constant').numpy(),
                               knp(keras, zoom.transform_images(x, t)), rtol=1e-4, atol=2e-2)
    shift = keras.layers.RandomTranslation(0.3, (-0.2, 0.4), seed=3, fill_mode='wrap', interpolation='nearest')
    t = shift.get_random_transformation(x, training=True)
    d = knp(keras, t['translations'])
    mine = augmentation.translation_matrix(d[:, 0], d[:, 1])
    got = image_ops.affine_transform(Tensor(x), mine, 'nearest', 'wrap').numpy()
    assert np.mean(np.isclose(got, knp(keras, shift.transform_images(x, t)), atol=1e-3)) > 0.99


# --- the random layers: distributions, seeds, training only ---------------------------------------------

RANDOM_LAYERS = [
    lambda **k: L.RandomFlip(**k), lambda **k: L.RandomFlip('horizontal', **k),
    lambda **k: L.RandomFlip('vertical', **k),
    lambda **k: L.RandomRotation(0.2, **k), lambda **k: L.RandomRotation((-0.5, 0.1), fill_mode='constant', **k),
    lambda **k: L.RandomZoom(0.3, **k), lambda **k: L.RandomZoom((-0.2, 0.5), (0.1, 0.2), fill_mode='wrap', **k),
    lambda **k: L.RandomTranslation(0.2, 0.3, **k),
    lambda **k: L.RandomTranslation((-0.3, 0.1), 0.2, interpolation='nearest', fill_mode='nearest', **k),
    lambda **k: L.RandomContrast(0.4, **k), lambda **k: L.RandomContrast((0.2, 0.5), value_range=(0, 1), **k),
    lambda **k: L.RandomBrightness(0.3, **k), lambda **k: L.RandomBrightness((-0.2, 0.1), value_range=(0, 1), **k),
    lambda **k: L.RandomCrop(4, 5, **k),
]


@pytest.mark.parametrize('make', RANDOM_LAYERS)
def test_random_layers_are_identity_at_inference_seeded_and_fresh_per_call(make):
    x = images(10, (4, 7, 9, 2), scale=1.0)
    layer = make(seed=4)
    if not isinstance(layer, L.RandomCrop):
        assert layer(x, training=False).numpy().tolist() == x.tolist()
    a = make(seed=4)(x, training=True).numpy()
    b = make(seed=4)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    twice = make(seed=4)
    first, second = twice(x, training=True).numpy(), twice(x, training=True).numpy()
    assert not np.array_equal(first, second)
    assert first.shape == twice.compute_output_shape(x.shape)
    single = make(seed=4)(x[0], training=True)
    assert single.shape == first.shape[1:]


@pytest.mark.parametrize('make', RANDOM_LAYERS)
def test_random_layers_gradcheck(make):
    x = np.random.default_rng(11).random((2, 5, 6, 2)) * 0.8 + 0.1   # away from the value-range clips
    gradcheck(lambda t: make(seed=5)(t, training=True), x)


def test_random_flip_flips_half_the_images_exactly():
    x = images(12, (400, 3, 4, 1))
    y = L.RandomFlip('horizontal', seed=1)(x, training=True).numpy()
    flipped = np.all(y == x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(flipped | np.all(y == x, axis=(1, 2, 3)))
    assert flipped.mean() == pytest.approx(0.5, abs=0.07)
    both = L.RandomFlip(seed=2)(x, training=True).numpy()
    turned = np.all(both == x[:, ::-1, ::-1], axis=(1, 2, 3))
    assert np.all(turned | np.all(both == x, axis=(1, 2, 3))) and turned.mean() == pytest.approx(0.5, abs=0.07)


def test_random_flip_matches_keras_given_its_coins(keras):
    x = images(13)
    layer = keras.layers.RandomFlip('horizontal_and_vertical', seed=3)
    t = layer.get_random_transformation(x, training=True)
    coins = knp(keras, t['flips']).reshape(-1)
    want = knp(keras, layer.transform_images(x, t))
    np.testing.assert_allclose(want, np.where(coins[:, None, None, None], x[:, ::-1, ::-1], x))


def test_random_rotation_zoom_translation_parameters_follow_the_factors():
    rot = L.RandomRotation((-0.1, 0.25), seed=1)
    m = rot._random_transform(2000, 8, 8)
    angles = np.rad2deg(np.arctan2(m[:, 3], m[:, 0]))
    assert angles.min() >= -36 and angles.max() <= 90 and angles.mean() == pytest.approx(27, abs=2)
    zoom = L.RandomZoom(0.3, seed=2)
    m = zoom._random_transform(2000, 8, 8)
    assert np.all(m[:, 0] == m[:, 4]) and m[:, 0].min() >= 0.7 and m[:, 0].max() <= 1.3
    assert m[:, 0].mean() == pytest.approx(1, abs=0.02)
    shift = L.RandomTranslation((0.1, 0.2), -0.25, seed=3)
    m = shift._random_transform(2000, 10, 20)
    assert (-m[:, 5]).min() >= 1 and (-m[:, 5]).max() <= 2 and (-m[:, 2]).min() >= -5 and (-m[:, 2]).max() <= 5


def test_random_contrast_and_brightness_factors_and_clipping():
    x = images(14, (500, 4, 4, 3), scale=200.0) + 20
    y = L.RandomContrast((0.2, 0.5), seed=1)(x, training=True).numpy()
    mean = x.mean(axis=(1, 2), keepdims=True)
    inside = (y > 0) & (y < 255)
    factor = np.where(inside, (y - mean) / (x - mean), np.nan)
    per_image = np.nanmedian(factor.reshape(500, -1), axis=1)
    assert per_image.min() >= 0.8 - 1e-3 and per_image.max() <= 1.5 + 1e-3
    assert y.min() >= 0 and y.max() <= 255
    assert L.RandomContrast(0.3).factor == (0, 0.3)             # Keras 3's rule: a number only raises contrast
    z = L.RandomBrightness(0.1, seed=2)(x, training=True).numpy()
    delta = np.median((z - x).reshape(500, -1), axis=1)
    assert delta.min() >= -25.5 - 1e-3 and delta.max() <= 25.5 + 1e-3 and abs(delta.mean()) < 3
    assert z.min() >= 0 and z.max() <= 255


def test_random_crop_windows_and_inference(keras):
    x = images(15, (2, 7, 9, 1))
    layer = L.RandomCrop(4, 5, seed=3)
    offsets = set()
    for _ in range(200):
        y = layer(x, training=True).numpy()
        found = [(r, c) for r in range(4) for c in range(5) if np.array_equal(y, x[:, r:r + 4, c:c + 5])]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) == 20                                    # every window is reachable
    smart = knp(keras, keras.layers.CenterCrop(4, 5)(x))
    np.testing.assert_allclose(layer(x, training=False).numpy(), knp(keras, keras.ops.image.resize(
        x, (4, 5), crop_to_aspect_ratio=True)), rtol=1e-5, atol=1e-3)
    assert L.RandomCrop(4, 5)(x, training=False).shape == smart.shape
    small = L.RandomCrop(8, 10, seed=1)(x, training=True)        # larger than the image: resized instead
    assert small.shape == (2, 8, 10, 1)


def test_random_crop_config_keeps_a_drawn_seed():
    minidl.seed(3)
    a = L.RandomCrop(2, 2).get_config()['seed']
    minidl.seed(3)
    assert L.RandomCrop(2, 2).get_config()['seed'] == a and isinstance(a, int)


PREPROCESSING_CONFIGS = [
    ('Rescaling', {'scale': 0.5, 'offset': 1.0}), ('Normalization', {'axis': (1, 2)}),
    ('Normalization', {'mean': 1.0, 'variance': 2.0, 'invert': True}), ('CenterCrop', {'height': 2, 'width': 3}),
    ('Resizing', {'height': 2, 'width': 3, 'interpolation': 'nearest', 'crop_to_aspect_ratio': True}),
    ('RandomFlip', {'mode': 'vertical', 'seed': 1}), ('RandomRotation', {'factor': 0.1, 'fill_mode': 'constant'}),
    ('RandomZoom', {'height_factor': (-0.1, 0.2), 'width_factor': 0.3, 'interpolation': 'nearest'}),
    ('RandomTranslation', {'height_factor': 0.1, 'width_factor': (0.1, 0.2), 'fill_value': 1.0}),
    ('RandomContrast', {'factor': (0.1, 0.2), 'value_range': (0, 1)}), ('RandomBrightness', {'factor': 0.2}),
    ('RandomCrop', {'height': 2, 'width': 3, 'seed': 7}),
]


@pytest.mark.parametrize('cls, kwargs', PREPROCESSING_CONFIGS, ids=str)
def test_preprocessing_configs_equal_keras(keras, cls, kwargs):
    ours, theirs = getattr(L, cls)(**kwargs), getattr(keras.layers, cls)(**kwargs)
    assert ours.get_config().keys() == theirs.get_config().keys()
    for key, value in theirs.get_config().items():
        if key not in ('name', 'dtype'):
            ours_value = ours.get_config()[key]
            assert (list(ours_value) if isinstance(ours_value, tuple) else ours_value) == \
                (list(value) if isinstance(value, tuple) else value), key
    again = getattr(L, cls).from_config(theirs.get_config())
    assert again.get_config().keys() == ours.get_config().keys()


@pytest.mark.parametrize('make, message', [
    (lambda: L.RandomRotation(1.5), r"RandomRotation.*factor must be a number or a pair.*\[-1, 1\], got 1.5"),
    (lambda: L.RandomZoom(-1.0), r"RandomZoom.*height_factor.*\(-1, 1\]"),
    (lambda: L.RandomTranslation(0.1, (0.1, 0.2, 0.3)), r"RandomTranslation.*width_factor"),
    (lambda: L.RandomRotation(0.1, fill_mode='mirror'), r"RandomRotation.*fill_mode must be one of"),
    (lambda: L.RandomZoom(0.1, interpolation='bicubic'), r"RandomZoom.*interpolation must be one of"),
    (lambda: L.RandomFlip('diagonal'), r"RandomFlip.*mode must be one of"),
    (lambda: L.RandomContrast(1.5), r"RandomContrast.*\[0, 1\]"),
    (lambda: L.RandomBrightness(0.1, value_range=5), r"RandomBrightness.*value_range must be a pair"),
    (lambda: L.Resizing(4, 4, interpolation='lanczos3'), r"Resizing.*interpolation must be one of"),
    (lambda: L.Resizing(4, 0), r"Resizing.*width must be a positive int"),
    (lambda: L.Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), r"Resizing.*not both"),
    (lambda: L.CenterCrop(2, 2)(np.ones((2, 3))), r"CenterCrop.*expects images.*\(2, 3\)"),
    (lambda: L.RandomFlip(data_format='nhwc'), r"RandomFlip.*data_format"),
])
def test_preprocessing_errors_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_augmentation_inside_a_model_trains_and_predicts_deterministically():
    model = models.Sequential([
        L.Input((8, 8, 3)), L.Rescaling(1 / 255), L.RandomFlip('horizontal', seed=1), L.RandomRotation(0.1, seed=2),
        L.RandomZoom(0.1, seed=3), L.RandomTranslation(0.1, 0.1, seed=4), L.RandomContrast(0.2, value_range=(0, 1),
                                                                                            seed=5),
        L.RandomBrightness(0.1, value_range=(0, 1), seed=6), L.RandomCrop(6, 6, seed=7), L.Flatten(), L.Dense(2)])
    assert model.output_shape == (None, 2)
    x = images(16, (16, 8, 8, 3))
    y = np.arange(16) % 2
    model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy')
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history['loss']).all()
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


@given(seed=st.integers(0, 2 ** 16), angle=st.floats(-180, 180), zoom=st.floats(0.6, 1.6))
def test_affine_transform_of_constant_image_is_constant_inside(seed, angle, zoom):
    """Resampling never invents values: a constant image stays constant wherever it is read
    (fill modes other than 'constant' never read outside)."""
    x = np.full((1, 5, 6, 2), 3.5)
    for fill_mode in ('nearest', 'wrap', 'reflect'):
        m = augmentation.affine_matrix([angle], 5, 6, scale=zoom)
        y = image_ops.affine_transform(Tensor(x), m, 'bilinear', fill_mode).numpy()
        np.testing.assert_allclose(y, 3.5, rtol=1e-12)


@pytest.mark.gpu
def test_preprocessing_layers_on_cupy_match_numpy():
    cupy = pytest.importorskip('cupy')
    x = images(17, (4, 7, 9, 2), scale=1.0)
    makers = RANDOM_LAYERS + [lambda **k: L.Resizing(5, 4, antialias=True), lambda **k: L.CenterCrop(3, 4),
                              lambda **k: L.Rescaling(2.0, 1.0)]
    for make in makers:
        want = make(seed=3)(x, training=True).numpy()
        minidl.set_backend('cupy')
        try:
            got = make(seed=3)(cupy.asarray(x), training=True)
            assert isinstance(got.data, cupy.ndarray)
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
        finally:
            minidl.set_backend('numpy')


@given(n=st.integers(1, 2), h=st.integers(1, 6), w=st.integers(1, 6), c=st.integers(1, 3), oh=st.integers(1, 7),
       ow=st.integers(1, 7), interpolation=st.sampled_from(['bilinear', 'nearest']), antialias=st.booleans(),
       aspect=st.sampled_from([{}, {'crop_to_aspect_ratio': True}, {'pad_to_aspect_ratio': True}]),
       seed=st.integers(0, 2 ** 16))
def test_resize_gradcheck_on_drawn_shapes(n, h, w, c, oh, ow, interpolation, antialias, aspect, seed):
    x = np.random.default_rng(seed).standard_normal((n, h, w, c))
    y = image_ops.resize(Tensor(x), (oh, ow), interpolation, antialias, **aspect)
    assert y.shape == (n, oh, ow, c)
    gradcheck(lambda t: image_ops.resize(t, (oh, ow), interpolation, antialias, **aspect), x)


@given(n=st.integers(1, 2), h=st.integers(1, 5), w=st.integers(1, 5), c=st.integers(1, 2),
       interpolation=st.sampled_from(['bilinear', 'nearest']),
       fill_mode=st.sampled_from(['constant', 'nearest', 'wrap', 'reflect']), seed=st.integers(0, 2 ** 16))
def test_affine_transform_gradcheck_on_drawn_shapes_and_transforms(n, h, w, c, interpolation, fill_mode, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c))
    transform = np.concatenate([rng.normal(0, 1.2, (n, 6)), np.zeros((n, 2))], axis=1)
    # The sample points do not depend on x: the output is linear in x, with no kinks to avoid.
    gradcheck(lambda t: image_ops.affine_transform(t, transform, interpolation, fill_mode, 0.3), x)
