"""ImageNet backbones (VGG16, ResNet50, DenseNet121 without their top) built from minidl layers
with Keras' layer names, and a loader for the ``keras.applications`` weight files, for the course
models that start from pretrained weights (MODELS.md marks them).

The weights are not bundled and cannot be downloaded from here. Get them once where Keras is
installed, e.g. ``keras.applications.VGG16(include_top=False).save_weights('vgg16_notop.weights.h5')``,
or use the ``*_weights_tf_dim_ordering_tf_kernels_notop.h5`` files Keras caches under
``~/.keras/models/``; both layouts are read here. Layers are matched by name.
"""
import os

import numpy as np

from minidl import layers, models, optimizers

KERAS_WEIGHT_FILES = {
    'vgg16': 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    'resnet50': 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
    'densenet121': 'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5',
}
BN_EPSILON = 1.001e-5  # keras.applications' ResNet/DenseNet BatchNormalization epsilon


def missing_inputs(script, needs):
    """Explain what a pretrained-model script needs and return exit status 2.
    ``needs`` maps a flag to the thing it must point at."""
    lines = [f'{script}: cannot run, this model starts from data that is not bundled with minidl:']
    lines += [f'  {flag} {what}' for flag, what in needs.items()]
    lines.append('See the docstring of examples/pretrained.py for how to get ImageNet weights.')
    print('\n'.join(lines))
    return 2


def check_file(path, flag, what):
    """None if ``path`` names a readable file, else the entry for ``missing_inputs``."""
    if path and os.path.isfile(path):
        return None
    state = f'(not found: {path})' if path else '(not given)'
    return {flag: f'{what} {state}'}


def vgg16_notop(inputs):
    """VGG16 convolutional base (13 convs, 5 pools, 14,714,688 params) applied to ``inputs``."""
    x = inputs
    for block, (filters, count) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for i in range(1, count + 1):
            x = layers.Conv2D(filters, 3, padding='same', activation='relu', name=f'block{block}_conv{i}')(x)
        x = layers.MaxPooling2D(2, name=f'block{block}_pool')(x)
    return x


def _resnet_block(x, filters, stride, conv_shortcut, name):
    """Bottleneck block: 1x1 -> 3x3 -> 1x1 (4*filters) plus the (projected) shortcut."""
    def bn(t, suffix):
        return layers.BatchNormalization(epsilon=BN_EPSILON, name=f'{name}_{suffix}_bn')(t)
    if conv_shortcut:
        shortcut = bn(layers.Conv2D(4 * filters, 1, strides=stride, name=f'{name}_0_conv')(x), '0')
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f'{name}_1_conv')(x)
    x = layers.Activation('relu', name=f'{name}_1_relu')(bn(x, '1'))
    x = layers.Conv2D(filters, 3, padding='same', name=f'{name}_2_conv')(x)
    x = layers.Activation('relu', name=f'{name}_2_relu')(bn(x, '2'))
    x = bn(layers.Conv2D(4 * filters, 1, name=f'{name}_3_conv')(x), '3')
    x = layers.Add(name=f'{name}_add')([shortcut, x])
    return layers.Activation('relu', name=f'{name}_out')(x)


def resnet50_notop(inputs):
    """ResNet50 base with global average pooling (2,048 features, 23,587,712 params)."""
    x = layers.ZeroPadding2D(3, name='conv1_pad')(inputs)
    x = layers.Conv2D(64, 7, strides=2, name='conv1_conv')(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name='conv1_bn')(x)
    x = layers.Activation('relu', name='conv1_relu')(x)
    x = layers.ZeroPadding2D(1, name='pool1_pad')(x)
    x = layers.MaxPooling2D(3, strides=2, name='pool1_pool')(x)
    for stage, (filters, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=2):
        for block in range(1, blocks + 1):
            x = _resnet_block(x, filters, stride if block == 1 else 1, block == 1, f'conv{stage}_block{block}')
    return layers.GlobalAveragePooling2D(name='avg_pool')(x)


def _densenet_bn_relu(x, name):
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f'{name}_bn')(x)
    return layers.Activation('relu', name=f'{name}_relu')(x)


