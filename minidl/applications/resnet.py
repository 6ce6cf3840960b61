"""ResNet50, ResNet101 and ResNet152 (He et al., "Deep Residual Learning for Image Recognition",
CVPR 2016), as ``keras.applications.resnet``: a 7x7/2 convolution and 3x3/2 max pooling, then
four stages of bottleneck blocks (1x1, 3x3, 1x1 with 4x as many output channels, plus the
shortcut: a 1x1 projection in each stage's first block, the identity after it), ReLU after
each addition. Every BatchNormalization has Keras' epsilon 1.001e-5.

Layer names are Keras' (``conv1_conv``, ``conv2_block1_0_conv`` ... ``conv5_block3_out``,
``avg_pool``, ``predictions``) and so is the order of the weighted layers, which is what Keras'
topological loading of the ImageNet files relies on: ``weights='imagenet'`` fetches
``resnet50_weights_tf_dim_ordering_tf_kernels[_notop].h5`` (and the 101/152 files). Inputs are
preprocessed with ``preprocess_input`` (caffe mode).
"""
from .. import layers
from . import imagenet_utils

BASE_WEIGHTS_PATH = 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/'
WEIGHTS_HASHES = {  # (with the top, without it): md5 of Keras' files
    'resnet50': ('2cb95161c43110f7111970584f804107', '4d473c1dd8becc155b73f8504c6f6626'),
    'resnet101': ('f1aeb4b969a6efcfb50fad2f0c20cfc5', '88cf7a10940856eca736dc7b7e228a21'),
    'resnet152': ('100835be76be38e30d865e96f2aaae62', 'ee4c566cf9a93f14d82f913c2dc6dd0c'),
}
BN_EPSILON = 1.001e-5
BN_AXIS = 3  # channels last


def official_file(weights_name, include_top):
    """(file name, URL, md5) of Keras' ImageNet weights for ``weights_name`` ('resnet50', ...)."""
    suffix = '' if include_top else '_notop'
    fname = f'{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5'
    return fname, BASE_WEIGHTS_PATH + fname, WEIGHTS_HASHES[weights_name][0 if include_top else 1]


