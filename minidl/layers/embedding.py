"""Embedding: integer ids -> rows of a learned (input_dim, output_dim) matrix."""
import numpy as np

from ..functional.embedding import embedding
from .base import Layer, format_shape


class Embedding(Layer):
    """(N, ...) integer ids -> (N, ..., output_dim); weight 'embeddings' of shape (input_dim, output_dim)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer='uniform', embeddings_regularizer=None,
                 input_length=None, **kwargs):
        if input_length is not None and kwargs.get('input_shape') is None:
            kwargs['input_shape'] = (input_length,) if isinstance(input_length, int) else tuple(input_length)
        super().__init__(**kwargs)
        if int(input_dim) <= 0 or int(output_dim) <= 0:
            raise ValueError(f"Layer '{self.name}' (Embedding): input_dim and output_dim must be positive, "
                             f'got {input_dim!r} and {output_dim!r}.')
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.input_length = input_length
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"Layer '{self.name}' (Embedding) needs a batch dimension, got input shape "
                             f'{format_shape(input_shape)}.')
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer, name='embeddings')

    def call(self, inputs, training=False):
        return embedding(inputs, self.embeddings)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _output_dtype(self, inputs):
        return np.dtype(self.embeddings.dtype)
