"""VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015), as ``keras.applications.vgg16``: 13 3x3 convolutions in five blocks,
each block closed by 2x2 max pooling, then (``include_top``) Flatten and three dense layers.

Layer names, weight order and parameter counts are Keras' (14,714,688 without the top,
138,357,544 with it), so Keras' ImageNet files load: ``weights='imagenet'`` fetches
``vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5`` into ``~/.minidl/models/`` (or finds it in
``~/.keras/models/``). Inputs are preprocessed with ``preprocess_input`` (caffe mode: BGR,
ImageNet mean subtracted, no scaling).
"""
from .. import layers
from . import imagenet_utils

WEIGHTS_PATH = ('https://storage.googleapis.com/tensorflow/keras-applications/vgg16/'
                'vgg16_weights_tf_dim_ordering_tf_kernels.h5')
WEIGHTS_PATH_NO_TOP = ('https://storage.googleapis.com/tensorflow/keras-applications/vgg16/'
                       'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5')
WEIGHTS_HASHES = ('64373286793e3c8b2b4e3219cbf3544b', '6d6bbae143d832006294945121d1f1fc')  # top, no top


def VGG16(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation='softmax', name='vgg16'):
    """The VGG16 model, optionally with Keras' ImageNet weights.

    Args:
        include_top: with the 3 dense layers (flatten, fc1, fc2, predictions) on top.
        weights: None (random initialization), 'imagenet', or the path of a weights file
            (any Keras HDF5 layout).
        input_tensor: a symbolic tensor (``layers.Input()`` or a layer's output) to build on.
        input_shape: (height, width, 3), at least 32x32; only with ``include_top=False``
            (the top needs (224, 224, 3) with ImageNet weights and a fixed shape without).
        pooling: without the top, None (the 4-D output of block5_pool), 'avg' or 'max'
            (global pooling to a 2-D output).
        classes: output classes of the top (1000 with ImageNet weights).
        classifier_activation: the top's activation (a name, a callable or None for logits);
            only None or 'softmax' with pretrained weights.
        name: the model's name.
    """
    return build_vgg((2, 2, 3, 3, 3), include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, name,
                     official_file(include_top))


def build_vgg(convs, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
              name, official):
    """VGG with ``convs[b]`` convolutions in block b + 1 (64, 128, 256, 512, 512 filters)."""
    imagenet_utils.validate_weights(weights, include_top, classes)
    if include_top:  # Keras checks it once the top is built; the answer is the same, only sooner
        imagenet_utils.validate_activation(classifier_activation, weights)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=imagenet_utils.IMAGE_DATA_FORMAT,
                                                    require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = img_input
    for block, (filters, count) in enumerate(zip((64, 128, 256, 512, 512), convs), start=1):
        for i in range(1, count + 1):
            x = layers.Conv2D(filters, (3, 3), activation='relu', padding='same', name=f'block{block}_conv{i}')(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f'block{block}_pool')(x)
    if include_top:
        x = layers.Flatten(name='flatten')(x)
        x = layers.Dense(4096, activation='relu', name='fc1')(x)
        x = layers.Dense(4096, activation='relu', name='fc2')(x)
        x = layers.Dense(classes, activation=classifier_activation, name='predictions')(x)
    elif pooling == 'avg':
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == 'max':
        x = layers.GlobalMaxPooling2D()(x)
    inputs = img_input if input_tensor is None else imagenet_utils.source_inputs(input_tensor)
    return imagenet_utils.build_model(inputs, x, name, weights, official)


def official_file(include_top):
    """(file name, URL, md5) of Keras' ImageNet weights for VGG16 with or without the top."""
    url, md5 = (WEIGHTS_PATH, WEIGHTS_HASHES[0]) if include_top else (WEIGHTS_PATH_NO_TOP, WEIGHTS_HASHES[1])
    return url.rsplit('/', 1)[1], url, md5


def preprocess_input(x, data_format=None):
    """Caffe mode: RGB -> BGR, minus the ImageNet mean of each channel, no scaling (see
    ``imagenet_utils.preprocess_input``; float NumPy arrays are overwritten)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode='caffe')


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes per row of ``preds``: (class_name, description, score)."""
    return imagenet_utils.decode_predictions(preds, top=top)