def ResNet(stack_fn, preact, use_bias, include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
           pooling=None, classes=1000, classifier_activation='softmax', name='resnet', weights_name=None):
    """The ResNet family around ``stack_fn(x)``, which adds the residual stages (Keras' ``ResNet``).

    ``preact``: pre-activation (ResNetV2: BN + ReLU after the stages, none after conv1);
    ``use_bias``: biases in conv1. ``weights_name`` ('resnet50', 'resnet101', 'resnet152')
    names the ImageNet file for ``weights='imagenet'``; other names load no ImageNet weights,
    as in Keras. The other arguments are those of ``ResNet50``.
    """
    imagenet_utils.validate_weights(weights, include_top, classes)
    if include_top:  # Keras checks it once the top is built; the answer is the same, only sooner
        imagenet_utils.validate_activation(classifier_activation, weights)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=imagenet_utils.IMAGE_DATA_FORMAT,
                                                    require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name='conv1_pad')(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name='conv1_conv')(x)
    if not preact:
        x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name='conv1_bn')(x)
        x = layers.Activation('relu', name='conv1_relu')(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name='pool1_pad')(x)
    x = layers.MaxPooling2D(3, strides=2, name='pool1_pool')(x)
    x = stack_fn(x)
    if preact:
        x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name='post_bn')(x)
        x = layers.Activation('relu', name='post_relu')(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name='avg_pool')(x)
        x = layers.Dense(classes, activation=classifier_activation, name='predictions')(x)
    elif pooling == 'avg':
        x = layers.GlobalAveragePooling2D(name='avg_pool')(x)
    elif pooling == 'max':
        x = layers.GlobalMaxPooling2D(name='max_pool')(x)
    inputs = img_input if input_tensor is None else imagenet_utils.source_inputs(input_tensor)
    if weights == 'imagenet' and weights_name not in WEIGHTS_HASHES:
        weights = None  # Keras loads ImageNet weights only for the architectures it has files for
    official = official_file(weights_name, include_top) if weights == 'imagenet' else None
    return imagenet_utils.build_model(inputs, x, name, weights, official)


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """Bottleneck block: 1x1 (stride) -> 3x3 -> 1x1 with ``4 * filters`` channels, each followed
    by BN (ReLU after the first two), added to the shortcut (a strided 1x1 projection + BN if
    ``conv_shortcut``, else ``x``), then ReLU."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f'{name}_0_conv')(x)
        shortcut = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f'{name}_0_bn')(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f'{name}_1_conv')(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f'{name}_1_bn')(x)
    x = layers.Activation('relu', name=f'{name}_1_relu')(x)
    x = layers.Conv2D(filters, kernel_size, padding='SAME', name=f'{name}_2_conv')(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f'{name}_2_bn')(x)
    x = layers.Activation('relu', name=f'{name}_2_relu')(x)
    x = layers.Conv2D(4 * filters, 1, name=f'{name}_3_conv')(x)
    x = layers.BatchNormalization(axis=BN_AXIS, epsilon=BN_EPSILON, name=f'{name}_3_bn')(x)
    x = layers.Add(name=f'{name}_add')([shortcut, x])
    return layers.Activation('relu', name=f'{name}_out')(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """``blocks`` bottleneck blocks named ``{name}_block1`` ...: the first projects the shortcut
    and strides by ``stride1``, the others keep the shape."""
    x = residual_block_v1(x, filters, stride=stride1, name=f'{name}_block1')
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f'{name}_block{i}')
    return x


def _stacks(blocks):
    """stack_fn for stages conv2..conv5 of 64, 128, 256, 512 filters with ``blocks`` blocks each."""
    def stack_fn(x):
        x = stack_residual_blocks_v1(x, 64, blocks[0], stride1=1, name='conv2')
        x = stack_residual_blocks_v1(x, 128, blocks[1], name='conv3')
        x = stack_residual_blocks_v1(x, 256, blocks[2], name='conv4')
        return stack_residual_blocks_v1(x, 512, blocks[3], name='conv5')
    return stack_fn


def ResNet50(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation='softmax', name='resnet50'):
    """ResNet50 (3, 4, 6, 3 blocks; 23,587,712 parameters without the top, 25,636,712 with it).

    Args:
        include_top: with global average pooling ('avg_pool') and the dense 'predictions' layer.
        weights: None (random initialization), 'imagenet', or the path of a weights file.
        input_tensor: a symbolic tensor (``layers.Input()`` or a layer's output) to build on.
        input_shape: (height, width, 3), at least 32x32; only with ``include_top=False``.
        pooling: without the top, None (4-D output of conv5_block3_out), 'avg' or 'max'.
        classes: output classes of the top (1000 with ImageNet weights).
        classifier_activation: the top's activation; only None or 'softmax' with pretrained weights.
        name: the model's name.
    """
    return ResNet(_stacks((3, 4, 6, 3)), False, True, include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name=name, weights_name='resnet50')


def ResNet101(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation='softmax', name='resnet101'):
    """ResNet101 (3, 4, 23, 3 blocks; 42,658,176 parameters without the top); ResNet50's arguments."""
    return ResNet(_stacks((3, 4, 23, 3)), False, True, include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name=name, weights_name='resnet101')


def ResNet152(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation='softmax', name='resnet152'):
    """ResNet152 (3, 8, 36, 3 blocks; 58,370,944 parameters without the top); ResNet50's arguments."""
    return ResNet(_stacks((3, 8, 36, 3)), False, True, include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation, name=name, weights_name='resnet152')


def preprocess_input(x, data_format=None):
    """Caffe mode: RGB -> BGR, minus the ImageNet mean of each channel, no scaling (see
    ``imagenet_utils.preprocess_input``; float NumPy arrays are overwritten)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode='caffe')


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes per row of ``preds``: (class_name, description, score)."""
    return imagenet_utils.decode_predictions(preds, top=top)
