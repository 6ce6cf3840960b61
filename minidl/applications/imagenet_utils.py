"""What every ImageNet application shares, as ``keras.applications.imagenet_utils``: input
preprocessing (``preprocess_input``), turning 1000-class predictions into labels
(``decode_predictions``), Keras' rules for the ``input_shape`` argument (``obtain_input_shape``),
the checks on ``weights`` and ``classifier_activation``, and fetching the official weight files.

Weight and class-index files come through ``minidl.datasets.get_file`` into the ``models``
cache (``~/.minidl/models/``; a Keras user's copy in ``~/.keras/models/`` is used when its md5
is the official one), checked against the md5 that Keras gives; ``MINIDL_OFFLINE=1`` turns
downloads off.
"""
import json
import os
import warnings

import numpy as np

from .. import backend
from ..autograd import Tensor

CLASS_INDEX = None
CLASS_INDEX_PATH = 'https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json'
CLASS_INDEX_MD5 = 'c2c37ea517e94d9795004a39431a14cb'

#: ImageNet channel means (caffe mode: BGR order, 0-255 pixels; torch mode: RGB, 0-1 pixels).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)

DATA_FORMATS = ('channels_first', 'channels_last')
IMAGE_DATA_FORMAT = backend.image_data_format()  # minidl's layers are channels-last only


def preprocess_input(x, data_format=None, mode='caffe'):
    """Prepare a batch of images (3-D or 4-D, RGB values in [0, 255]) the way a pretrained
    ImageNet network expects.

    ``mode``:

    * ``'caffe'`` (VGG, ResNet): RGB -> BGR, then subtract the ImageNet mean of each channel
      (103.939, 116.779, 123.68); no scaling.
    * ``'tf'``: scale to [-1, 1]: x / 127.5 - 1.
    * ``'torch'`` (DenseNet): scale to [0, 1], then (x - mean) / std per channel with mean
      (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).

    As in Keras, a floating-point NumPy (or CuPy) array is overwritten with the result (pass
    ``x.copy()`` to keep it); an integer array is first converted to float32, and the
    result returned. A minidl ``Tensor`` gets a new Tensor through differentiable ops, and a
    symbolic tensor (from ``layers.Input``) a graph node, so ``x = preprocess_input(inputs)``
    can start a functional model, as in Keras.
    """
    if mode not in ('caffe', 'tf', 'torch'):
        raise ValueError(f'Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}')
    if data_format is None:
        data_format = IMAGE_DATA_FORMAT
    elif data_format not in DATA_FORMATS:
        raise ValueError('Expected data_format to be one of `channels_first` or `channels_last`. '
                         f'Received: data_format={data_format}')
    if isinstance(x, Tensor) or _is_symbolic(x):
        return _preprocess_tensor(x, data_format, mode)
    xp = backend.get_array_module(x)
    if not isinstance(x, xp.ndarray):
        x = np.asarray(x)
        xp = np
    return _preprocess_array(x, data_format, mode)


def _is_symbolic(x):
    from ..layers.base import KerasTensor
    return isinstance(x, KerasTensor)


def _channel_axis(ndim, data_format):
    if data_format == 'channels_last':
        return ndim - 1
    return 0 if ndim == 3 else 1


def _check_channels(x, data_format):
    axis = _channel_axis(x.ndim, data_format)
    if not 0 <= axis < x.ndim or x.shape[axis] != 3:
        raise ValueError(f'preprocess_input expects images with 3 color channels on axis {axis} '
                         f'({data_format}), got an array of shape {tuple(x.shape)}.')


def _preprocess_array(x, data_format, mode):
    """In place on float arrays, as Keras' NumPy path (the caller's array changes)."""
    if x.dtype.kind != 'f':
        x = x.astype(backend.floatx, copy=False)
    if mode == 'tf':
        x /= 127.5
        x -= 1.0
        return x
    _check_channels(x, data_format)
    axis = _channel_axis(x.ndim, data_format)
    if mode == 'torch':
        x /= 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    else:
        flip = [slice(None)] * x.ndim
        flip[axis] = slice(None, None, -1)
        x = x[tuple(flip)]  # RGB -> BGR: a view of the caller's array, as in Keras
        mean, std = CAFFE_MEAN_BGR, None
    for c in range(3):
        index = [slice(None)] * x.ndim
        index[axis] = c
        index = tuple(index)
        x[index] -= mean[c]
        if std is not None:
            x[index] /= std[c]
    return x


def _preprocess_tensor(x, data_format, mode):
    """The same arithmetic on a Tensor or a symbolic tensor, through ``minidl.ops`` (a new
    Tensor, or graph nodes): x + (-mean), then / std, with per-channel constants."""
    from .. import ops
    if mode == 'tf':
        return x / 127.5 - 1.0
    _check_channels(x, data_format)
    axis = _channel_axis(x.ndim, data_format)
    shape = [1] * x.ndim
    shape[axis] = 3
    if mode == 'torch':
        x = x / 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    else:
        x = ops.flip(x, axis=axis)  # RGB -> BGR
        mean, std = CAFFE_MEAN_BGR, None
    x = x + _constant(-np.array(mean), x, shape)
    if std is not None:
        x = x / _constant(np.array(std), x, shape)
    return x


