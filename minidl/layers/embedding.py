"""Embedding: integer ids -> rows of a learned (input_dim, output_dim) matrix."""
import numpy as np

from .. import constraints, initializers, regularizers
from ..functional.embedding import embedding
from .base import Layer, format_shape
from .options import positive_int, reject_unsupported, serialized


class Embedding(Layer):
    """(N, ...) integer ids -> (N, ..., output_dim); weight 'embeddings' of shape (input_dim, output_dim)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer='uniform', embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, input_length=None, activity_regularizer=None, **kwargs):
        if input_length is not None and kwargs.get('input_shape') is None:
            kwargs['input_shape'] = (input_length,) if isinstance(input_length, int) else tuple(input_length)
        super().__init__(activity_regularizer=activity_regularizer, weights=weights, **kwargs)
        self.input_dim = positive_int(self, 'input_dim', input_dim)
        self.output_dim = positive_int(self, 'output_dim', output_dim)
        reject_unsupported(self, lora_rank=lora_rank, quantization_config=quantization_config)
        self.input_length = input_length
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"Layer '{self.name}' (Embedding) needs a batch dimension, got input shape "
                             f'{format_shape(input_shape)}.')
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name='embeddings')

    def call(self, inputs, training=False):
        return embedding(inputs, self.embeddings)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        """With ``mask_zero``, id 0 is padding: the mask is True where the id is not 0."""
        if not self.mask_zero:
            return None
        ids = inputs.data if hasattr(inputs, 'data') else inputs
        return ids != 0

    def _output_dtype(self, inputs):
        return np.dtype(self.embeddings.dtype) if self.built else self._dtype

    def get_config(self):
        return {**super().get_config(), 'input_dim': self.input_dim, 'output_dim': self.output_dim,
                **serialized(self, 'embeddings_initializer', 'embeddings_regularizer', 'activity_regularizer',
                             'embeddings_constraint'),
                'mask_zero': self.mask_zero, 'quantization_config': None}
