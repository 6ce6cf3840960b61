"""Real-time image augmentation with Keras' ``ImageDataGenerator`` interface.

Transforms are vectorised over the batch. Every random geometric change of one image
(rotation, shifts, shear, zoom, flips) is folded into one 2x2 matrix and offset, and the
whole batch is resampled at once: source coordinates for all output pixels of all images are
computed with array arithmetic and gathered with one fancy-index per interpolation corner
(nearest or bilinear), in cache-sized chunks of images on the CPU, with scratch arrays reused
from batch to batch. There is no Python loop over images, and the arrays belong to the
active backend, so under ``minidl.set_backend('cupy')`` augmentation runs on the GPU and
``flow`` yields CuPy arrays (``model.fit`` takes them as they are).

Geometry follows Keras: for output pixel ``p`` (row, column) relative to the image centre ``c``,
the source pixel is ``c + R(theta) Sh(shear) Z(zx, zy) F p + R(theta) (tx, ty)`` where ``F``
flips the axes chosen for flipping; ``tx`` shifts rows (height) and ``ty`` columns (width), so
a positive shift moves the content up / left. Unlike Keras (``size / 2 + 0.5``) the centre is
the true pixel centre ``(size - 1) / 2``, so flips and quarter turns are exact.
"""
import io
import math
import numbers
import os
import warnings

import numpy as np

from .. import backend

_FILL_MODES = ('constant', 'nearest', 'reflect', 'wrap')
_EPSILON = 1e-6


def _brightness(x, factor):
    """Keras' brightness shift (PIL's ImageEnhance on a 0-255 image), per image: an image within
    [0, 255] becomes clip(x * factor, 0, 255); any other is mapped to 0-255 from its own range
    [lo, hi] and back, i.e. lo + clip((x - lo) * factor, 0, hi - lo). PIL's rounding to uint8 is
    not reproduced."""
    xp = backend.get_array_module(x)
    lo, hi = x.min(axis=(1, 2, 3), keepdims=True), x.max(axis=(1, 2, 3), keepdims=True)
    own_range = (lo < 0) | (hi > 255)
    base = xp.where(own_range, lo, 0).astype(x.dtype)
    top = xp.where(own_range, hi - lo, 255).astype(x.dtype)
    x -= base
    x *= factor
    xp.clip(x, 0, top, out=x)
    x += base
    return x


def _as_pair(value, name):
    if isinstance(value, numbers.Number):
        return 1.0 - value, 1.0 + value
    if len(value) == 2:
        return float(value[0]), float(value[1])
    raise ValueError(f'{name} must be a number or a pair [lower, upper], got {value!r}.')


