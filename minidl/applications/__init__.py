"""Pretrained ImageNet networks with Keras' API, as ``keras.applications``:

    from minidl.applications import ResNet50
    from minidl.applications.resnet50 import preprocess_input, decode_predictions
    model = ResNet50(weights='imagenet')            # Keras' file, from ~/.minidl/models or ~/.keras/models
    preds = model.predict(preprocess_input(images))  # images: (n, 224, 224, 3), RGB in [0, 255]
    print(decode_predictions(preds, top=3))

``VGG16``, ``VGG19``, ``ResNet50``, ``ResNet101``, ``ResNet152``, ``DenseNet121``,
``DenseNet169``, ``DenseNet201`` build the same layers (names, weight order, parameter counts)
as Keras 3 out of minidl's layers, so Keras' ImageNet weight files (and any weights a Keras user
saved from these models, in any of Keras' HDF5 layouts) load into them. Each takes
``include_top``, ``weights`` ('imagenet', None or a file), ``input_tensor``, ``input_shape``,
``pooling`` (None, 'avg', 'max'), ``classes``, ``classifier_activation`` and ``name``.

With ``weights='imagenet'`` the file is looked for in ``~/.minidl/models/`` (used as it is,
with a warning if its md5 is not Keras'), then in ``~/.keras/models/`` (used when its md5 is
Keras'), and downloaded from Keras' address otherwise (checked against Keras' md5;
``MINIDL_OFFLINE=1`` forbids downloads). To use a copy from elsewhere, put it in
``~/.minidl/models/`` or pass its path as ``weights=``.
"""
from . import densenet, imagenet_utils, resnet, resnet50, vgg16, vgg19  # noqa: F401
from .densenet import DenseNet121, DenseNet169, DenseNet201  # noqa: F401
from .resnet import ResNet50, ResNet101, ResNet152  # noqa: F401
from .vgg16 import VGG16  # noqa: F401
from .vgg19 import VGG19  # noqa: F401

_OFFICIAL = {
    'VGG16': lambda top: vgg16.official_file(top), 'VGG19': lambda top: vgg19.official_file(top),
    'ResNet50': lambda top: resnet.official_file('resnet50', top),
    'ResNet101': lambda top: resnet.official_file('resnet101', top),
    'ResNet152': lambda top: resnet.official_file('resnet152', top),
    'DenseNet121': lambda top: densenet.official_file((6, 12, 24, 16), top),
    'DenseNet169': lambda top: densenet.official_file((6, 12, 32, 32), top),
    'DenseNet201': lambda top: densenet.official_file((6, 12, 48, 32), top),
}


def weights_file(name, include_top=True):
    """``(file name, URL, md5)`` of the Keras ImageNet weights that ``name(weights='imagenet',
    include_top=include_top)`` loads, e.g. ``weights_file('VGG16', include_top=False)``; for
    messages, and for fetching the files on another machine."""
    if name not in _OFFICIAL:
        raise ValueError(f'Unknown application {name!r}; known: {", ".join(_OFFICIAL)}.')
    return _OFFICIAL[name](bool(include_top))


__all__ = ['weights_file', 'VGG16', 'VGG19', 'ResNet50', 'ResNet101', 'ResNet152', 'DenseNet121', 'DenseNet169', 'DenseNet201',
           'vgg16', 'vgg19', 'resnet', 'resnet50', 'densenet', 'imagenet_utils']
