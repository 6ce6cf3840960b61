"""Every model of ../shared/MODELS.md that needs no pretrained weights, built layer by layer as the
catalogue's tables give it; total, trainable and non-trainable counts must equal the catalogue's.

Models with pretrained backbones enter with what can be built from scratch: the feature heads
(their inputs are precomputed features) and the VGG16 fine-tuning model (backbone built from
layers, weights=None, frozen up to block5_conv1; the parameter-free Resizing layer is left out).
The VGG16/ResNet50/DenseNet121 backbones are minidl.applications models, counted in
test_applications.py and test_applications_examples.py. Not built: tp4b.ej10_* (no architecture printed).
"""
import numpy as np
import pytest

from minidl import layers as L
from minidl.models import Model, Sequential
from minidl.regularizers import l2


def _seq(input_shape, *layers):
    return Sequential([L.InputLayer(input_shape), *layers])


def _conv(filters, kernel=3, padding='same', activation='relu', **kwargs):
    return L.Conv2D(filters, kernel, padding=padding, activation=activation, **kwargs)


def _bn():
    return L.BatchNormalization()


def _pool(size=2, **kwargs):
    return L.MaxPooling2D(size, **kwargs)


def _drop(rate=0.3):
    return L.Dropout(rate)


# --- tp4a (functional API) -------------------------------------------------------------------------
def tp4a_linear():
    x = L.Input((13,), name='input')
    return Model(x, L.Dense(1)(x))


def mlp_cifar10(reg, out_activation=None):
    return _seq((3072,), L.Dense(100, 'sigmoid', kernel_regularizer=l2(reg)),
                L.Dense(10, out_activation, kernel_regularizer=l2(reg)))


def xor():
    return _seq((2,), L.Dense(2, 'tanh'), L.Dense(1, 'tanh'))


def xor_concat():
    x = L.Input((2,))
    h = L.Dense(1, 'tanh')(x)
    return Model(x, L.Dense(1, 'tanh')(L.Concatenate()([x, h])))


def imdb_bow(variant):
    x = L.Input((10000,), name='input')
    h = L.Dense(100, 'relu', kernel_regularizer=l2(0.01))(x)
    h = _bn()(h) if variant == 'bn' else _drop(0.5)(h) if variant == 'dropout' else h
    h = L.Dense(10, 'relu', kernel_regularizer=l2(0.01))(h)
    h = _bn()(h) if variant == 'bn' else _drop(0.5)(h) if variant == 'dropout' else h
    return Model(x, L.Dense(1, kernel_regularizer=l2(0.01))(L.Concatenate()([x, h])))


def imdb_embed_concat():
    x = L.Input((500,))
    flat = L.Flatten()(L.Embedding(10000, 32)(x))
    h = _drop()(L.Dense(100, 'relu', kernel_regularizer=l2(0.01))(flat))
    h = _drop()(L.Dense(10, 'relu', kernel_regularizer=l2(0.01))(h))
    return Model(x, L.Dense(1, kernel_regularizer=l2(0.01))(L.Concatenate()([flat, h])))


def imdb_conv1d_a():
    return _seq((500,), L.Embedding(10000, 32), _bn(), L.Conv1D(16, 5, padding='same', activation='relu'),
                L.MaxPooling1D(2), _bn(), L.Conv1D(32, 5, padding='same', activation='relu'), L.MaxPooling1D(2),
                _bn(), _drop(), L.Flatten(), L.Dense(1, kernel_regularizer=l2(0.01)))


def logistic_map(reg=None):
    x = L.Input((1,))
    h = L.Dense(5, 'tanh', kernel_regularizer=reg)(x)
    return Model(x, L.Dense(1, kernel_regularizer=reg)(L.Concatenate()([x, h])))


def pima_a():
    return _seq((8,), L.Dense(24, 'relu', kernel_regularizer=l2(0.1)), _bn(), _drop(),
                L.Dense(12, 'relu', kernel_regularizer=l2(0.1)), _bn(), _drop(), L.Dense(1, kernel_regularizer=l2(0.1)))


def conv_denoise_ae():
    return _seq((28, 28, 1), _conv(32), _pool(), _conv(16), _pool(), _conv(1), _pool(padding='same'), _conv(1),
                L.UpSampling2D(2), _conv(16), L.UpSampling2D(2), _conv(32, padding='valid'), L.UpSampling2D(2),
                _conv(1, activation='sigmoid'))