class ImageDataGenerator:
    """Batches of augmented, standardised images from NumPy arrays (Keras' arguments).

    Geometry: ``rotation_range`` (degrees), ``width_shift_range``/``height_shift_range``
    (fraction of the size if < 1, else pixels; an int draws whole pixels in ``[-n, n]``; a list
    draws one of its values), ``shear_range`` (degrees), ``zoom_range`` (``z`` or ``[lo, hi]``),
    ``horizontal_flip``/``vertical_flip`` (each with probability 1/2), ``fill_mode``
    ('nearest', 'constant' with ``cval``, 'reflect', 'wrap'), ``interpolation_order`` (0 nearest,
    1 bilinear). Intensity: ``brightness_range`` (a factor drawn from ``[lo, hi]`` multiplies the
    pixels, clipped to 0-255 as Keras does), ``channel_shift_range``. Standardisation, in this
    order: ``preprocessing_function`` (called on each image), ``rescale``, ``samplewise_center``,
    ``samplewise_std_normalization``, ``featurewise_center``, ``featurewise_std_normalization``,
    ``zca_whitening`` (the statistics and the whitening matrix come from ``fit``). As in Keras,
    ``zca_whitening`` turns ``featurewise_center`` on and ``featurewise_std_normalization`` off,
    and each ``*_std_normalization`` turns its ``*_center`` on (with a warning).
    ``validation_split`` reserves the first fraction of the data for ``flow(subset='validation')``
    (of each class folder for ``flow_from_directory``).
    """

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0, width_shift_range=0.0,
                 height_shift_range=0.0, brightness_range=None,
                 shear_range=0.0, zoom_range=0.0, channel_shift_range=0.0, fill_mode='nearest', cval=0.0,
                 horizontal_flip=False, vertical_flip=False, rescale=None, preprocessing_function=None,
                 data_format=None, validation_split=0.0, interpolation_order=1, dtype=None):
        if data_format not in (None, 'channels_last'):
            raise ValueError('minidl images are channels_last (n, height, width, channels); '
                             f'got data_format={data_format!r}.')
        if fill_mode not in _FILL_MODES:
            raise ValueError(f'fill_mode must be one of {_FILL_MODES}, got {fill_mode!r}.')
        if interpolation_order not in (0, 1):
            raise ValueError(f'interpolation_order must be 0 (nearest) or 1 (bilinear), got {interpolation_order!r}.')
        if not 0 <= validation_split < 1:
            raise ValueError(f'validation_split must be in [0, 1), got {validation_split}.')
        if brightness_range is not None and len(brightness_range) != 2:
            raise ValueError(f'brightness_range must be None or a pair [lower, upper], got {brightness_range!r}.')
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.brightness_range = tuple(brightness_range) if brightness_range is not None else None
        self.shear_range = shear_range
        self.zoom_range = _as_pair(zoom_range, 'zoom_range')
        self.channel_shift_range = channel_shift_range
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.validation_split = validation_split
        self.interpolation_order = interpolation_order
        self.dtype = np.dtype(dtype or 'float32')  # Keras: None is floatx(), float32
        self.data_format = 'channels_last'
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.mean = None
        self.std = None
        self.zca_whitening_matrix = None
        self._zca_on_device = None
        self._apply_keras_overrides()

    def _apply_keras_overrides(self):
        """Keras' implications between the standardisation options, each with Keras' warning (decided,
        as Keras does, on the arguments as given)."""
        center, std = self.featurewise_center, self.featurewise_std_normalization
        if self.zca_whitening:
            if not center:
                self.featurewise_center = True
                warnings.warn('This ImageDataGenerator specifies `zca_whitening`, which overrides setting of '
                              '`featurewise_center`.', stacklevel=3)
            if std:
                self.featurewise_std_normalization = False
                warnings.warn('This ImageDataGenerator specifies `zca_whitening` which overrides setting of '
                              '`featurewise_std_normalization`.', stacklevel=3)
        if std and not center:
            self.featurewise_center = True
            warnings.warn('This ImageDataGenerator specifies `featurewise_std_normalization`, which overrides '
                          'setting of `featurewise_center`.', stacklevel=3)
        if self.samplewise_std_normalization and not self.samplewise_center:
            self.samplewise_center = True
            warnings.warn('This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides '
                          'setting of `samplewise_center`.', stacklevel=3)

    # ------------------------------------------------------------------ random parameters

    def _random_params(self, n, height, width, rng):
        """Arrays of ``n`` random transform parameters (Keras' names), drawn from ``rng``."""
        def uniform(bound):
            return rng.uniform(-bound, bound, n) if bound else np.zeros(n)

        zoom_lo, zoom_hi = self.zoom_range
        zoom = (rng.uniform(zoom_lo, zoom_hi, (2, n)) if (zoom_lo, zoom_hi) != (1, 1) else np.ones((2, n)))
        return {
            'theta': uniform(self.rotation_range),
            'tx': self._shift(self.height_shift_range, height, n, rng),
            'ty': self._shift(self.width_shift_range, width, n, rng),
            'shear': uniform(self.shear_range),
            'zx': zoom[0],
            'zy': zoom[1],
            'flip_horizontal': rng.random(n) < 0.5 if self.horizontal_flip else np.zeros(n, bool),
            'flip_vertical': rng.random(n) < 0.5 if self.vertical_flip else np.zeros(n, bool),
            'channel_shift_intensity': uniform(self.channel_shift_range),
            'brightness': (rng.uniform(*self.brightness_range, n) if self.brightness_range else np.ones(n)),
        }

    @staticmethod
    def _shift(spec, size, n, rng):
        """Shifts in pixels: a float draws a fraction of ``size`` (< 1) or pixels; an int whole
        pixels in ``[-spec, spec]``; a list one of its values (in pixels, or fractions if all < 1)."""
        if isinstance(spec, (list, tuple, np.ndarray)):
            values = np.asarray(spec, dtype=np.float64)
            shift = rng.choice(values, n) * rng.choice([-1.0, 1.0], n)
            return shift * size if np.max(np.abs(values)) < 1 else shift
        if not spec:
            return np.zeros(n)
        if isinstance(spec, numbers.Integral):
            return rng.integers(-spec, spec + 1, n).astype(np.float64)
        shift = rng.uniform(-spec, spec, n)
        return shift * size if spec < 1 else shift

    def get_random_transform(self, img_shape, seed=None):
        """Random parameters for one image of shape ``(h, w, c)``, as a dict of numbers (Keras)."""
        params = self._random_params(1, img_shape[0], img_shape[1], np.random.default_rng(seed))
        return {k: v[0].item() for k, v in params.items()}

    # --------------------------------------------------------------------------- transforms

    def _affine(self, params):
        """Per-image 2x2 matrices ``A`` and offsets ``b`` with source = A (p - c) + c + b."""
        theta = np.deg2rad(params['theta'])
        shear = np.deg2rad(params['shear'])
        cos, sin = np.cos(theta), np.sin(theta)
        rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
        zeros, ones = np.zeros_like(shear), np.ones_like(shear)
        shear_m = np.stack([np.stack([ones, -np.sin(shear)], -1), np.stack([zeros, np.cos(shear)], -1)], -2)
        zoom = np.stack([np.stack([params['zx'], zeros], -1), np.stack([zeros, params['zy']], -1)], -2)
        flip = np.stack([np.stack([np.where(params['flip_vertical'], -1.0, 1.0), zeros], -1),
                         np.stack([zeros, np.where(params['flip_horizontal'], -1.0, 1.0)], -1)], -2)
        matrix = rotation @ shear_m @ zoom @ flip
        offset = (rotation @ np.stack([params['tx'], params['ty']], -1)[..., None])[..., 0]
        return matrix, offset

    def _transform_batch(self, x, params, ws=None):
        """The batch ``x`` (n, h, w, c) transformed by ``params``, as a new float array of the
        active backend (``x`` itself is left alone)."""
        xp = backend.xp()
        n, height, width, _ = x.shape
        matrix, offset = self._affine(params)
        if np.allclose(matrix, np.eye(2)) and not np.any(offset):
            out = xp.array(x, dtype=self.dtype)  # always a copy
        else:
            out = _resample(xp.asarray(x), matrix, offset, self.interpolation_order, self.fill_mode, self.cval,
                            self.dtype, ws)
        if np.any(params['channel_shift_intensity']):
            shift = xp.asarray(params['channel_shift_intensity'].astype(out.dtype)).reshape(n, 1, 1, 1)
            low = out.min(axis=(1, 2, 3), keepdims=True)
            high = out.max(axis=(1, 2, 3), keepdims=True)
            out += shift
            xp.clip(out, low, high, out=out)
        if np.any(params['brightness'] != 1):
            out = _brightness(out, xp.asarray(params['brightness'].astype(out.dtype)).reshape(n, 1, 1, 1))
        return out

    def apply_transform(self, x, transform_parameters):
        """Transform one image ``(h, w, c)`` with the given parameters (Keras' dict keys; missing
        keys mean no change)."""
        defaults = {'theta': 0.0, 'tx': 0.0, 'ty': 0.0, 'shear': 0.0, 'zx': 1.0, 'zy': 1.0,
                    'flip_horizontal': False, 'flip_vertical': False, 'channel_shift_intensity': 0.0,
                    'brightness': 1.0}
        unknown = set(transform_parameters) - set(defaults)
        if unknown:
            raise ValueError(f'apply_transform: unknown parameters {sorted(unknown)}; known: {sorted(defaults)}.')
        merged = {**defaults, **{k: v for k, v in transform_parameters.items() if v is not None}}
        params = {k: np.asarray([v]) for k, v in merged.items()}
        return self._transform_batch(self._as_float(x)[None], params)[0]

    def random_transform(self, x, seed=None):
        """One image ``(h, w, c)`` randomly transformed."""
        batch = self._as_float(x)[None]
        params = self._random_params(1, batch.shape[1], batch.shape[2], np.random.default_rng(seed))
        return self._transform_batch(batch, params)[0]

    def _as_float(self, x):
        """``x`` as an array of the active backend in the generator's float dtype."""
        return backend.as_array(x, dtype=self.dtype)

    # ------------------------------------------------------------------------ standardize

    def standardize(self, x):
        """Normalise one image ``(h, w, c)`` or a batch ``(n, h, w, c)`` (returns a new array)."""
        x = self._as_float(x)
        single = x.ndim == 3
        batch = x[None] if single else x
        batch = self._standardize_batch(batch.copy())
        return batch[0] if single else batch

    def _standardize_batch(self, x):
        xp = backend.get_array_module(x)
        if self.preprocessing_function is not None:
            x = xp.stack([xp.asarray(self.preprocessing_function(image), dtype=x.dtype) for image in x])
        if self.rescale:
            x *= x.dtype.type(self.rescale)
        if self.samplewise_center:
            x -= x.mean(axis=(1, 2, 3), keepdims=True)
        if self.samplewise_std_normalization:
            x /= x.std(axis=(1, 2, 3), keepdims=True) + _EPSILON
        if self.featurewise_center or self.featurewise_std_normalization or self.zca_whitening:
            if self.mean is None:
                raise ValueError('This ImageDataGenerator uses featurewise_center/featurewise_std_normalization/'
                                 'zca_whitening but fit() was not called: call datagen.fit(x_train) first.')
            if self.featurewise_center:
                x -= xp.asarray(self.mean, dtype=x.dtype)
            if self.featurewise_std_normalization:
                x /= xp.asarray(self.std, dtype=x.dtype) + _EPSILON
        if self.zca_whitening:
            x = (x.reshape(len(x), -1) @ self._zca_matrix(xp, x.dtype)).reshape(x.shape)
        return x

    def _zca_matrix(self, xp, dtype):
        """The whitening matrix on ``xp`` (moved to the GPU once)."""
        cached = self._zca_on_device
        if cached is None or cached[0] is not xp or cached[1].dtype != dtype:
            self._zca_on_device = (xp, xp.asarray(self.zca_whitening_matrix, dtype=dtype))
        return self._zca_on_device[1]

    def fit(self, x, augment=False, rounds=1, seed=None):
        """The statistics of ``x`` (n, h, w, c) for the featurewise options, in Keras' order: after
        ``rescale`` (and, with ``augment``, over ``rounds`` augmented copies), the per-channel
        mean; the per-channel std of the centred data; and for ``zca_whitening`` the matrix
        W = U diag(sqrt(n) / (s + zca_epsilon)) U^T from the SVD U diag(s) V^T of the centred
        (n, h*w*c) data, transposed, so that the whitened images x W have about unit covariance.
        """
        x = _check_images(backend.to_numpy(x), 'fit')
        x = x.astype(np.float64)
        if self.rescale:
            x = x * self.rescale
        if augment:
            rng = np.random.default_rng(seed)
            copies = []
            for _ in range(rounds):
                params = self._random_params(len(x), x.shape[1], x.shape[2], rng)
                copies.append(backend.to_numpy(self._transform_batch(x, params)).astype(np.float64))
            x = np.concatenate(copies)
        self.mean = x.mean(axis=(0, 1, 2)).reshape(1, 1, -1)
        x = x - self.mean
        self.std = x.std(axis=(0, 1, 2)).reshape(1, 1, -1)
        if self.featurewise_std_normalization:
            x = x / (self.std + _EPSILON)
        if self.zca_whitening:
            n = len(x)
            u, singular, _ = np.linalg.svd(x.reshape(n, -1).T, full_matrices=False)
            self.zca_whitening_matrix = (u * (np.sqrt(n) / (singular + self.zca_epsilon))) @ u.T
            self._zca_on_device = None
        return self

    # --------------------------------------------------------------------------------- flow

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix='', save_format='png', ignore_class_split=False, subset=None):
        """An endless iterator of ``(x_batch, y_batch)`` (or ``x_batch`` when ``y`` is None, or
        ``(x, y, w)`` with ``sample_weight``); ``len()`` is the number of batches per epoch.
        ``x`` may be ``(images, other)`` or ``(images, [others])``, as in Keras: the batch's x is
        then the list ``[images, other, ...]``, the other inputs untransformed.

        Each epoch visits every image once (reshuffled per epoch if ``shuffle``); the last
        batch may be smaller. ``seed`` fixes the shuffling and the random transforms.
        ``subset='validation'``/``'training'`` takes the first ``validation_split`` fraction of
        the data / the rest; as in Keras, both parts must hold the same classes unless
        ``ignore_class_split`` (labels sorted by class would otherwise validate on other classes).
        ``save_to_dir`` writes every batch's images there as ``<save_prefix>_<index>_<n>.<save_format>``.
        """
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle,
                                  sample_weight=sample_weight, seed=seed, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format,
                                  ignore_class_split=ignore_class_split, subset=subset)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode='rgb', classes=None,
                            class_mode='categorical', batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix='', save_format='png', follow_links=False, subset=None,
                            interpolation='nearest', keep_aspect_ratio=False):
        """Batches of augmented images read from class folders: ``directory/<class>/<image>``.

        The classes are the sorted sub-folder names (or ``classes``, in that order); images are
        found recursively (png, jpg, jpeg, bmp, ppm, tif, tiff), decoded by Pillow and resized to
        ``target_size`` with Pillow's ``interpolation`` (after a centred crop to the target's
        aspect ratio with ``keep_aspect_ratio``), then transformed and standardised as ``flow``
        does. ``class_mode``: 'categorical' (one-hot), 'binary' or 'sparse' (class indices),
        'input' (y = x, for autoencoders) or None (images only). ``subset`` 'training' /
        'validation' splits each class folder by ``validation_split`` (the first part is the
        validation set), as Keras does. ``save_to_dir`` writes every batch's images there."""
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 save_to_dir=save_to_dir, save_prefix=save_prefix, save_format=save_format,
                                 follow_links=follow_links, subset=subset, interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio)