def _constant(values, like, shape):
    """``values`` in ``like``'s dtype, shaped to broadcast over its channel axis (on the active
    array module for a Tensor)."""
    values = values.astype(like.dtype).reshape(shape)
    return backend.as_array(values) if isinstance(like, Tensor) else values


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of every row of ``preds`` (shape (samples, 1000)) as lists of
    ``(class_name, class_description, score)``, best first. The class index
    (``imagenet_class_index.json``) is fetched once into the models cache."""
    global CLASS_INDEX
    shape = tuple(preds.shape)
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError('`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape '
                         f'(samples, 1000)). Received array with shape: {shape}')
    if CLASS_INDEX is None:
        path = get_model_file('imagenet_class_index.json', CLASS_INDEX_PATH, CLASS_INDEX_MD5)
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    results = []
    for pred in backend.to_numpy(preds):
        top_indices = pred.argsort()[-top:][::-1]
        result = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in top_indices]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten, weights=None):
    """Keras' rules for a model's ``input_shape`` argument; the shape to build (no batch axis).

    * ``weights='imagenet'`` with the classifier on top (``require_flatten``) fixes the shape to
      (default_size, default_size, 3); any other given shape is an error.
    * Otherwise a given shape must be 3 integers (None allowed for height and width) with
      height and width >= ``min_size``, and 3 channels for ImageNet weights (other channel
      counts than 1 or 3 warn).
    * Without a shape: the default square with a classifier on top, else (None, None, 3).
    """
    if weights != 'imagenet' and input_shape and len(input_shape) == 3:
        if data_format == 'channels_first':
            if input_shape[0] not in {1, 3}:
                warnings.warn('This model usually expects 1 or 3 input channels. However, it was passed an '
                              f'input_shape with {input_shape[0]} input channels.', stacklevel=3)
            default_shape = (input_shape[0], default_size, default_size)
        else:
            if input_shape[-1] not in {1, 3}:
                warnings.warn('This model usually expects 1 or 3 input channels. However, it was passed an '
                              f'input_shape with {input_shape[-1]} input channels.', stacklevel=3)
            default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (3, default_size, default_size) if data_format == 'channels_first' \
            else (default_size, default_size, 3)
    if weights == 'imagenet' and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError('When setting `include_top=True` and loading `imagenet` weights, `input_shape` '
                             f'should be {default_shape}.  Received: input_shape={input_shape}')
        return default_shape
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f'`input_shape` must be a tuple of three integers. Received: input_shape={input_shape}')
        channels, spatial = (input_shape[0], input_shape[1:]) if data_format == 'channels_first' \
            else (input_shape[-1], input_shape[:2])
        if channels != 3 and weights == 'imagenet':
            raise ValueError(f'The input must have 3 channels; Received `input_shape={input_shape}`')
        if any(d is not None and d < min_size for d in spatial):
            raise ValueError(f'Input size must be at least {min_size}x{min_size}; Received: '
                             f'input_shape={input_shape}')
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if data_format == 'channels_first' else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError('If `include_top` is True, you should specify a static `input_shape`. '
                         f'Received: input_shape={input_shape}')
    return input_shape


def validate_activation(classifier_activation, weights):
    """Pretrained weights allow only a softmax or a linear (None) classifier."""
    if weights is None:
        return
    from .. import activations
    fn = activations.get(classifier_activation)
    if fn is not activations.get('softmax') and fn is not activations.get(None):
        raise ValueError('Only `None` and `softmax` activations are allowed for the `classifier_activation` '
                         'argument when using pretrained weights, with `include_top=True`; Received: '
                         f'classifier_activation={classifier_activation}')


def validate_weights(weights, include_top, classes):
    """Keras' checks on ``weights`` ('imagenet', None or an existing file) and ``classes``."""
    if not (weights in {'imagenet', None} or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random initialization), 'imagenet' "
                         '(pre-training on ImageNet), or the path to the weights file to be loaded.  Received: '
                         f'weights={weights}')
    if weights == 'imagenet' and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
                         f'Received classes={classes}')


def image_input(input_tensor, input_shape):
    """The model's input: ``Input(shape=input_shape)``, or ``input_tensor`` (a symbolic tensor)."""
    from ..layers import Input
    from ..layers.base import KerasTensor
    if input_tensor is None:
        return Input(shape=input_shape)
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError('Argument `input_tensor` must be a KerasTensor (the output of layers.Input() or of a '
                         f'layer called on one). Received invalid type: {type(input_tensor).__name__}')
    return input_tensor


def source_inputs(tensor):
    """The ``Input`` tensors that ``tensor`` is computed from, in the order they are reached
    (Keras' ``get_source_inputs``): a model built on ``input_tensor`` starts there, so the
    layers between them belong to the model."""
    from ..layers.core import InputLayer
    found, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if isinstance(t.node.layer, InputLayer):
            found.append(t)
        else:
            stack.extend(reversed(t.node.inputs))
    return found[0] if len(found) == 1 else found


def get_model_file(fname, origin, md5, hint=None):
    """Path of a file of the ``models`` cache: found there (minidl's or Keras'), else downloaded
    from ``origin`` and checked against ``md5``. Raises ``minidl.datasets.DatasetNotFoundError``
    (a ``FileNotFoundError``) saying where it looked when it is nowhere and cannot be fetched,
    followed by ``hint``."""
    from ..datasets import DatasetNotFoundError, get_file
    try:
        return get_file(fname, origin, file_hash=md5, cache_subdir='models')
    except DatasetNotFoundError as exc:
        if hint:
            exc.args = (f'{exc.args[0]}\n{hint}',)
        raise


def build_model(inputs, outputs, name, weights, official):
    """The functional model, with its weights: ``official`` = (fname, url, md5) for 'imagenet',
    or the file ``weights`` names."""
    from ..models import Model
    model = Model(inputs, outputs, name=name)
    if weights == 'imagenet':
        fname, origin, md5 = official
        hint = (f"It is Keras' own file (md5 {md5}): a copy from a Keras installation (~/.keras/models/) or from "
                f"another machine is used as it is. Or pass the path of any Keras weights file of this network "
                f"as weights=..., or weights=None for random weights.")
        model.load_weights(get_model_file(fname, origin, md5, hint))
    elif weights is not None:
        model.load_weights(weights)
    return model
