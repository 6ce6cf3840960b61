"""Data preprocessing: image augmentation (``image``), sequence padding (``sequence``), text (``text``)."""
from . import image, sequence, text  # noqa: F401
from .image import ImageDataGenerator  # noqa: F401
from .sequence import pad_sequences  # noqa: F401
from .text import text_to_word_sequence, vectorize_sequences  # noqa: F401
