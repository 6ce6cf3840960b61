"""DenseNet121, DenseNet169 and DenseNet201 (Huang et al., "Densely Connected Convolutional
Networks", CVPR 2017), as ``keras.applications.densenet``: a 7x7/2 convolution and 3x3/2 max
pooling, then four dense blocks (6, 12, 24|32|48, 16|32|32 layers). Each layer of a block is
BN-ReLU-1x1 conv (128 channels)-BN-ReLU-3x3 conv (growth rate 32), and its output is
concatenated to its input along the channels; between blocks a transition (BN-ReLU-1x1 conv
halving the channels-2x2 average pooling). A last BN and ReLU close the network.

Layer names are Keras' (``conv1_conv``, ``conv2_block1_0_bn`` ... ``pool4_pool``, ``bn``,
``relu``, ``avg_pool``, ``predictions``), and so is the order of the weighted layers that the
ImageNet files (``densenet121_weights_tf_dim_ordering_tf_kernels[_notop].h5``, ...) are loaded
in. Inputs are preprocessed with ``preprocess_input`` (torch mode: scaled to [0, 1], then
normalised with the ImageNet mean and standard deviation).
"""
from .. import layers
from . import imagenet_utils

BASE_WEIGHTS_PATH = 'https://storage.googleapis.com/tensorflow/keras-applications/densenet/'
WEIGHTS_HASHES = {  # blocks -> (name, md5 with the top, md5 without it)
    (6, 12, 24, 16): ('densenet121', '9d60b8095a5708f2dcce2bca79d332c7', '30ee3e1110167f948a6b9946edeeb738'),
    (6, 12, 32, 32): ('densenet169', 'd699b8f76981ab1b30698df4c175e90b', 'b8c4d4c20dd625c148057b9ff1c1176b'),
    (6, 12, 48, 32): ('densenet201', '1ceb130c1ea1b78c3bf6114dbdfd8807', 'c13680b51ded0fb44dff2d8f86ac8bb1'),
}
BN_EPSILON = 1.001e-5
BN_AXIS = 3  # channels last


def official_file(blocks, include_top):
    """(file name, URL, md5) of Keras' ImageNet weights for the DenseNet with ``blocks``."""
    key = tuple(blocks)
    if key not in WEIGHTS_HASHES:
        raise ValueError(f'There are no ImageNet weights for a DenseNet with blocks {list(blocks)}; Keras has them '
                         f'for {[list(b) for b in WEIGHTS_HASHES]} (DenseNet121, 169, 201). Use weights=None.')
    net, md5_top, md5_notop = WEIGHTS_HASHES[key]
    fname = f'{net}_weights_tf_dim_ordering_tf_kernels{"" if include_top else "_notop"}.h5'
    return fname, BASE_WEIGHTS_PATH + fname, md5_top if include_top else md5_notop


def dense_block(x, blocks, name):
    """``blocks`` conv blocks named ``{name}_block1`` ..., each adding 32 channels."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f'{name}_block{i + 1}')
    return x


def transition_block(x, reduction, name):
    """BN -> ReLU -> 1x1 conv to ``reduction`` times the channels -> 2x2 average pooling."""
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f'{name}_bn')(x)
    x = layers.Activation('relu', name=f'{name}_relu')(x)
    x = layers.Conv2D(int(x.shape[BN_AXIS] * reduction), 1, use_bias=False, name=f'{name}_conv')(x)
    return layers.AveragePooling2D(2, strides=2, name=f'{name}_pool')(x)


def conv_block(x, growth_rate, name):
    """BN -> ReLU -> 1x1 conv (4 * growth_rate) -> BN -> ReLU -> 3x3 conv (growth_rate),
    concatenated to ``x`` along the channels."""
    x1 = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f'{name}_0_bn')(x)
    x1 = layers.Activation('relu', name=f'{name}_0_relu')(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f'{name}_1_conv')(x1)
    x1 = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f'{name}_1_bn')(x1)
    x1 = layers.Activation('relu', name=f'{name}_1_relu')(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding='same', use_bias=False, name=f'{name}_2_conv')(x1)
    return layers.Concatenate(axis=BN_AXIS, name=f'{name}_concat')([x, x1])


def DenseNet(blocks, include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation='softmax', name='densenet'):
    """A DenseNet with ``blocks`` conv blocks in its four dense blocks (Keras' ``DenseNet``);
    the other arguments are those of ``DenseNet121``."""
    imagenet_utils.validate_weights(weights, include_top, classes)
    if include_top:  # Keras checks it once the top is built; the answer is the same, only sooner
        imagenet_utils.validate_activation(classifier_activation, weights)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=imagenet_utils.IMAGE_DATA_FORMAT,
                                                    require_flatten=include_top, weights=weights)
    official = official_file(blocks, include_top) if weights == 'imagenet' else None
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name='conv1_conv')(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name='conv1_bn')(x)
    x = layers.Activation('relu', name='conv1_relu')(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name='pool1')(x)
    for stage, count in enumerate(blocks, start=2):
        x = dense_block(x, count, name=f'conv{stage}')
        if stage < 5:
            x = transition_block(x, 0.5, name=f'pool{stage}')
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name='bn')(x)
    x = layers.Activation('relu', name='relu')(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name='avg_pool')(x)
        x = layers.Dense(classes, activation=classifier_activation, name='predictions')(x)
    elif pooling == 'avg':
        x = layers.GlobalAveragePooling2D(name='avg_pool')(x)
    elif pooling == 'max':
        x = layers.GlobalMaxPooling2D(name='max_pool')(x)
    inputs = img_input if input_tensor is None else imagenet_utils.source_inputs(input_tensor)
    return imagenet_utils.build_model(inputs, x, name, weights, official)


_ARGS_DOC = """

    Args:
        include_top: with global average pooling ('avg_pool') and the dense 'predictions' layer.
        weights: None (random initialization), 'imagenet', or the path of a weights file.
        input_tensor: a symbolic tensor (``layers.Input()`` or a layer's output) to build on.
        input_shape: (height, width, 3), at least 32x32; only with ``include_top=False``.
        pooling: without the top, None (the 4-D output of 'relu'), 'avg' or 'max'.
        classes: output classes of the top (1000 with ImageNet weights).
        classifier_activation: the top's activation; only None or 'softmax' with pretrained weights.
        name: the model's name.
    """


def DenseNet121(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation='softmax', name='densenet121'):
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def DenseNet169(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation='softmax', name='densenet169'):
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def DenseNet201(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation='softmax', name='densenet201'):
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


DenseNet121.__doc__ = 'DenseNet121 (7,037,504 parameters without the top, 8,062,504 with it).' + _ARGS_DOC
DenseNet169.__doc__ = 'DenseNet169 (12,642,880 parameters without the top, 14,307,880 with it).' + _ARGS_DOC
DenseNet201.__doc__ = 'DenseNet201 (18,321,984 parameters without the top, 20,242,984 with it).' + _ARGS_DOC


def preprocess_input(x, data_format=None):
    """Torch mode: x / 255, then minus the ImageNet mean and divided by its standard deviation, per
    channel (see ``imagenet_utils.preprocess_input``; float NumPy arrays are overwritten)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode='torch')


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes per row of ``preds``: (class_name, description, score)."""
    return imagenet_utils.decode_predictions(preds, top=top)
