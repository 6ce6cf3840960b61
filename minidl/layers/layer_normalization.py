"""LayerNormalization, GroupNormalization and UnitNormalization (Keras 3's layers) over the ops
of ``functional/normalization_ops.py``: statistics per sample, so training and inference agree."""
import numpy as np

from .. import constraints, initializers, regularizers
from ..functional import normalization_ops as ops
from .base import InputSpec, Layer, format_shape


def _serialize(obj):
    from ..saving import serialize_keras_object
    return serialize_keras_object(obj)


def _check_axes(layer, axes, rank):
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): axis {a} is out of bounds for inputs of "
                             f'rank {rank}.')


class _Normalization(Layer):
    def _init_params(self, center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                     beta_constraint, gamma_constraint):
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def _params_config(self):
        return {'beta_initializer': _serialize(self.beta_initializer),
                'gamma_initializer': _serialize(self.gamma_initializer),
                'beta_regularizer': _serialize(self.beta_regularizer),
                'gamma_regularizer': _serialize(self.gamma_regularizer),
                'beta_constraint': _serialize(self.beta_constraint),
                'gamma_constraint': _serialize(self.gamma_constraint)}

    def compute_output_shape(self, input_shape):
        axes = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        _check_axes(self, axes, len(input_shape))
        return tuple(input_shape)


class LayerNormalization(_Normalization):
    """y = gamma (x - mean) / sqrt(var + epsilon) + beta, mean and variance of each sample over
    ``axis`` (an int or a list); gamma and beta have the sizes of those axes."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer='zeros',
                 gamma_initializer='ones', beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        rms_scaling = kwargs.pop('rms_scaling', False)
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"Layer '{self.name}' (LayerNormalization): axis must be an int or a list of ints, got "
                            f'{axis!r}.')
        self.epsilon = float(epsilon)
        self.rms_scaling = bool(rms_scaling)
        self._init_params(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                          beta_constraint, gamma_constraint)

    def build(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        _check_axes(self, axes, len(input_shape))
        self.axis = sorted(axes)
        shape = tuple(input_shape[a] for a in self.axis)
        if any(d is None for d in shape):
            raise ValueError(f"Layer '{self.name}' (LayerNormalization) needs known sizes on axes {self.axis}, got "
                             f'input shape {format_shape(input_shape)}.')
        self.gamma = self.add_weight(name='gamma', shape=shape, initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer, constraint=self.gamma_constraint) \
            if self.scale or self.rms_scaling else None
        self.beta = self.add_weight(name='beta', shape=shape, initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer, constraint=self.beta_constraint) \
            if self.center and not self.rms_scaling else None

    def call(self, inputs):
        return ops.layer_norm(inputs, self.gamma, self.beta, self.axis, self.epsilon, rms_scaling=self.rms_scaling)

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis, 'epsilon': self.epsilon, 'center': self.center,
                'scale': self.scale, 'rms_scaling': self.rms_scaling, **self._params_config()}


class GroupNormalization(_Normalization):
    """Normalizes each group of ``groups`` channel groups (axis ``axis``) of every sample over its
    channels and the other non-batch axes; per-channel gamma and beta. ``groups=-1``: one group
    per channel (instance normalization)."""

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer='zeros',
                 gamma_initializer='ones', beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or (groups <= 0 and groups != -1):
            raise ValueError(f"Layer '{self.name}' (GroupNormalization): groups must be a positive integer (or -1 for "
                             f'instance normalization), got {groups!r}.')
        self.groups, self.axis, self.epsilon = int(groups), int(axis), float(epsilon)
        self._init_params(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                          beta_constraint, gamma_constraint)

    def build(self, input_shape):
        _check_axes(self, [self.axis], len(input_shape))
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"Layer '{self.name}' (GroupNormalization): axis {self.axis} needs a known size, got input "
                             f'shape {format_shape(input_shape)}.')
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"Layer '{self.name}' (GroupNormalization): {self.groups} groups are more than the {dim} "
                             'channels; use at most as many groups as channels.')
        if dim % self.groups:
            raise ValueError(f"Layer '{self.name}' (GroupNormalization): {dim} channels cannot be split into "
                             f'{self.groups} equal groups; choose a divisor of {dim}.')
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        self.gamma = self.add_weight(shape=(dim,), name='gamma', initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer, constraint=self.gamma_constraint) \
            if self.scale else None
        self.beta = self.add_weight(shape=(dim,), name='beta', initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer, constraint=self.beta_constraint) \
            if self.center else None

    def call(self, inputs):
        return ops.group_norm(inputs, self.groups, self.gamma, self.beta, self.axis, self.epsilon)

    def get_config(self):
        return {**super().get_config(), 'groups': self.groups, 'axis': self.axis, 'epsilon': self.epsilon,
                'center': self.center, 'scale': self.scale, **self._params_config()}


class UnitNormalization(Layer):
    """y = x / ||x||_2 along ``axis`` (an int or a list)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"Layer '{self.name}' (UnitNormalization): axis must be an int or a list of ints, got "
                            f'{axis!r}.')
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return ops.unit_norm(inputs, self.axis)

    def compute_output_shape(self, input_shape):
        _check_axes(self, self.axis if isinstance(self.axis, list) else [self.axis], len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis}