def densenet121_notop(inputs):
    """DenseNet121 base (dense blocks of 6, 12, 24, 16 layers, growth 32; 7,037,504 params)."""
    x = layers.ZeroPadding2D(3)(inputs)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name='conv1_conv')(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name='conv1_bn')(x)
    x = layers.Activation('relu', name='conv1_relu')(x)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.MaxPooling2D(3, strides=2, name='pool1')(x)
    for stage, blocks in enumerate((6, 12, 24, 16), start=2):
        for block in range(1, blocks + 1):
            name = f'conv{stage}_block{block}'
            y = _densenet_bn_relu(x, f'{name}_0')
            y = layers.Conv2D(128, 1, use_bias=False, name=f'{name}_1_conv')(y)
            y = _densenet_bn_relu(y, f'{name}_1')
            y = layers.Conv2D(32, 3, padding='same', use_bias=False, name=f'{name}_2_conv')(y)
            x = layers.Concatenate(name=f'{name}_concat')([x, y])
        if stage < 5:
            x = _densenet_bn_relu(x, f'pool{stage}')
            x = layers.Conv2D(x.shape[-1] // 2, 1, use_bias=False, name=f'pool{stage}_conv')(x)
            x = layers.AveragePooling2D(2, strides=2, name=f'pool{stage}_pool')(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name='bn')(x)
    return layers.Activation('relu', name='relu')(x)


BACKBONES = {'vgg16': vgg16_notop, 'resnet50': resnet50_notop, 'densenet121': densenet121_notop}


def backbone(name, input_shape):
    """The named base as a Model (its own layer names, for weight loading)."""
    inputs = layers.Input(shape=input_shape)
    return models.Model(inputs, BACKBONES[name](inputs), name=name)


def _read_h5_layers(path):
    """{layer name: [arrays]} from a Keras weights file: legacy (layer_names / weight_names
    attributes, as in keras.applications downloads) or Keras 3 ``.weights.h5``."""
    import h5py
    stored = {}
    with h5py.File(path, 'r') as f:
        root = f['model_weights'] if 'model_weights' in f else f
        if 'layer_names' in root.attrs:
            for raw in root.attrs['layer_names']:
                name = raw.decode() if isinstance(raw, bytes) else raw
                group = root[name]
                names = [w.decode() if isinstance(w, bytes) else w for w in group.attrs['weight_names']]
                if names:
                    stored[name] = [np.asarray(group[w]) for w in names]
        else:
            def visit(name, obj):
                if isinstance(obj, h5py.Group) and 'vars' in obj and len(obj['vars']):
                    stored[name.split('/')[-1]] = [np.asarray(obj['vars'][k])
                                                   for k in sorted(obj['vars'], key=int)]
            (root['layers'] if 'layers' in root else root).visititems(visit)
    return stored


def _key(name):
    """Keras 2 wrote DenseNet names as 'conv1/conv', Keras 3 as 'conv1_conv'."""
    return name.replace('/', '_')


def load_keras_weights(model, path):
    """Set every weighted layer of ``model`` from the layer of the same name in ``path``."""
    stored = {_key(name): arrays for name, arrays in _read_h5_layers(path).items()}
    missing = [layer.name for layer in model.layers if layer.weights and _key(layer.name) not in stored]
    if missing:
        raise SystemExit(f'error: {path} has no weights for {len(missing)} layer(s) of {model.name}, '
                         f'e.g. {missing[:5]}; is it the {model.name} no-top file?')
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(stored[_key(layer.name)])


def pretrained_backbone(name, input_shape, weights_path, trainable=False):
    """The backbone with ImageNet weights; frozen layer by layer (so that single layers can be
    unfrozen later, which a frozen parent model would override)."""
    base = backbone(name, input_shape)
    load_keras_weights(base, weights_path)
    for layer in base.layers:
        layer.trainable = trainable
    return base


def muestra09(args):
    """cifar10_m.muestra09: ImageNet VGG16 base on 32x32 inputs + Flatten + a 512-512 head with BN
    and dropout (rate n/s: 0.5), SGD(0.001, 0.9) (n/s). The report's head ends in Dense(1) for
    ten classes, which is why it scored 10.00 %; Dense(10, softmax) is used here instead."""
    import common
    from minidl.utils import to_categorical
    problem = check_file(args.weights, '--weights', f'Keras VGG16 no-top ImageNet weights ({KERAS_WEIGHT_FILES["vgg16"]})')
    if problem:
        return missing_inputs('cifar10_muestras.py --muestra 9', problem)
    common.setup(args)
    args.epochs = args.epochs or 100
    (x_train, y_train), (x_test, y_test) = common.load_cifar(args, 'cifar10')
    y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)
    base = pretrained_backbone('vgg16', (32, 32, 3), args.weights)
    stack = [layers.Input(shape=(32, 32, 3)), base, layers.Flatten()]
    for _ in range(2):
        stack += [layers.Dense(512, activation='relu'), layers.BatchNormalization(), layers.Dropout(0.5)]
    stack.append(layers.Dense(10, activation='softmax'))
    model = models.Sequential(stack, name='muestra09')
    model.compile(optimizer=optimizers.SGD(learning_rate=0.001, momentum=0.9),
                  loss='categorical_crossentropy', metrics=['accuracy'])
    common.fit_and_report(args, model, 'cifar10_m.muestra09', (x_train, y_train), (x_test, y_test))
    return 0
