"""``keras.ops.image`` on minidl tensors (channels-last batches of images)."""
from .core import symbolic, _t


@symbolic
def resize(images, size, interpolation='bilinear', antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode='constant', fill_value=0.0, data_format=None):
    """Resize (N, H, W, C) or (H, W, C) images to ``size`` = (height, width), as Keras does."""
    from ..layers import Resizing
    x = _t(images)
    single = x.ndim == 3
    if single:
        x = x.reshape((1,) + tuple(x.shape))
    layer = Resizing(int(size[0]), int(size[1]), interpolation=interpolation,
                     **({'crop_to_aspect_ratio': True} if crop_to_aspect_ratio else {}))
    y = layer(x)
    return y.reshape(tuple(y.shape[1:])) if single else y
