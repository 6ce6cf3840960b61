"""Random augmentation layers, active only in training (``training=True``, as ``fit`` calls the
model; identity at inference, except ``RandomCrop``, which then takes the central window):
``RandomFlip``, ``RandomRotation``, ``RandomZoom``, ``RandomTranslation``, ``RandomContrast``,
``RandomBrightness`` and ``RandomCrop``.

Each draws its random parameters for the whole batch at once (one per image, on the host, from
the layer's seeded generator, or minidl's when ``seed`` is None) and transforms the batch with
array operations, no loop over images: geometric layers build one affine transform per image
(Keras' matrices) and resample the batch through ``minidl.functional.image.affine_transform``;
colour layers are elementwise. Everything runs on the backend's array module (CuPy on the GPU)
and is differentiable with respect to the images.
"""
import numpy as np

from ... import backend
from ... import functional as F
from ...autograd import Tensor
from ...functional import image as image_ops
from .base import ImagePreprocessingLayer
from .image import _check_size, _output_shape

FILL_MODES = ('reflect', 'wrap', 'constant', 'nearest')
INTERPOLATIONS = ('nearest', 'bilinear')

HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL = 'horizontal', 'vertical', 'horizontal_and_vertical'


def _check_choice(layer, name, value, allowed):
    if value not in allowed:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {name} must be one of {allowed}, "
                         f'got {value!r}.')
    return value