def _check_images(x, where):
    if x.ndim != 4:
        hint = ' (for grayscale images add a channel axis: x[..., None])' if x.ndim == 3 else ''
        raise ValueError(f'ImageDataGenerator.{where} needs images shaped (n, height, width, channels), '
                         f'got shape {x.shape}{hint}.')
    return x


class NumpyArrayIterator:
    """Endless batches of augmented images from arrays; see ``ImageDataGenerator.flow``."""

    def __init__(self, x, y, generator, batch_size=32, shuffle=True, sample_weight=None, seed=None, subset=None,
                 save_to_dir=None, save_prefix='', save_format='png', ignore_class_split=False):
        misc = []
        if isinstance(x, (tuple, list)):  # Keras: (images, other input) or (images, [other inputs])
            if len(x) != 2:
                raise ValueError(f'flow: x as a tuple must be (images, array or list of arrays), got {len(x)} items.')
            x, misc = x[0], (list(x[1]) if isinstance(x[1], list) else [x[1]])
        x = _check_images(backend.to_numpy(x), 'flow')
        arrays = {'x': x, 'y': y, 'sample_weight': sample_weight}
        arrays.update({f'x[1][{i}]': m for i, m in enumerate(misc)})
        for name in arrays:
            if name != 'x' and arrays[name] is not None:
                arrays[name] = backend.to_numpy(arrays[name])
                if len(arrays[name]) != len(x):
                    raise ValueError(f'flow: x has {len(x)} images but {name} has {len(arrays[name])} entries.')
        if subset is not None:
            if subset not in ('training', 'validation'):
                raise ValueError(f"subset must be 'training' or 'validation', got {subset!r}.")
            if not generator.validation_split:
                raise ValueError('flow(subset=...) needs an ImageDataGenerator with validation_split > 0.')
            split = int(len(x) * generator.validation_split)
            labels = arrays['y']
            if labels is not None and not ignore_class_split and \
                    not np.array_equal(np.unique(labels[:split]), np.unique(labels[split:])):
                raise ValueError('flow: the training and validation subsets hold different classes after the '
                                 f'split at {split} of {len(x)} (validation_split={generator.validation_split}). '
                                 'If the arrays are sorted by label, shuffle them first; or pass '
                                 'ignore_class_split=True.')
            part = slice(0, split) if subset == 'validation' else slice(split, None)
            arrays = {k: (v[part] if v is not None else None) for k, v in arrays.items()}
        if len(arrays['x']) == 0:
            raise ValueError(f'flow: no images to iterate over (subset={subset!r}, '
                             f'validation_split={generator.validation_split}).')
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}.')
        self.x, self.y, self.sample_weight = arrays['x'], arrays['y'], arrays['sample_weight']
        self.x_misc = [arrays[f'x[1][{i}]'] for i in range(len(misc))]
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        self.generator = generator
        self.n = len(self.x)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        if seed is None:
            seed = int(backend.rng().integers(2 ** 63))
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.epoch = 0
        self.total_batches_seen = 0
        self._order = None
        self._position = 0
        self._workspace = _Workspace()

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __iter__(self):
        return self

    def reset(self):
        """Start a new epoch at the next batch."""
        self._order = None

    def _new_epoch(self):
        self._order = self._rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        self._position = 0
        self.epoch += 1

    def __next__(self):
        if self._order is None or self._position >= self.n:
            self._new_epoch()
        index = self._order[self._position:self._position + self.batch_size]
        self._position += self.batch_size
        self.total_batches_seen += 1
        return self._batch(index)

    def _batch(self, index):
        gen = self.generator
        source = self.x[index]
        params = gen._random_params(len(index), source.shape[1], source.shape[2], self._rng)
        x = gen._standardize_batch(gen._transform_batch(source, params, self._workspace))
        self._save(x, index)
        if self.x_misc:  # the other inputs pass through untransformed, as in Keras
            x = [x] + [backend.as_array(m[index]) for m in self.x_misc]
        if self.y is None:
            return x
        y = backend.as_array(self.y[index])
        if self.sample_weight is None:
            return x, y
        return x, y, backend.as_array(self.sample_weight[index])


    def _save(self, x, index):
        """With ``save_to_dir``: each image of the batch as ``<prefix>_<index>_<n>.<format>`` (Keras' names;
        ``n`` a random number so that later epochs do not overwrite)."""
        if not self.save_to_dir:
            return
        if getattr(self, '_names_rng', None) is None:  # its own stream: saving does not change the transforms
            self._names_rng = np.random.default_rng([self.seed, 1])
        for k, j in enumerate(index):
            name = f'{self.save_prefix}_{j}_{int(self._names_rng.integers(10 ** 7))}.{self.save_format}'
            save_img(os.path.join(self.save_to_dir, name), x[k], file_format=self.save_format)


