"""``keras.applications.resnet50``: ResNet50 with its preprocessing and decoding (the same
functions as in ``resnet``)."""
from .resnet import ResNet50, decode_predictions, preprocess_input  # noqa: F401
