"""BatchNormalization: per-channel standardisation with learned scale and shift."""
from .. import constraints, initializers, regularizers
from ..functional.norm import batch_norm
from .base import Layer, InputSpec, format_shape
from .options import reject_unsupported, serialized


class BatchNormalization(Layer):
    """y = gamma (x - mean) / sqrt(var + epsilon) + beta over the last (channel) axis.

    Training uses the batch statistics and updates the moving ones:
    moving = momentum * moving + (1 - momentum) * batch. Inference, and a frozen layer
    (``trainable=False``, as in Keras), use the moving statistics.
    Weights, in Keras order: gamma, beta (trainable), moving_mean, moving_variance (not).
    ``synchronized=True`` (Keras 3's argument): in training on several ranks
    (``minidl.distributed``), the mean and variance are those of the global batch, forward and
    backward; on one rank it changes nothing.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer='zeros', gamma_initializer='ones', moving_mean_initializer='zeros',
                 moving_variance_initializer='ones', beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        reject_unsupported(self, renorm=renorm, renorm_clipping=renorm_clipping)
        self.renorm, self.renorm_clipping, self.renorm_momentum = False, None, float(renorm_momentum)
        self.synchronized = bool(synchronized)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"Layer '{self.name}' (BatchNormalization) normalises one channel axis, "
                                 f'got axis={axis}.')
            axis = axis[0]
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization): momentum must be in [0, 1], got {momentum}.")
        if not self.epsilon > 0:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization): epsilon must be positive, got {epsilon}.")
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization) needs a batch and a channel axis, got input "
                             f'shape {format_shape(input_shape)}.')
        if self.axis not in (-1, rank - 1):
            raise ValueError(f"Layer '{self.name}' (BatchNormalization) supports the channels-last axis (-1 or "
                             f'{rank - 1}) only, got axis={self.axis} for input shape {format_shape(input_shape)}.')
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization) needs a known channel dimension, got input "
                             f'shape {format_shape(input_shape)}.')
        shape = (channels,)
        self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                     name='gamma') \
            if self.scale else None
        self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                    name='beta') \
            if self.center else None
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer,
                                           trainable=False, name='moving_mean')
        self.moving_variance = self.add_weight(shape=shape, initializer=self.moving_variance_initializer,
                                               trainable=False, name='moving_variance')
        self.input_spec = InputSpec(min_ndim=2, axes={-1: channels})

    def call(self, inputs, training=False):
        if self.synchronized and training and self.trainable:  # issue 20: the global batch's statistics
            from .. import distributed
            if distributed.active():
                return distributed.sync_batch_norm(inputs, self.gamma, self.beta, self.moving_mean,
                                                   self.moving_variance, self.momentum, self.epsilon)
        return batch_norm(inputs, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                          bool(training) and self.trainable, self.momentum, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis, 'momentum': self.momentum, 'epsilon': self.epsilon,
                'center': self.center, 'scale': self.scale,
                **serialized(self, 'beta_initializer', 'gamma_initializer', 'moving_mean_initializer',
                             'moving_variance_initializer', 'beta_regularizer', 'gamma_regularizer',
                             'beta_constraint', 'gamma_constraint'),
                'synchronized': self.synchronized, 'renorm': self.renorm, 'renorm_clipping': self.renorm_clipping,
                'renorm_momentum': self.renorm_momentum}
