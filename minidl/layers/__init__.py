"""Keras-style layers (floor 3): ``from minidl import layers; layers.Dense(10, activation='relu')``."""
from .base import Layer, InputSpec, KerasTensor, clear_session  # noqa: F401
from .core import InputLayer, Input, Dense, Flatten, Reshape, Lambda, Identity  # noqa: F401
from .activations import Activation, ReLU, LeakyReLU, ELU, PReLU, Softmax  # noqa: F401
from .conv import Conv1D, Conv2D, Convolution1D, Convolution2D  # noqa: F401
from .conv import (Conv3D, Convolution3D, Conv1DTranspose, Conv2DTranspose, Conv3DTranspose,  # noqa: F401
                   Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose, DepthwiseConv1D,
                   DepthwiseConv2D, SeparableConv1D, SeparableConv2D, SeparableConvolution1D,
                   SeparableConvolution2D)
from .pooling import (MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,  # noqa: F401
                      GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
                      GlobalMaxPooling2D, UpSampling2D, ZeroPadding2D, MaxPool1D, MaxPool2D,
                      AvgPool1D, AvgPool2D)
from .pooling import (MaxPooling3D, AveragePooling3D, GlobalAveragePooling3D, GlobalMaxPooling3D,  # noqa: F401
                      MaxPool3D, AvgPool3D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D,
                      GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D, UpSampling1D, UpSampling3D,
                      ZeroPadding1D, ZeroPadding3D, Cropping1D, Cropping2D, Cropping3D)
from .normalization import BatchNormalization  # noqa: F401
from .regularization import (Dropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,  # noqa: F401
                             ActivityRegularization)
from .noise import GaussianNoise, GaussianDropout, AlphaDropout  # noqa: F401
from .embedding import Embedding  # noqa: F401
from .reshaping import Permute  # noqa: F401
from .merge import Concatenate, Add, concatenate, add  # noqa: F401
from .merge import (Multiply, Subtract, Average, Maximum, Minimum, Dot, multiply, subtract,  # noqa: F401
                    average, maximum, minimum, dot)
from .preprocessing import (Rescaling, Normalization, Resizing, CenterCrop, RandomFlip,  # noqa: F401
                            RandomRotation, RandomZoom, RandomTranslation, RandomContrast,
                            RandomBrightness, RandomCrop)
from .text_vectorization import TextVectorization, StringLookup, IntegerLookup  # noqa: F401
from .rnn import (RNN, SimpleRNN, LSTM, GRU, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells,  # noqa: F401
                  Bidirectional, TimeDistributed)
from .attention import Attention, AdditiveAttention, MultiHeadAttention  # noqa: F401
from .layer_normalization import LayerNormalization, GroupNormalization, UnitNormalization  # noqa: F401
from .masking import Masking, RepeatVector  # noqa: F401


def serialize(layer):
    """Keras 3's config envelope of a layer (``minidl.saving.serialize_keras_object``)."""
    from ..saving.serialization_lib import serialize_keras_object
    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None, safe_mode=True):
    """The layer (or model) described by a Keras config: Keras 3's envelope, or Keras 2's
    ``{'class_name', 'config'}`` without a module."""
    from ..saving.serialization_lib import deserialize_keras_object
    namespace = {name: obj for name, obj in globals().items() if isinstance(obj, type) and issubclass(obj, Layer)}
    from .. import models
    namespace.update(Sequential=models.Sequential, Model=models.Model, Functional=models.Model)
    return deserialize_keras_object(config, custom_objects, safe_mode=safe_mode, module_objects=namespace,
                                    printable_module_name='layer')
