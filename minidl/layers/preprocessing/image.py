"""Deterministic image layers: ``Resizing`` (bilinear or nearest, optionally antialiased, cropped or
padded to the target's aspect ratio) and ``CenterCrop``. Both work in training and inference; the
resampling itself is ``minidl.functional.image.resize`` (two matrix products, differentiable)."""
from ... import functional as F
from ...functional import image as image_ops
from .base import ImagePreprocessingLayer

INTERPOLATIONS = ('bilinear', 'nearest')


def _check_size(layer, height, width):
    for name, value in (('height', height), ('width', width)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {name} must be a positive int, "
                             f'got {value!r}.')


def _output_shape(layer, input_shape, height, width):
    shape = list(input_shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) expects a rank-3 (single image) or rank-4 "
                         f'(batch) input shape, got {tuple(input_shape)}.')
    h_axis, w_axis = layer._spatial_axes(len(shape))
    shape[h_axis], shape[w_axis] = height, width
    return tuple(shape)


class Resizing(ImagePreprocessingLayer):
    """Resize images to (``height``, ``width``) with half-pixel centres (TensorFlow's and PyTorch's
    ``align_corners=False`` convention; Keras 2 and 3 on TensorFlow give the same numbers).

    ``interpolation``: 'bilinear' or 'nearest' (TensorFlow's nearest: the pixel under each output
    centre; Keras 3 on PyTorch uses PyTorch's older rule instead, off by half a pixel).
    ``antialias``: widen the bilinear filter when shrinking, so every input pixel counts.
    ``crop_to_aspect_ratio``: first take the largest centred window with the target's aspect ratio
    (no distortion); ``pad_to_aspect_ratio``: pad evenly with ``fill_value`` to it instead."""

    def __init__(self, height, width, interpolation='bilinear', crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                 fill_mode='constant', fill_value=0.0, antialias=False, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        _check_size(self, height, width)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"Layer '{self.name}' (Resizing): interpolation must be one of {INTERPOLATIONS}, got "
                             f'{interpolation!r} (bicubic, area and lanczos are not implemented in minidl).')
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"Layer '{self.name}' (Resizing): give crop_to_aspect_ratio or pad_to_aspect_ratio, "
                             'not both.')
        if fill_mode != 'constant':
            raise ValueError(f"Layer '{self.name}' (Resizing): fill_mode must be 'constant' (the padding of "
                             f'pad_to_aspect_ratio), got {fill_mode!r}.')
        self.height, self.width = height, width
        self.interpolation = interpolation
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = crop_to_aspect_ratio, pad_to_aspect_ratio
        self.fill_mode, self.fill_value = fill_mode, fill_value
        self.antialias = bool(antialias)

    def _transform(self, x, training):
        return image_ops.resize(x, (self.height, self.width), self.interpolation, self.antialias,
                                self.crop_to_aspect_ratio, self.pad_to_aspect_ratio, self.fill_value)

    def compute_output_shape(self, input_shape):
        return _output_shape(self, input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), 'height': self.height, 'width': self.width,
                'interpolation': self.interpolation, 'crop_to_aspect_ratio': self.crop_to_aspect_ratio,
                'pad_to_aspect_ratio': self.pad_to_aspect_ratio, 'fill_mode': self.fill_mode,
                'fill_value': self.fill_value, 'antialias': self.antialias}


class CenterCrop(ImagePreprocessingLayer):
    """The central (``height``, ``width``) window of each image. An image smaller than that along
    either axis is instead cropped to the target's aspect ratio and resized (bilinear), as Keras'
    ``smart_resize`` does."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        _check_size(self, height, width)
        self.height, self.width = height, width

    def _transform(self, x, training):
        _, height, width, _ = x.shape
        dh, dw = height - self.height, width - self.width
        if dh >= 0 and dw >= 0:
            top, left = dh // 2, dw // 2
            return F.getitem(x, (slice(None), slice(top, top + self.height), slice(left, left + self.width)))
        return image_ops.resize(x, (self.height, self.width), 'bilinear', crop_to_aspect_ratio=True)

    def compute_output_shape(self, input_shape):
        return _output_shape(self, input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), 'height': self.height, 'width': self.width}
