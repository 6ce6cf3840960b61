"""Layers that merge several inputs: Concatenate, Add, Multiply, Subtract, Average, Maximum,
Minimum and Dot, and their functional forms (``concatenate``, ``add``, ``multiply``, ...)."""
from .. import functional as F
from ..backend import get_array_module
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


# --- The other merge layers of Keras 3: Multiply, Subtract, Average, Maximum, Minimum, Dot ----------

def broadcast_shape(layer, shape1, shape2):
    """Keras' elementwise output shape of two shapes without their batch axis: aligned at the last
    axis, a 1 broadcasts, None stays unknown."""
    if shape1 is None or shape2 is None:
        return None
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    if not shape2:
        return tuple(shape1)
    out = list(shape1[:len(shape1) - len(shape2)])
    for a, b in zip(shape1[len(shape1) - len(shape2):], shape2):
        if a is None or b is None:
            out.append(None)
        elif a == 1 or b == 1:
            out.append(b if a == 1 else a)
        elif a != b:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): inputs of shapes {tuple(shape1)} and "
                             f'{tuple(shape2)} (batch axis left out) do not broadcast: each axis, counted from the '
                             'last, must be equal or 1.')
        else:
            out.append(a)
    return tuple(out)


def _mask_of(x):
    return getattr(x, '_keras_mask', None)


class _ElementwiseMerge(Layer):
    """Keras' ``Merge``: a list of inputs merged elementwise with broadcasting (inputs of lower rank
    get size-1 axes after the batch axis); the output mask is the OR of the input masks."""
    exact_inputs = None   # Subtract: exactly 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_inputs(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape \
                or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on a list of inputs, "
                             f'got input shape {input_shape!r}.')
        if self.exact_inputs is not None and len(input_shape) != self.exact_inputs:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on exactly "
                             f'{self.exact_inputs} inputs, got {len(input_shape)}: {_shapes_text(input_shape)}.')
        batches = {s[0] for s in input_shape if s} - {None}
        if len(batches) > 1:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) cannot merge inputs with different batch "
                             f'sizes: {_shapes_text(input_shape)}.')
        return batches

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        batches = self._check_inputs(input_shape)
        out = tuple(input_shape[0][1:])
        for shape in input_shape[1:]:
            out = broadcast_shape(self, out, tuple(shape[1:]))
        return (batches.pop() if batches else None,) + out

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on a list of inputs, "
                             f'got a single {type(inputs).__name__}.')
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        rank = max(x.ndim for x in inputs)
        expanded = []
        for x in inputs:
            if x.ndim < rank:
                y = F.reshape(x, (x.shape[0],) + (1,) * (rank - x.ndim) + tuple(x.shape[1:]))
                expanded.append(y)
            else:
                expanded.append(x)
        masks = [_mask_of(x) for x in inputs]
        return self._merge(expanded, masks)

    def _merge(self, inputs, masks):
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): give one mask per input (None for none), "
                             f'got {mask!r} for {len(inputs)} inputs.')
        if any(m is None for m in mask):
            return None
        out = _raw(mask[0])
        for m in mask[1:]:
            out = out | _raw(m)
        return out


def _raw(mask):
    return mask.data if hasattr(mask, 'requires_grad') else mask


def _broadcast_mask(mask, x):
    """A (batch, steps) mask spread over x's trailing feature axis."""
    xp = get_array_module(x.data)
    m = xp.asarray(_raw(mask)).astype(bool)
    return xp.broadcast_to(m[..., None], x.shape)