def mnist_dense_bn(dropout):
    extra = (lambda: [_drop()]) if dropout else (lambda: [])
    return _seq((784,), L.Dense(784, 'relu', kernel_regularizer=l2(0.01)), _bn(), *extra(),
                L.Dense(100, 'relu', kernel_regularizer=l2(0.01)), _bn(), *extra(),
                L.Dense(10, kernel_regularizer=l2(0.01)))


def mnist_conv_24_12():
    return _seq((28, 28, 1), _conv(10, 24, kernel_regularizer=l2(0.01)), _pool(),
                _conv(10, 12, kernel_regularizer=l2(0.01)), L.Flatten(), L.Dense(10, kernel_regularizer=l2(0.01)))


def alexnet_cifar100():
    return _seq((32, 32, 3), _conv(96, 3, strides=4), _bn(), _pool(), _conv(256, 5), _bn(), _pool(),
                _conv(384), _bn(), _conv(184), _bn(), _conv(256), _bn(), _pool(), L.Flatten(), _drop(), _bn(),
                L.Dense(1024, 'relu'), _drop(), _bn(), L.Dense(1024, 'relu'), L.Dense(100, 'softmax'))


def vgg16_half_cifar100():
    blocks = []
    for filters, n in ((32, 2), (64, 2), (128, 3), (256, 3), (256, 3)):
        for _ in range(n):
            blocks += [_conv(filters), _bn()]
        blocks.append(_pool())
    return _seq((32, 32, 3), *blocks, L.Flatten(), _drop(), _bn(), L.Dense(6272, 'relu'), _drop(), _bn(),
                L.Dense(1024, 'relu'), _drop(), _bn(), L.Dense(1024, 'relu'), L.Dense(100, 'softmax'))


# --- tp4b ----------------------------------------------------------------------------------------------
def imdb_dense(variant):
    reg = l2(0.01) if variant == 'l2' else None
    middle = {'bn': _bn, 'dropout': lambda: _drop(0.5)}.get(variant)
    extra = (lambda: [middle()]) if middle else (lambda: [])
    return _seq((10000,), L.Dense(100, 'relu', kernel_regularizer=reg), *extra(),
                L.Dense(50, 'relu', kernel_regularizer=reg), *extra(), L.Dense(1, 'sigmoid', kernel_regularizer=reg))


def imdb_embed_dense_b():
    return _seq((100,), L.Embedding(10000, 15), L.Flatten(), L.Dense(200, 'relu'), _drop(0.5), L.Dense(1, 'sigmoid'))


def imdb_conv1d_b():
    return _seq((100,), L.Embedding(10000, 15), L.Conv1D(128, 2, activation='relu'), _drop(0.5), L.MaxPooling1D(2),
                L.Flatten(), L.Dense(1, 'sigmoid'))


def pima_b():
    sizes = (250, 100, 50, 50, 50)
    return _seq((8,), *[L.Dense(n, 'relu', kernel_regularizer=l2(0.01)) for n in sizes],
                L.Dense(1, 'sigmoid', kernel_regularizer=l2(0.01)))


def dense_denoise_ae():
    sizes = (1500, 750, 250, 750, 1500)
    return _seq((784,), *[L.Dense(n, 'relu', kernel_regularizer=l2(1e-3)) for n in sizes], L.Dense(784, 'sigmoid'))


def mnist_dense_b():
    return _seq((784,), L.Dense(100, 'relu'), _drop(0.15), L.Dense(10, 'sigmoid'))


def mnist_conv_b():
    return _seq((28, 28, 1), _conv(16, padding='valid'), _conv(16, padding='valid'), _drop(0.5), L.Flatten(),
                L.Dense(10, 'sigmoid'))


# --- cifar10_m -------------------------------------------------------------------------------------
def muestra(n):
    head = {1: [L.Dense(32, 'relu'), L.Dense(10, 'softmax')],
            3: [L.Dense(32, 'relu'), L.Dense(64, 'relu'), _drop(0.2), L.Dense(10, 'softmax')]}
    if n in head:
        return _seq((32, 32, 3), _conv(32), _pool(), L.Flatten(), *head[n])
    if n == 4:
        return _seq((32, 32, 3), _conv(32), _pool(), _conv(32), _pool(), _drop(), L.Flatten(), L.Dense(32, 'relu'),
                    L.Dense(64, 'relu'), _drop(), L.Dense(10, 'softmax'))
    if n == 6:
        return _seq((32, 32, 3), _conv(32), _pool(), _conv(64), _pool(), _conv(128), _pool(), _drop(), L.Flatten(),
                    L.Dense(512, 'relu'), _drop(), L.Dense(512, 'relu'), _drop(), L.Dense(10, 'softmax'))
    he = dict(kernel_initializer='he_uniform', kernel_regularizer=l2(1e-3))
    if n == 7:
        return _seq((32, 32, 3), _conv(32, **he), _pool(), _drop(), _conv(64, **he), _pool(), _drop(),
                    _conv(128, **he), _pool(), _drop(), L.Flatten(), L.Dense(512, 'relu', **he), _bn(),
                    L.Dense(512, 'relu', **he), _drop(), _bn(), L.Dense(512, 'relu', **he), _drop(0.1),
                    L.Dense(10, 'softmax'))
    raise ValueError(n)