class RandomFlip(ImagePreprocessingLayer):
    """Flips each image with probability 1/2: ``mode`` 'horizontal' (left-right), 'vertical'
    (up-down) or 'horizontal_and_vertical'. As in Keras 3, the last mode draws one coin per image
    for both axes, so an image is either left alone or turned by 180 degrees."""

    def __init__(self, mode=HORIZONTAL_AND_VERTICAL, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.mode = _check_choice(self, 'mode', mode, (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL))
        self.seed = seed

    def _transform(self, x, training):
        if not training:
            return x
        flips = self._random.host.random((x.shape[0], 1, 1, 1)) <= 0.5
        xp = backend.get_array_module(x.data)
        flips = xp.asarray(flips)
        y = x
        if self.mode in (HORIZONTAL, HORIZONTAL_AND_VERTICAL):
            y = F.where(flips, F.getitem(y, (slice(None), slice(None), slice(None, None, -1))), y)
        if self.mode in (VERTICAL, HORIZONTAL_AND_VERTICAL):
            y = F.where(flips, F.getitem(y, (slice(None), slice(None, None, -1))), y)
        return y

    def get_config(self):
        return {**super().get_config(), 'seed': self.seed, 'mode': self.mode}


class _AffineAugmentation(ImagePreprocessingLayer):
    """Layers that resample through a random affine transform per image."""

    def __init__(self, fill_mode='reflect', interpolation='bilinear', seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.fill_mode = _check_choice(self, 'fill_mode', fill_mode, FILL_MODES)
        self.interpolation = _check_choice(self, 'interpolation', interpolation, INTERPOLATIONS)
        self.fill_value = fill_value
        self.seed = seed

    def _transform(self, x, training):
        if not training:
            return x
        n, height, width, _ = x.shape
        transform = self._random_transform(n, height, width)
        return image_ops.affine_transform(x, transform, self.interpolation, self.fill_mode, self.fill_value)

    def _random_transform(self, n, height, width):
        raise NotImplementedError


def affine_matrix(angle_degrees, height, width, translate_x=0.0, translate_y=0.0, scale=1.0):
    """Keras' rotation (about the image centre) as (n, 8) transforms: output (col, row) reads the
    input at col' = a0 col + a1 row + a2, row' = b0 col + b1 row + b2."""
    angle = np.deg2rad(np.asarray(angle_degrees, dtype=np.float64))
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    cos, sin = np.cos(angle), np.sin(angle)
    a0, a1 = scale * cos, -scale * sin
    b0, b1 = scale * sin, scale * cos
    a2 = translate_x + cx - cx * a0 - cy * a1
    b2 = translate_y + cy - cx * b0 - cy * b1
    zeros = np.zeros_like(angle)
    return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def zoom_matrix(zx, zy, height, width):
    """Keras' zoom about the image centre as (n, 8) transforms: the source spans zx (zy) times the
    output's width (height), so factors above 1 zoom out."""
    zx, zy = np.asarray(zx, dtype=np.float64), np.asarray(zy, dtype=np.float64)
    zeros = np.zeros_like(zx)
    return np.stack([zx, zeros, (width - 1) / 2.0 * (1 - zx), zeros, zy, (height - 1) / 2.0 * (1 - zy),
                     zeros, zeros], axis=1)


def translation_matrix(dx, dy):
    """Keras' shift by (dx, dy) pixels (right, down) as (n, 8) transforms."""
    dx, dy = np.asarray(dx, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    ones, zeros = np.ones_like(dx), np.zeros_like(dx)
    return np.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], axis=1)


class RandomRotation(_AffineAugmentation):
    """Rotates each image about its centre by an angle drawn from ``factor`` (fractions of a full
    turn: 0.1 draws from [-36, 36] degrees, (-0.1, 0.2) from [-36, 72]); positive angles turn
    counter-clockwise. Pixels from outside the image follow ``fill_mode`` ('reflect', 'wrap',
    'constant' with ``fill_value``, 'nearest')."""
    factor_bounds = (-1, 1)

    def __init__(self, factor, fill_mode='reflect', interpolation='bilinear', seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = self._set_factor(factor)

    def _random_transform(self, n, height, width):
        lower, upper = self.factor[0] * 360.0, self.factor[1] * 360.0
        angle = self._random.host.uniform(lower, upper, n)
        return affine_matrix(angle, height, width)

    def get_config(self):
        return {**super().get_config(), 'factor': self.factor, 'fill_mode': self.fill_mode,
                'fill_value': self.fill_value, 'interpolation': self.interpolation, 'seed': self.seed}


def _zoom_or_shift_factor(layer, factor, name, open_low):
    """Keras' factor rule for zoom (-1, 1] and translation [-1, 1]: a number f -> (-|f|, |f|)."""
    message = (f"Layer '{layer.name}' ({type(layer).__name__}): {name} must be a number or a pair of numbers in "
               f"{'(-1, 1]' if open_low else '[-1, 1]'}, got {factor!r}.")

    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or value > 1 \
                or (value <= -1 if open_low else value < -1):
            raise ValueError(message)

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(message)
        check(factor[0])
        check(factor[1])
        return tuple(sorted(factor))
    check(factor)
    return (-abs(factor), abs(factor))


class RandomZoom(_AffineAugmentation):
    """Zooms each image about its centre: the height is scaled by 1 + z with z drawn from
    ``height_factor`` (a positive z zooms out, a negative one in: 0.2 draws from [-0.2, 0.2]), the
    width likewise from ``width_factor``, or by the same factor as the height when it is None
    (the aspect ratio kept)."""

    def __init__(self, height_factor, width_factor=None, fill_mode='reflect', interpolation='bilinear', seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _zoom_or_shift_factor(self, height_factor, 'height_factor', True)
        if width_factor is not None:
            self.width_lower, self.width_upper = _zoom_or_shift_factor(self, width_factor, 'width_factor', True)

    def _random_transform(self, n, height, width):
        rng = self._random.host
        zy = rng.uniform(1.0 + self.height_lower, 1.0 + self.height_upper, n)
        zx = rng.uniform(1.0 + self.width_lower, 1.0 + self.width_upper, n) if self.width_factor is not None else zy
        return zoom_matrix(zx, zy, height, width)

    def get_config(self):
        return {**super().get_config(), 'height_factor': self.height_factor, 'width_factor': self.width_factor,
                'fill_mode': self.fill_mode, 'interpolation': self.interpolation, 'seed': self.seed,
                'fill_value': self.fill_value}


class RandomTranslation(_AffineAugmentation):
    """Shifts each image by fractions of its size drawn from ``height_factor`` and ``width_factor``
    (0.1 draws a shift in [-10%, +10%]; positive moves the content down / right)."""

    def __init__(self, height_factor, width_factor, fill_mode='reflect', interpolation='bilinear', seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _zoom_or_shift_factor(self, height_factor, 'height_factor', False)
        self.width_lower, self.width_upper = _zoom_or_shift_factor(self, width_factor, 'width_factor', False)

    def _random_transform(self, n, height, width):
        rng = self._random.host
        dy = rng.uniform(self.height_lower, self.height_upper, n) * height
        dx = rng.uniform(self.width_lower, self.width_upper, n) * width
        return translation_matrix(dx, dy)

    def get_config(self):
        return {**super().get_config(), 'height_factor': self.height_factor, 'width_factor': self.width_factor,
                'fill_mode': self.fill_mode, 'interpolation': self.interpolation, 'seed': self.seed,
                'fill_value': self.fill_value}


def _value_range(layer, value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): value_range must be a pair "
                         f'(lowest, highest pixel value), got {value_range!r}.')
    return value_range


class RandomContrast(ImagePreprocessingLayer):
    """Scales each image's deviation from its own per-channel mean by a factor drawn from
    [1 - lower, 1 + upper], then clips to ``value_range``: y = (x - mean) * f + mean.

    ``factor`` follows Keras 3's rule for this layer (bounds [0, 1]): a number a gives
    (lower, upper) = (0, a), so the contrast only grows; a pair (a, b) gives (a, b), i.e.
    [1 - a, 1 + b]."""
    factor_bounds = (0, 1)

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = self._set_factor(factor)
        self.value_range = _value_range(self, value_range)
        self.seed = seed

    def _transform(self, x, training):
        if not training:
            return x
        xp = backend.get_array_module(x.data)
        f = self._random.host.uniform(1.0 - self.factor[0], 1.0 + self.factor[1], (x.shape[0], 1, 1, 1))
        mean = F.mean(x, axis=(1, 2), keepdims=True)
        y = (x - mean) * Tensor(xp.asarray(f.astype(x.dtype))) + mean
        return F.clip(y, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), 'factor': self.factor, 'value_range': self.value_range, 'seed': self.seed}


class RandomBrightness(ImagePreprocessingLayer):
    """Adds to each image a delta drawn from ``factor`` (fractions of the value range: 0.2 draws
    from [-0.2, 0.2] * (high - low)), then clips to ``value_range``."""
    factor_bounds = (-1, 1)

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = self._set_factor(factor)
        self.value_range = sorted(_value_range(self, value_range))
        self.seed = seed

    def _transform(self, x, training):
        if not training:
            return x
        xp = backend.get_array_module(x.data)
        low, high = self.value_range
        delta = self._random.host.uniform(self.factor[0], self.factor[1], (x.shape[0], 1, 1, 1)) * (high - low)
        return F.clip(x + Tensor(xp.asarray(delta.astype(x.dtype))), low, high)

    def get_config(self):
        return {**super().get_config(), 'factor': self.factor, 'value_range': self.value_range, 'seed': self.seed}


class RandomCrop(ImagePreprocessingLayer):
    """In training, a random (``height``, ``width``) window of the batch (one offset drawn per call,
    shared by the batch's images, as Keras does); at inference, or when an image is not larger
    than the target along both axes, the largest central window with the target's aspect ratio,
    resized to (``height``, ``width``) (bilinear).

    (Keras 3.15 returns the uncropped images at inference, against its own documentation and
    output shape; minidl does what the documentation says.)"""

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        if seed is None:
            seed = int(backend.rng().integers(0, 2 ** 31 - 1))   # Keras stores a drawn seed in the config
        super().__init__(data_format=data_format, seed=seed, name=name, **kwargs)
        _check_size(self, height, width)
        self.height, self.width = height, width
        self.seed = seed

    def _transform(self, x, training):
        _, height, width, _ = x.shape
        if training and height > self.height and width > self.width:
            rng = self._random.host
            top = int(rng.uniform(0, height - self.height + 1))
            left = int(rng.uniform(0, width - self.width + 1))
            return F.getitem(x, (slice(None), slice(top, top + self.height), slice(left, left + self.width)))
        return image_ops.resize(x, (self.height, self.width), 'bilinear', crop_to_aspect_ratio=True)

    def compute_output_shape(self, input_shape):
        return _output_shape(self, input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), 'height': self.height, 'width': self.width, 'seed': self.seed}
