"""Structural layers that move values without changing them: ``Permute``."""
from .. import functional as F
from .base import InputSpec, Layer, format_shape


class Permute(Layer):
    """Reorders the non-batch axes by ``dims`` (numbered from 1): ``Permute((2, 1))`` turns
    (batch, 10, 64) into (batch, 64, 10). The gradient is permuted back."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Layer '{self.name}' (Permute): dims must be a permutation of 1 .. {len(dims)} (axis 0 "
                             f'is the batch and stays first), got dims={dims}.')
        self.dims = dims
        self.input_spec = InputSpec(ndim=len(dims) + 1, describe=f' (batch and the {len(dims)} axes of dims={dims})')
        self.built = True

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Layer '{self.name}' (Permute) with dims={self.dims} expects a {len(self.dims) + 1}-D "
                             f'input, got input shape {format_shape(input_shape)}.')
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, inputs):
        return F.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), 'dims': self.dims}