def muestra_vgg(variant):
    reg = 5e-4 if variant in ('11', '12') else 1e-3
    with_bn = variant == '12'

    def conv(filters):
        layer = _conv(filters, kernel_initializer='he_uniform', kernel_regularizer=l2(reg))
        return [layer, _bn()] if with_bn else [layer]
    stack = conv(64) + conv(64) + [_pool(), _drop(0.2)] + conv(128) + conv(128) + [_pool(), _drop()]
    stack += conv(256) + conv(256) + conv(256) + [_pool(), _drop()]
    stack += conv(512) + conv(512) + conv(512) + conv(512) + [_pool()] + conv(512) + conv(512) + [_drop(0.4)]
    if variant == '8':
        head = [L.Dense(512, 'relu'), _bn(), L.Dense(512, 'relu'), _drop(0.1), _bn(), L.Dense(10, 'softmax')]
    else:
        head = [L.Dense(512, 'relu'), _bn(), _drop(0.5), L.Dense(512, 'relu'), _bn(), _drop(0.5),
                L.Dense(10, 'softmax')]
    return _seq((32, 32, 3), *stack, L.Flatten(), *head)


def muestra09_head():
    return _seq((1, 1, 512), L.Flatten(), L.Dense(512, 'relu'), _bn(), _drop(), L.Dense(512, 'relu'), _bn(), _drop(),
                L.Dense(1))


# --- cifar10_k -----------------------------------------------------------------------------------------
def _block(filters, init, reg, order, act=L.ReLU):
    """conv (no activation) -> BN -> activation, or conv(relu) -> BN for order 'act-bn'."""
    if order == 'act-bn':
        return [_conv(filters, kernel_initializer=init, kernel_regularizer=reg), _bn()]
    return [_conv(filters, activation=None, kernel_initializer=init, kernel_regularizer=reg), _bn(), act()]


def _dense_block(units, init, reg, order, act=L.ReLU, bn=True):
    if order == 'act-bn':
        return [L.Dense(units, 'relu', kernel_initializer=init), _bn()]
    return [L.Dense(units, kernel_initializer=init, kernel_regularizer=reg)] + ([_bn()] if bn else []) + [act()]


def arch1(improved):
    order, reg = ('bn-act', l2(1e-4)) if improved else ('act-bn', None)
    b = lambda f: _block(f, 'he_normal', reg, order)  # noqa: E731
    first_drop = [_drop()] if improved else []
    return _seq((32, 32, 3), *b(64), *first_drop, *b(64), _pool(), _drop(), *b(128), *b(128), _pool(),
                _drop(0.4 if improved else 0.3), L.Flatten(),
                *_dense_block(256, 'he_normal', reg, order), _drop(0.5 if improved else 0.4),
                *_dense_block(128, 'he_normal', reg, order), _drop(0.5 if improved else 0.4), L.Dense(10, 'softmax'))


def arch2(leaky):
    act = (lambda: L.LeakyReLU(alpha=0.1)) if leaky else L.ReLU
    b = lambda f: _block(f, 'he_normal', None, 'bn-act', act)  # noqa: E731
    return _seq((32, 32, 3), *b(32), _pool(), _drop(0.25), *b(64), _pool(), _drop(), *b(128), _pool(), _drop(),
                *b(128), _drop(0.4), L.Flatten(), *_dense_block(256, 'he_normal', None, 'bn-act', act, bn=not leaky),
                _drop(0.4), *_dense_block(128, 'he_normal', None, 'bn-act', act, bn=not leaky), _drop(0.4),
                L.Dense(10, 'softmax'))


