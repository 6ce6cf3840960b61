"""VGG19, as ``keras.applications.vgg19``: VGG16 with a fourth convolution in blocks 3, 4 and 5
(16 convolutions; 20,024,384 parameters without the top, 143,667,240 with it). Keras' ImageNet
files are ``vgg19_weights_tf_dim_ordering_tf_kernels[_notop].h5``; inputs in caffe mode.
"""
from . import imagenet_utils
from .vgg16 import build_vgg

WEIGHTS_PATH = ('https://storage.googleapis.com/tensorflow/keras-applications/vgg19/'
                'vgg19_weights_tf_dim_ordering_tf_kernels.h5')
WEIGHTS_PATH_NO_TOP = ('https://storage.googleapis.com/tensorflow/keras-applications/vgg19/'
                       'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5')
WEIGHTS_HASHES = ('cbe5617147190e668d6c5d5026f83318', '253f8cb515780f3b799900260a226db6')  # top, no top


def VGG19(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation='softmax', name='vgg19'):
    """The VGG19 model, optionally with Keras' ImageNet weights; the arguments are VGG16's."""
    return build_vgg((2, 2, 4, 4, 4), include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, name,
                     official_file(include_top))


def official_file(include_top):
    """(file name, URL, md5) of Keras' ImageNet weights for VGG19 with or without the top."""
    url, md5 = (WEIGHTS_PATH, WEIGHTS_HASHES[0]) if include_top else (WEIGHTS_PATH_NO_TOP, WEIGHTS_HASHES[1])
    return url.rsplit('/', 1)[1], url, md5


def preprocess_input(x, data_format=None):
    """Caffe mode: RGB -> BGR, minus the ImageNet mean of each channel, no scaling."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode='caffe')


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes per row of ``preds``: (class_name, description, score)."""
    return imagenet_utils.decode_predictions(preds, top=top)