class Multiply(_ElementwiseMerge):
    """The elementwise product of the inputs. With masks, masked positions count as 1 in the
    product and the output is 0 where every input is masked."""

    def _merge(self, inputs, masks):
        if any(m is not None for m in masks):
            all_masked = all(m is not None for m in masks)
            union, out = None, None
            for x, m in zip(inputs, masks):
                if m is not None:
                    m = _broadcast_mask(m, x)
                    x = F.where(m, x, 1.0)
                    union = m if union is None else union | m
                out = x if out is None else out * x
            if all_masked:
                out = F.where(union, out, 0.0)
            return out
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Subtract(_ElementwiseMerge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""
    exact_inputs = 2

    def _merge(self, inputs, masks):
        return inputs[0] - inputs[1]


class Average(_ElementwiseMerge):
    """The elementwise mean of the inputs."""

    def _merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / float(len(inputs))


class _MaskedExtremum(_ElementwiseMerge):
    """Maximum / Minimum: a masked input takes the running result's value (and the other way
    round), so a masked position never wins; the output mask is the OR of the masks."""
    op = None

    def _merge(self, inputs, masks):
        out, out_mask = None, None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = _broadcast_mask(m, x)
            if out is None:
                out, out_mask = x, m
                continue
            if m is not None:
                x = F.where(m, x, out)
            if out_mask is not None:
                out = F.where(out_mask, out, x)
            out_mask = (out_mask | m) if m is not None and out_mask is not None else None
            out = type(self).op(out, x)
        return out


class Maximum(_MaskedExtremum):
    """The elementwise maximum of the inputs."""
    op = staticmethod(F.maximum)


class Minimum(_MaskedExtremum):
    """The elementwise minimum of the inputs."""
    op = staticmethod(F.minimum)


def _l2_normalize(x, axis, epsilon=1e-7):
    """x / max(||x||, epsilon) along ``axis`` (Keras' ``ops.normalize``: x * min(rsqrt(sum x^2), 1 / eps))."""
    square_sum = F.sum(x * x, axis=axis, keepdims=True)
    return x / F.sqrt(F.maximum(square_sum, epsilon * epsilon))


def batch_dot(x, y, axes):
    """Keras' ``batch_dot``: for each sample, the dot product of ``x`` and ``y`` over ``x``'s axis
    ``axes[0]`` and ``y``'s axis ``axes[1]``. The output shape is x's shape without that axis,
    then y's without its batch axis and that axis (two vectors give (batch, 1)). Done as
    one batched matrix product: x's contracted axis moved last, y's moved to position 1."""
    x_ndim, y_ndim = x.ndim, y.ndim
    a0, a1 = axes
    orig_x_ndim, orig_y_ndim = x_ndim, y_ndim
    if x_ndim == 2:
        x = F.expand_dims(x, 1)
        a0, x_ndim = a0 + 1, 3
    if y_ndim == 2:
        y = F.expand_dims(y, 2)
        y_ndim = 3
    if a0 != x_ndim - 1:
        x = F.transpose(x, [i for i in range(x_ndim) if i != a0] + [a0])
    if a1 != 1:
        y = F.transpose(y, [0, a1] + [i for i in range(1, y_ndim) if i != a1])
    x_mid, y_tail = tuple(x.shape[1:-1]), tuple(y.shape[2:])
    x3 = F.reshape(x, (x.shape[0], -1, x.shape[-1])) if x_ndim > 3 else x
    y3 = F.reshape(y, (y.shape[0], y.shape[1], -1)) if y_ndim > 3 else y
    out = F.matmul(x3, y3)
    if x_ndim > 3 or y_ndim > 3:
        out = F.reshape(out, (out.shape[0],) + x_mid + y_tail)
    if orig_x_ndim == 2:
        out = F.squeeze(out, 1)
    elif orig_y_ndim == 2:
        out = F.squeeze(out, -1)
    return out


class Dot(Layer):
    """The dot product of two inputs along ``axes`` (an int for both, or one axis per input; never
    the batch axis), e.g. (batch, 3, 5) . (batch, 10, 3) with ``axes=(1, 2)`` -> (batch, 5, 10).
    ``normalize=True`` L2-normalizes both along their axes first (a cosine similarity)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Layer '{self.name}' (Dot): axes must be an int or a pair of ints, got {axes!r}.")
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(f"Layer '{self.name}' (Dot): axes must be an int or a pair of ints (one axis per "
                                 f'input), got {axes!r}.')
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = True

    def _axes(self, shapes):
        if isinstance(self.axes, int):
            axes = [self.axes % len(shapes[0]), self.axes % len(shapes[1])] if self.axes < 0 else [self.axes] * 2
        else:
            axes = [a % len(s) if a < 0 else a for a, s in zip(self.axes, shapes)]
        for a, s in zip(axes, shapes):
            if a == 0 or a >= len(s):
                raise ValueError(f"Layer '{self.name}' (Dot): axes {self.axes} must name non-batch axes of the inputs "
                                 f'of shapes {_shapes_text(shapes)}.')
        return axes

    def _check(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 \
                or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"Layer '{self.name}' (Dot) must be called on a list of 2 inputs, got input shape "
                             f'{input_shape!r}.')
        shapes = [tuple(s) for s in input_shape]
        if any(len(s) < 2 for s in shapes):
            raise ValueError(f"Layer '{self.name}' (Dot) needs inputs of rank 2 or more, got {_shapes_text(shapes)}.")
        axes = self._axes(shapes)
        d1, d2 = shapes[0][axes[0]], shapes[1][axes[1]]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(f"Layer '{self.name}' (Dot): the dot-product axes must have one size, got {d1} (axis "
                             f'{axes[0]} of the first input) and {d2} (axis {axes[1]} of the second); shapes '
                             f'{_shapes_text(shapes)}.')
        b1, b2 = shapes[0][0], shapes[1][0]
        if b1 is not None and b2 is not None and b1 != b2:
            raise ValueError(f"Layer '{self.name}' (Dot) cannot take the dot product of inputs with different batch "
                             f'sizes: {_shapes_text(shapes)}.')
        return shapes, axes

    def build(self, input_shape):
        self._check(input_shape)

    def compute_output_shape(self, input_shape):
        (shape1, shape2), axes = self._check(input_shape)
        shape1, shape2 = list(shape1), list(shape2)
        shape1.pop(axes[0])
        shape2.pop(axes[1])
        shape2.pop(0)
        out = shape1 + shape2
        if len(out) == 1:
            out.append(1)
        return tuple(out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"Layer '{self.name}' (Dot) must be called on a list of exactly 2 inputs.")
        _, axes = self._check([tuple(x.shape) for x in inputs])
        x1, x2 = inputs
        if self.normalize:
            x1, x2 = _l2_normalize(x1, axes[0]), _l2_normalize(x2, axes[1])
        return batch_dot(x1, x2, axes)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), 'axes': self.axes, 'normalize': self.normalize}


def multiply(inputs, **kwargs):
    """Functional form: ``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form: ``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form: ``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form: ``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form: ``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Functional form: ``Dot(axes, **kwargs)(inputs)`` (``normalize=`` among the kwargs)."""
    return Dot(axes=axes, **kwargs)(inputs)