def arch3():
    b = lambda f: _block(f, 'he_uniform', l2(1e-4), 'bn-act')  # noqa: E731
    pair = lambda f: [*b(f), _drop(), *b(f), _pool(), _drop(0.4)]  # noqa: E731
    return _seq((32, 32, 3), *pair(64), *pair(128), *pair(128), L.Flatten(),
                *_dense_block(256, 'he_uniform', l2(1e-4), 'bn-act'), _drop(0.5),
                *_dense_block(128, 'he_uniform', l2(1e-4), 'bn-act'), _drop(0.5), L.Dense(10, 'softmax'))


def transfer_head(rate):
    return [*_dense_block(256, 'he_uniform', l2(1e-4), 'bn-act'), _drop(rate),
            *_dense_block(128, 'he_uniform', l2(1e-4), 'bn-act'), _drop(rate), L.Dense(10, 'softmax')]


def vgg16_features_head():
    return _seq((25088,), *transfer_head(0.6))


def vgg16_finetune():
    x = L.Input((224, 224, 3))
    h = x
    for block, (filters, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for i in range(1, n + 1):
            h = _conv(filters, name=f'block{block}_conv{i}')(h)
        h = _pool(name=f'block{block}_pool')(h)
    base = Model(x, L.Flatten(name='flatten')(h), name='model_prevgg16')
    trainable = False
    for layer in base.layers:
        trainable = trainable or layer.name == 'block5_conv1'
        layer.trainable = trainable
    return _seq((224, 224, 3), base, *transfer_head(0.5))


# --- cifar100_b ------------------------------------------------------------------------------------
def basenet():
    return _seq((32, 32, 3), _conv(6, 5, 'valid'), _pool(), _conv(16, 5, 'valid'), _pool(), L.Flatten(),
                L.Dense(50, 'relu'), L.Dense(25, 'softmax'))


def mired(filters, kernel, dense, drops=(None, None), dense_drop=None):
    def conv(f):
        return _conv(f, kernel, 'valid')
    d1 = [_drop(drops[0])] if drops[0] else []
    d2 = [_drop(drops[1])] if drops[1] else []
    head = []
    for units in dense:
        head += [L.Dense(units, 'relu')] + ([_drop(dense_drop)] if dense_drop else [])
    return _seq((32, 32, 3), conv(filters[0]), *d1, conv(filters[1]), _pool(), conv(filters[2]), *d2,
                conv(filters[3]), _pool(), L.Flatten(), *head, L.Dense(25, 'softmax'))


def mired_bn(version):
    def unit(f=None, units=None, dense=False):
        core = L.Dense(units) if dense else _conv(f, 3, 'valid', activation=None)
        act = L.Activation('relu')
        if version == 3:
            return [core, _bn(), act]
        if dense and version == 1:
            return [core, act]
        return [core, act, _bn()]
    return _seq((32, 32, 3), *unit(32), _drop(0.25), *unit(64), _pool(), *unit(64), _drop(0.25), *unit(128), _pool(),
                L.Flatten(), *unit(units=512, dense=True), _drop(0.5), *unit(units=256, dense=True), _drop(0.5),
                L.Dense(25, 'softmax'))


def resnet_feature_head(v3):
    hidden = [L.Dense(512, 'relu'), _drop(0.5), L.Dense(256, 'relu'), _drop(0.5)] if v3 else \
        [L.Dense(512, 'relu'), _drop(0.75)]
    return _seq((2048,), *hidden, L.Dense(200, 'softmax'))


CATALOGUE = {
    'tp4a.ej1_boston_linear': (tp4a_linear, 14, 14, 0),
    'tp4a.ej2a_cifar10_mse_l2': (lambda: mlp_cifar10(0.05), 308_310, 308_310, 0),
    'tp4a.ej2b_cifar10_cce_l2': (lambda: mlp_cifar10(0.05), 308_310, 308_310, 0),
    'tp4a.ej2c_xor': (xor, 9, 9, 0),
    'tp4a.ej2c_xor_concat': (xor_concat, 7, 7, 0),
    'tp4a.ej3_imdb_bow_l2': (lambda: imdb_bow('l2'), 1_011_121, 1_011_121, 0),
    'tp4a.ej3_imdb_bow_l2_bn': (lambda: imdb_bow('bn'), 1_011_561, 1_011_341, 220),
    'tp4a.ej3_imdb_bow_l2_dropout': (lambda: imdb_bow('dropout'), 1_011_121, 1_011_121, 0),
    'tp4a.ej4_imdb_embed_dense': (imdb_embed_concat, 1_937_121, 1_937_121, 0),
    'tp4a.ej4_imdb_conv1d': (imdb_conv1d_a, 329_489, 329_329, 160),
    'tp4a.ej5_logistic_map': (logistic_map, 17, 17, 0),
    'tp4a.ej6_pima_kfold': (pima_a, 673, 601, 72),
    'tp4a.ej7_conv_denoise_ae': (conv_denoise_ae, 10_188, 10_188, 0),
    'tp4a.ej8_mnist_dense': (lambda: mnist_dense_bn(False), 698_486, 696_718, 1_768),
    'tp4a.ej8_mnist_dense_dropout': (lambda: mnist_dense_bn(True), 698_486, 696_718, 1_768),
    'tp4a.ej8_mnist_conv': (mnist_conv_24_12, 39_790, 39_790, 0),
    'tp4a.ej9_perm_mnist_dense': (lambda: mnist_dense_bn(True), 698_486, 696_718, 1_768),
    'tp4a.ej9_perm_mnist_conv': (mnist_conv_24_12, 39_790, 39_790, 0),
    'tp4a.ej10_alexnet_cifar100': (alexnet_cifar100, 3_987_836, 3_982_924, 4_912),
    'tp4a.ej10_vgg16_cifar100': (vgg16_half_cifar100, 12_906_372, 12_887_044, 19_328),
    'tp4b.ej1_boston_linear': (tp4a_linear, 14, 14, 0),
    'tp4b.ej2a_cifar10_mse_l2': (lambda: mlp_cifar10(1e-3), 308_310, 308_310, 0),
    'tp4b.ej2a_cifar10_hinge_l2': (lambda: mlp_cifar10(1e-3), 308_310, 308_310, 0),
    'tp4b.ej2a_cifar10_cce_l2': (lambda: mlp_cifar10(1e-3, 'softmax'), 308_310, 308_310, 0),
    'tp4b.ej2b_cifar10_cce_l2': (lambda: mlp_cifar10(1e-4, 'softmax'), 308_310, 308_310, 0),
    'tp4b.ej2c_xor': (xor, 9, 9, 0),
    'tp4b.ej3_imdb_dense': (lambda: imdb_dense(None), 1_005_201, 1_005_201, 0),
    'tp4b.ej3_imdb_dense_l2': (lambda: imdb_dense('l2'), 1_005_201, 1_005_201, 0),
    'tp4b.ej3_imdb_dense_bn': (lambda: imdb_dense('bn'), 1_005_801, 1_005_501, 300),
    'tp4b.ej3_imdb_dense_dropout': (lambda: imdb_dense('dropout'), 1_005_201, 1_005_201, 0),
    'tp4b.ej4_imdb_embed_dense': (imdb_embed_dense_b, 450_401, 450_401, 0),
    'tp4b.ej4_imdb_conv1d': (imdb_conv1d_b, 160_241, 160_241, 0),
    'tp4b.ej5_logistic_map': (lambda: logistic_map(l2(0.01)), 17, 17, 0),
    'tp4b.ej6_pima_kfold': (pima_b, 37_551, 37_551, 0),
    'tp4b.ej7_dense_denoise_ae': (dense_denoise_ae, 4_982_534, 4_982_534, 0),
    'tp4b.ej8_mnist_dense': (mnist_dense_b, 79_510, 79_510, 0),
    'tp4b.ej8_mnist_conv': (mnist_conv_b, 94_650, 94_650, 0),
    'tp4b.ej9_perm_mnist_dense': (mnist_dense_b, 79_510, 79_510, 0),
    'tp4b.ej9_perm_mnist_conv': (mnist_conv_b, 94_650, 94_650, 0),
    'cifar10_m.muestra01': (lambda: muestra(1), 263_402, 263_402, 0),
    'cifar10_m.muestra02': (lambda: muestra(1), 263_402, 263_402, 0),
    'cifar10_m.muestra03': (lambda: muestra(3), 265_834, 265_834, 0),
    'cifar10_m.muestra04': (lambda: muestra(4), 78_474, 78_474, 0),
    'cifar10_m.muestra05': (lambda: muestra(4), 78_474, 78_474, 0),
    'cifar10_m.muestra06': (lambda: muestra(6), 1_410_122, 1_410_122, 0),
    'cifar10_m.muestra07': (lambda: muestra(7), 1_676_874, 1_674_826, 2_048),
    'cifar10_m.muestra08': (lambda: muestra_vgg('8'), 16_035_658, 16_033_610, 2_048),
    'cifar10_m.muestra09 (head)': (muestra09_head, 529_921, 527_873, 2_048),
    'cifar10_m.muestra10': (lambda: muestra_vgg('8'), 16_035_658, 16_033_610, 2_048),
    'cifar10_m.muestra11': (lambda: muestra_vgg('11'), 16_035_658, 16_033_610, 2_048),
    'cifar10_m.muestra12': (lambda: muestra_vgg('12'), 16_052_554, 16_042_058, 10_496),
    'cifar10_k.arch1': (lambda: arch1(False), 2_394_826, 2_393_290, 1_536),
    'cifar10_k.arch1_improved': (lambda: arch1(True), 2_394_826, 2_393_290, 1_536),
    'cifar10_k.arch2': (lambda: arch2(False), 802_506, 801_034, 1_472),
    'cifar10_k.arch2_leakyrelu': (lambda: arch2(True), 800_970, 800_266, 704),
    'cifar10_k.arch3': (arch3, 1_118_154, 1_116_106, 2_048),
    'cifar10_k.arch3_aug_strong': (arch3, 1_118_154, 1_116_106, 2_048),
    'cifar10_k.arch3_aug_mild': (arch3, 1_118_154, 1_116_106, 2_048),
    'cifar10_k.tl_vgg16_features (head)': (vgg16_features_head, 6_458_506, 6_457_738, 768),
    'cifar10_k.tl_vgg16_finetune_aug': (vgg16_finetune, 21_173_194, 13_537_162, 7_636_032),
    'cifar100_b.basenet': (basenet, 24_197, 24_197, 0),
    'cifar100_b.mired_v1': (lambda: mired((16, 26, 36, 46), 5, [50]), 87_049, 87_049, 0),
    'cifar100_b.mired_v2': (lambda: mired((32, 64, 128, 256), 5, [512]), 1_615_705, 1_615_705, 0),
    'cifar100_b.mired_v3': (lambda: mired((32, 64, 128, 256), 3, [512]), 3_678_553, 3_678_553, 0),
    'cifar100_b.mired_v4': (lambda: mired((32, 64, 64, 128), 3, [512], (0.5, 0.5)), 1_781_913, 1_781_913, 0),
    'cifar100_b.mired_v5': (lambda: mired((32, 64, 64, 128), 3, [512, 256], (0.25, 0.25), 0.5),
                            1_906_841, 1_906_841, 0),
    'cifar100_b.mired_bn_v1': (lambda: mired_bn(1), 1_907_993, 1_907_417, 576),
    'cifar100_b.mired_bn_v2': (lambda: mired_bn(2), 1_911_065, 1_908_953, 2_112),
    'cifar100_b.mired_bn_v3': (lambda: mired_bn(3), 1_911_065, 1_908_953, 2_112),
    'cifar100_b.mired_bn_v3_es': (lambda: mired_bn(3), 1_911_065, 1_908_953, 2_112),
    'cifar100_b.resnet50_feat_v1 (head)': (lambda: resnet_feature_head(False), 1_151_688, 1_151_688, 0),
    'cifar100_b.resnet50_feat_v2 (head)': (lambda: resnet_feature_head(False), 1_151_688, 1_151_688, 0),
    'cifar100_b.resnet50_feat_v3 (head)': (lambda: resnet_feature_head(True), 1_231_816, 1_231_816, 0),
}


def _size(weights):
    return int(sum(int(np.prod(w.shape)) for w in weights))


@pytest.mark.parametrize('model_id', sorted(CATALOGUE))
def test_parameter_counts_equal_the_catalogue(model_id):
    build, total, trainable, non_trainable = CATALOGUE[model_id]
    L.clear_session()
    model = build()
    assert (model.count_params(), _size(model.trainable_weights), _size(model.non_trainable_weights)) == \
        (total, trainable, non_trainable)


def test_catalogue_models_run_forward():
    """A forward pass on two samples for the small models (shape sanity beyond the counts)."""
    small = ('tp4a.ej4_imdb_conv1d', 'tp4a.ej7_conv_denoise_ae', 'cifar100_b.mired_bn_v1', 'tp4a.ej5_logistic_map')
    for model_id in small:
        model = CATALOGUE[model_id][0]()
        shape = model.input_shape
        x = np.random.default_rng(0).integers(0, 10, (2,) + shape[1:]).astype(np.float32)
        assert model(x).shape == (2,) + model.output_shape[1:]