# ------------------------------------------------------------------------------ resampling

class _Workspace:
    """Resamplers (with their scratch arrays) kept from batch to batch.

    Fresh multi-megabyte temporaries are slow: the allocator hands their pages back to the
    system and every new batch pays the page faults again. Reusing buffers keeps resampling
    memory-bound instead. Not shared between threads.
    """

    def __init__(self):
        self._resamplers = {}

    def resampler(self, shape, dtype, fill_mode, xp):
        key = (tuple(shape), np.dtype(dtype).str, fill_mode, xp.__name__)
        if key not in self._resamplers:
            self._resamplers[key] = _Resampler(shape, dtype, fill_mode, xp)
        return self._resamplers[key]


_CHUNK_VALUES = 1 << 16  # values per image chunk: keeps a chunk's scratch arrays in the CPU cache


def _resample(x, matrix, offset, order, fill_mode, cval, dtype, ws=None):
    """``out[k, r, c] = x[k](A_k ((r, c) - centre) + centre + b_k)`` for the whole batch.

    Order 0 takes the nearest source pixel, order 1 interpolates the four neighbours
    bilinearly; source pixels outside the image follow ``fill_mode``. Returns a new array of
    float ``dtype`` (``x`` may have any dtype, e.g. uint8: it is converted chunk by chunk).
    On the CPU the batch is processed in chunks of a few images (array operations over the
    chunk, no per-image loop) whose scratch arrays, kept in ``ws``, stay in the CPU cache.
    """
    xp = backend.get_array_module(x)
    ws = ws or _Workspace()
    x = xp.ascontiguousarray(x)
    n = x.shape[0]
    result = xp.empty(x.shape, dtype=dtype)
    step = n if xp is not np else max(1, _CHUNK_VALUES // int(np.prod(x.shape[1:])))
    a = xp.asarray(matrix.astype(dtype))
    b = xp.asarray(offset.astype(dtype))
    for start in range(0, n, step):
        part = slice(start, min(start + step, n))
        chunk = x[part]
        resampler = ws.resampler(chunk.shape, dtype, fill_mode, xp)
        resampler(chunk, a[part], b[part], order, cval, result[part])
    return result


class _Resampler:
    """Resampling of batches of one shape, with preallocated scratch arrays."""

    def __init__(self, shape, dtype, fill_mode, xp):
        n, height, width, channels = shape
        self.xp, self.fill_mode, self.shape = xp, fill_mode, tuple(shape)
        ftype, itype = np.dtype(dtype), np.intp  # the index type NumPy's take uses without a conversion
        plane = (n, height, width)
        centre_r, centre_c = (height - 1) / 2.0, (width - 1) / 2.0
        self.centre = xp.asarray(np.array([centre_r, centre_c], dtype=ftype))
        self.pr = (xp.arange(height, dtype=ftype) - ftype.type(centre_r)).reshape(1, height, 1)
        self.pc = (xp.arange(width, dtype=ftype) - ftype.type(centre_c)).reshape(1, 1, width)
        self.rows, self.cols, self.floor = (xp.empty(plane, ftype) for _ in range(3))
        (self.corner_r, self.corner_c, self.shifted, self.scratch,
         self.row0, self.row1, self.col0, self.col1) = (xp.empty(plane, itype) for _ in range(8))
        self.index = xp.empty(plane, np.intp)
        self.right, self.bottom = xp.empty(shape, ftype), xp.empty(shape, ftype)
        # Weights repeated over the channels: broadcasting a size-1 innermost axis is slow in NumPy.
        self.fr, self.fc = ((xp.empty(shape, ftype) for _ in range(2)) if channels > 1
                            else (self.rows[..., None], self.cols[..., None]))
        padded = (height + 2, width + 2) if fill_mode == 'constant' else (height, width)
        # The chunk in the working dtype: with a border of cval pixels for fill_mode 'constant'.
        self.source = xp.empty((n,) + padded + (channels,), ftype)
        self.base = (xp.arange(n, dtype=itype) * itype(padded[0] * padded[1])).reshape(n, 1, 1)
        self.row_stride = itype(padded[1])

    def _map(self, i, size, out):
        """Integer coordinates ``i`` outside ``[0, size)`` mapped back by the fill mode, into ``out``."""
        xp = self.xp
        if self.fill_mode == 'nearest':
            return xp.minimum(xp.maximum(i, 0, out=out), size - 1, out=out)
        if self.fill_mode == 'wrap':
            return xp.remainder(i, size, out=out)
        if self.fill_mode == 'reflect':  # half-sample symmetric: ... c b a | a b c | c b a ...
            xp.remainder(i, 2 * size, out=out)
            mirrored = xp.subtract(2 * size - 1, out, out=self.scratch)
            xp.copyto(out, mirrored, where=out >= size)
            return out
        xp.add(i, 1, out=out)  # constant: index into the image padded by one pixel of cval
        return xp.minimum(xp.maximum(out, 0, out=out), size + 1, out=out)

    def _gather(self, pixels, row, col, out):
        """Source pixels at ``row + col`` (all channels at once) into ``out`` (n, h, w, channels)."""
        xp = self.xp
        xp.add(row, col, out=self.index)
        if xp is np:
            # Whole pixels as opaque records: NumPy copies each with one memcpy. The indices are
            # in range; mode='raise' would make NumPy buffer ``out``.
            np.take(pixels, self.index, out=_records(out).reshape(self.index.shape), mode='clip')
        else:
            xp.take(pixels, self.index, axis=0, out=out)
        return out

    def __call__(self, x, a, b, order, cval, result):
        """Resample the chunk ``x`` with matrices ``a`` (n, 2, 2) and offsets ``b`` (n, 2) into ``result``."""
        xp = self.xp
        _, height, width, channels = self.shape
        # Source coordinates of every output pixel: rows = a00 pr + a01 pc + centre_r + b0, cols alike.
        b = b + self.centre
        xp.add(a[:, 0, 0, None, None] * self.pr + b[:, 0, None, None], a[:, 0, 1, None, None] * self.pc,
               out=self.rows)
        xp.add(a[:, 1, 0, None, None] * self.pr + b[:, 1, None, None], a[:, 1, 1, None, None] * self.pc,
               out=self.cols)
        if order == 0:
            self.rows += self.rows.dtype.type(0.5)
            self.cols += self.cols.dtype.type(0.5)
        # Integer corners (floor) and, in place of the coordinates, the fractional parts.
        for coords, corner in ((self.rows, self.corner_r), (self.cols, self.corner_c)):
            xp.floor(coords, out=self.floor)
            xp.copyto(corner, self.floor, casting='unsafe')
            coords -= self.floor
        if self.fill_mode == 'constant':
            self.source.fill(cval)
            self.source[:, 1:-1, 1:-1] = x
            x = self.source
        elif x.dtype != self.source.dtype:
            self.source[...] = x
            x = self.source
        pixels = _records(x) if xp is np else x.reshape(-1, channels)  # one entry per source pixel

        def row_offsets(step, out):
            self._map(xp.add(self.corner_r, step, out=self.shifted), height, out)
            out *= self.row_stride
            out += self.base
            return out

        def col_offsets(step, out):
            return self._map(xp.add(self.corner_c, step, out=self.shifted), width, out)

        row0, col0 = row_offsets(0, self.row0), col_offsets(0, self.col0)
        self._gather(pixels, row0, col0, result)
        if order == 0:
            return
        row1, col1 = row_offsets(1, self.row1), col_offsets(1, self.col1)
        fr, fc = self.fr, self.fc
        if channels > 1:
            for k in range(channels):
                fr[..., k] = self.rows
                fc[..., k] = self.cols
        # Bilinear: top = tl + fc (tr - tl); bottom = bl + fc (br - bl); out = top + fr (bottom - top).
        right = self._gather(pixels, row0, col1, self.right)
        right -= result
        right *= fc
        result += right
        bottom = self._gather(pixels, row1, col0, self.bottom)
        right = self._gather(pixels, row1, col1, self.right)
        right -= bottom
        right *= fc
        bottom += right
        bottom -= result
        bottom *= fr
        result += bottom


def _records(x):
    """A C-contiguous NumPy array (..., channels) viewed as a flat array of one record per pixel."""
    return x.reshape(-1, x.shape[-1]).view(np.dtype((np.void, x.shape[-1] * x.itemsize))).reshape(-1)


# ------------------------------------------------------------------------- image files (Pillow)

WHITE_LIST_FORMATS = ('png', 'jpg', 'jpeg', 'bmp', 'ppm', 'tif', 'tiff')
_COLOR_MODES = {'rgb': 3, 'rgba': 4, 'grayscale': 1}


def pil_image():
    """Pillow's ``PIL.Image``, imported on first use (Pillow is an optional dependency)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError('Reading and writing image files needs Pillow, which is not installed: '
                          'pip install pillow (or pip install "minidl[images]").') from None
    return Image


def _pil_resample(interpolation):
    image = pil_image()
    methods = {'nearest': 'NEAREST', 'bilinear': 'BILINEAR', 'bicubic': 'BICUBIC', 'hamming': 'HAMMING',
               'box': 'BOX', 'lanczos': 'LANCZOS'}
    if interpolation not in methods:
        raise ValueError(f'Invalid interpolation {interpolation!r}: choose one of {", ".join(methods)}.')
    resampling = getattr(image, 'Resampling', image)
    return getattr(resampling, methods[interpolation])


def load_img(path, color_mode='rgb', target_size=None, interpolation='nearest', keep_aspect_ratio=False):
    """A Pillow image read from ``path`` (Keras' ``load_img``): converted to ``color_mode``
    ('rgb', 'rgba' or 'grayscale') and, with ``target_size`` (height, width), resized by Pillow
    with ``interpolation`` (after a centred crop to the target's aspect ratio with
    ``keep_aspect_ratio``)."""
    image = pil_image()
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    try:
        with open(path, 'rb') as f:
            img = image.open(io.BytesIO(f.read()))
            img.load()
    except OSError as exc:
        raise OSError(f'Could not read the image file {path!r}: {exc}') from None
    if color_mode == 'grayscale':
        if img.mode not in ('L', 'I;16', 'I'):
            img = img.convert('L')
    elif color_mode == 'rgba':
        if img.mode != 'RGBA':
            img = img.convert('RGBA')
    elif color_mode == 'rgb':
        if img.mode != 'RGB':
            img = img.convert('RGB')
    else:
        raise ValueError(f"color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}.")
    if target_size is not None:
        size = (int(target_size[1]), int(target_size[0]))   # Pillow's (width, height)
        if img.size != size:
            resample = _pil_resample(interpolation)
            if keep_aspect_ratio:
                width, height = img.size
                crop_h = min(height, (width * size[1]) // size[0])
                crop_w = min(width, (height * size[0]) // size[1])
                top, left = (height - crop_h) // 2, (width - crop_w) // 2
                img = img.resize(size, resample, box=[left, top, left + crop_w, top + crop_h])
            else:
                img = img.resize(size, resample)
    return img


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image as a float32 array (height, width, channels) (channels first on request)."""
    x = np.asarray(img, dtype=np.dtype(dtype or 'float32'))
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise ValueError(f'img_to_array: unsupported image shape {x.shape}.')
    return np.transpose(x, (2, 0, 1)) if data_format == 'channels_first' else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """An array (height, width, channels) as a Pillow image; ``scale`` maps its range to 0-255."""
    image = pil_image()
    x = np.asarray(backend.to_numpy(x), dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f'array_to_img expects an image (height, width, channels), got shape {x.shape}.')
    if data_format == 'channels_first':
        x = np.transpose(x, (1, 2, 0))
    if scale:
        x = x - x.min()
        top = x.max()
        if top != 0:
            x = x / top
        x = x * 255
    channels = x.shape[2]
    modes = {1: 'L', 3: 'RGB', 4: 'RGBA'}
    if channels not in modes:
        raise ValueError(f'array_to_img: unsupported number of channels {channels} (1, 3 or 4).')
    pixels = x.astype(np.uint8)
    return image.fromarray(pixels[..., 0] if channels == 1 else pixels, modes[channels])


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write an array as an image file (atomically: a temporary file renamed into place)."""
    from ..atomic import atomic_path
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == 'RGBA' and (file_format == 'jpg' or file_format == 'jpeg'
                               or str(path).lower().endswith(('.jpg', '.jpeg'))):
        img = img.convert('RGB')
    fmt = file_format or os.path.splitext(str(path))[1].lstrip('.') or 'png'
    fmt = {'jpg': 'jpeg', 'tif': 'tiff'}.get(fmt.lower(), fmt.lower())
    with atomic_path(str(path)) as tmp:
        img.save(tmp, format=fmt, **kwargs)


def _iter_valid_files(directory, formats, follow_links):
    """(root, file name) of the image files under ``directory``, folders and names sorted."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda t: t[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield root, name


def _class_folders(directory, classes, where, skip_hidden=False):
    """The class sub-folders of ``directory``, sorted (hidden ones too unless ``skip_hidden``: Keras'
    legacy generator counts them, ``image_dataset_from_directory`` does not), or ``classes``."""
    if not os.path.isdir(directory):
        raise ValueError(f'{where}: {directory!r} is not a folder. Give a folder with one sub-folder per class '
                         '(directory/<class_name>/<image files>).')
    found = [d for d in sorted(os.listdir(directory))
             if os.path.isdir(os.path.join(directory, d)) and not (skip_hidden and d.startswith('.'))]
    if classes:
        missing = [c for c in classes if c not in found]
        if missing:
            raise ValueError(f'{where}: the classes {missing} have no sub-folder in {directory!r} '
                             f'(sub-folders: {found}).')
        return list(classes)
    return found


class DirectoryIterator(NumpyArrayIterator):
    """Endless batches of augmented images from class folders; see
    ``ImageDataGenerator.flow_from_directory``. Attributes as Keras': ``class_indices``,
    ``classes`` (the label of every file), ``filenames`` (relative to ``directory``),
    ``filepaths``, ``samples``, ``num_classes``, ``image_shape``."""
    allowed_class_modes = ('categorical', 'binary', 'sparse', 'input', None)

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode='rgb', classes=None,
                 class_mode='categorical', batch_size=32, shuffle=True, seed=None, data_format=None,
                 save_to_dir=None, save_prefix='', save_format='png', follow_links=False, subset=None,
                 interpolation='nearest', keep_aspect_ratio=False, dtype=None):
        if color_mode not in _COLOR_MODES:
            raise ValueError(f"flow_from_directory: color_mode must be 'rgb', 'rgba' or 'grayscale', got "
                             f'{color_mode!r}.')
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f'flow_from_directory: class_mode must be one of {self.allowed_class_modes}, got '
                             f'{class_mode!r}.')
        if data_format not in (None, 'channels_last'):
            raise ValueError(f'flow_from_directory: minidl images are channels_last, got data_format={data_format!r}.')
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}.')
        _pil_resample(interpolation)
        split = None
        if subset is not None:
            fraction = image_data_generator.validation_split
            if subset not in ('training', 'validation'):
                raise ValueError(f"subset must be 'training' or 'validation', got {subset!r}.")
            if not fraction:
                raise ValueError('flow_from_directory(subset=...) needs an ImageDataGenerator with '
                                 'validation_split > 0.')
            split = (0.0, fraction) if subset == 'validation' else (fraction, 1.0)
        self.directory = directory
        self.generator = image_data_generator
        self.target_size = tuple(int(d) for d in target_size)
        self.color_mode, self.class_mode = color_mode, class_mode
        self.interpolation, self.keep_aspect_ratio = interpolation, keep_aspect_ratio
        self.data_format = 'channels_last'
        self.dtype = np.dtype(dtype or image_data_generator.dtype)
        self.image_shape = self.target_size + (_COLOR_MODES[color_mode],)
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        self.subset, self.split = subset, split
        names = _class_folders(directory, classes, 'flow_from_directory')
        self.class_indices = {name: i for i, name in enumerate(names)}
        self.num_classes = len(names)
        self.filenames, labels = [], []
        for name in names:
            files = list(_iter_valid_files(os.path.join(directory, name), WHITE_LIST_FORMATS, follow_links))
            if split is not None:
                files = files[int(split[0] * len(files)):int(split[1] * len(files))]
            for root, fname in files:
                self.filenames.append(os.path.join(name, os.path.relpath(os.path.join(root, fname),
                                                                         os.path.join(directory, name))))
                labels.append(self.class_indices[name])
        self.classes = np.asarray(labels, dtype=np.int32)
        self.samples = len(self.filenames)
        self.filepaths = [os.path.join(directory, f) for f in self.filenames]
        print(f'Found {self.samples} images belonging to {self.num_classes} classes.')
        self.x = self.y = self.sample_weight = None
        self.x_misc = []
        self.n = self.samples
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(backend.rng().integers(2 ** 63)) if seed is None else seed
        self._rng = np.random.default_rng(self.seed)
        self.epoch = 0
        self.total_batches_seen = 0
        self._order = None
        self._position = 0
        self._workspace = _Workspace()

    @property
    def labels(self):
        return self.classes

    def __next__(self):
        if self.n == 0:
            raise ValueError(f'flow_from_directory: no images found in {self.directory!r} (formats: '
                             f'{", ".join(WHITE_LIST_FORMATS)}).')
        return super().__next__()

    def __getitem__(self, index):
        """Batch ``index`` of the current epoch's order (Keras' Sequence access)."""
        if not 0 <= index < len(self):
            raise IndexError(f'DirectoryIterator has {len(self)} batches; batch {index} does not exist.')
        if self._order is None:
            self._new_epoch()
        return self._batch(self._order[index * self.batch_size:(index + 1) * self.batch_size])

    def on_epoch_end(self):
        self._new_epoch()

    def _load(self, index):
        """The images ``index`` decoded and resized, as one (n, h, w, c) float array."""
        batch = np.empty((len(index),) + self.image_shape, dtype=self.dtype)
        for i, j in enumerate(index):
            img = load_img(self.filepaths[j], color_mode=self.color_mode, target_size=self.target_size,
                           interpolation=self.interpolation, keep_aspect_ratio=self.keep_aspect_ratio)
            batch[i] = img_to_array(img, dtype=self.dtype)
            img.close()
        return batch

    def _batch(self, index):
        gen = self.generator
        source = self._load(index)
        params = gen._random_params(len(index), source.shape[1], source.shape[2], self._rng)
        x = gen._standardize_batch(gen._transform_batch(source, params, self._workspace))
        self._save(x, index)
        if self.class_mode == 'input':
            return x, x.copy()
        if self.class_mode in ('binary', 'sparse'):
            return x, backend.as_array(self.classes[index].astype(self.dtype))
        if self.class_mode == 'categorical':
            y = np.zeros((len(index), self.num_classes), dtype=self.dtype)
            y[np.arange(len(index)), self.classes[index]] = 1
            return x, backend.as_array(y)
        return x
