"""functional/geometry.py, the one home of window geometry, against Keras 3's own shape rules
(when Keras is installed) and against the padding the ops actually apply."""
import itertools

import numpy as np
import pytest

from minidl import Tensor, layers
from minidl.functional import conv, geometry

CASES = list(itertools.product(range(1, 9), range(1, 6), range(1, 4), (1, 2)))  # size, kernel, stride, dilation


@pytest.mark.parametrize('padding', ['valid', 'same', 'causal'])
def test_output_length_is_keras_conv_output_shape(keras, padding):
    from keras.src.ops.operation_utils import compute_conv_output_shape
    for n, k, s, d in CASES:
        if padding == 'valid' and (k - 1) * d + 1 > n:
            continue
        expected = compute_conv_output_shape((1, n, 1), 1, (k,), s, padding, dilation_rate=d)[1]
        assert geometry.output_length(n, k, s, padding, d) == expected, (n, k, s, d)


def test_pooling_output_shape_is_keras(keras):
    from keras.src.ops.operation_utils import compute_pooling_output_shape
    for (n, k, s, _), padding in itertools.product(CASES, ('valid', 'same')):
        if padding == 'valid' and k > n:
            continue
        expected = compute_pooling_output_shape((1, n, 1), (k,), (s,), padding)[1]
        assert geometry.output_length(n, k, s, padding) == expected


@pytest.mark.parametrize('padding', ['valid', 'same'])
def test_transposed_output_length_is_keras(keras, padding):
    from keras.src.backend.common.backend_utils import compute_conv_transpose_output_shape
    for (n, k, s, d), extra in itertools.product(CASES, (None, 0, 1)):
        if extra is not None and extra >= s:
            continue
        expected = compute_conv_transpose_output_shape((1, n, 1), (k,), 1, s, padding, extra, dilation_rate=d)[1]
        assert geometry.transposed_output_length(n, k, s, padding, extra, d) == expected, (n, k, s, d, extra)


def test_pads_give_the_output_length():
    """The pads the ops apply produce exactly output_length windows, for every rule."""
    for (n, k, s, d), padding in itertools.product(CASES, geometry.PADDINGS):
        if padding == 'valid' and (k - 1) * d + 1 > n:
            continue
        (before, after), = geometry.pad_amounts((n,), (k,), (s,), padding, (d,))
        out, = geometry.padded_output_shape((n,), ((before, after),), (k,), (s,), dilation=(d,))
        assert out == geometry.output_length(n, k, s, padding, d)
        if padding == 'same':
            assert after - before in (0, 1)     # TensorFlow's rule: the extra zero goes after
        if padding == 'causal':
            assert after == 0


def test_layers_and_ops_share_the_rule():
    x = Tensor(np.zeros((1, 9, 7, 2)))
    for padding, strides in (('same', (2, 3)), ('valid', (1, 2))):
        layer = layers.Conv2D(3, (4, 2), strides=strides, padding=padding)
        assert layer.compute_output_shape((1, 9, 7, 2)) == layer(x).shape
        assert conv.conv2d(x, Tensor(np.zeros((4, 2, 2, 3))), None, strides, padding).shape == layer(x).shape


def test_errors_name_the_owner_and_the_value():
    with pytest.raises(ValueError, match=r"conv2d: strides must be a positive int or a sequence of 2 .* got \(1, 0\)"):
        geometry.normalize_tuple((1, 0), 2, 'strides', 'conv2d')
    with pytest.raises(ValueError, match="Layer 'c': padding must be 'valid' or 'same', got 'full'"):
        layers.Conv2D(2, 3, padding='full', name='c')
    with pytest.raises(ValueError, match='does not fit'):
        geometry.padded_output_shape((3,), ((0, 0),), (5,), (1,), 'max_pool1d')
    assert geometry.normalize_padding('SAME') == 'same'
