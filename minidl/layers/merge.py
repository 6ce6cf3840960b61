"""Layers that merge several inputs: Concatenate and Add (and their functional forms)."""
from .. import functional as F
from .base import Layer, format_shape


def _shapes_text(shapes):
    return ', '.join(format_shape(s) for s in shapes)


class _Merge(Layer):
    def _check_list(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on a list of at least 2 "
                             f'inputs, got {input_shape!r}.')


class Concatenate(_Merge):
    """Joins inputs along ``axis``; every other dimension must agree."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise ValueError(f"Layer '{self.name}' (Concatenate) needs inputs of the same rank, got shapes "
                             f'{_shapes_text(input_shape)}.')
        rank = ranks.pop()
        axis = self.axis % rank
        if axis == 0:
            raise ValueError(f"Layer '{self.name}' (Concatenate) cannot join along the batch axis.")
        out = list(input_shape[0])
        for shape in input_shape[1:]:
            for i, (a, b) in enumerate(zip(out, shape)):
                if i == axis or a is None or b is None:
                    continue
                if a != b:
                    raise ValueError(f"Layer '{self.name}' (Concatenate) joins along axis {self.axis}, so every other "
                                     f'dimension must match; got shapes {_shapes_text(input_shape)} '
                                     f'(axis {i} differs: {a} vs {b}).')
        sizes = [s[axis] for s in input_shape]
        out[axis] = None if any(n is None for n in sizes) else sum(sizes)
        return tuple(out)

    def call(self, inputs, training=False):
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        return F.concatenate(list(inputs), axis=self.axis % inputs[0].ndim)

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis}


class Add(_Merge):
    """Element-wise sum of inputs of the same shape."""

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        first = input_shape[0]
        for shape in input_shape[1:]:
            if len(shape) != len(first) or any(a is not None and b is not None and a != b
                                               for a, b in zip(first[1:], shape[1:])):
                raise ValueError(f"Layer '{self.name}' (Add) needs inputs of one shape, got shapes "
                                 f'{_shapes_text(input_shape)}.')
        return tuple(first)

    def call(self, inputs, training=False):
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form: ``Concatenate(axis)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """Functional form: ``Add()(inputs)``."""
    return Add(**kwargs)(inputs)
