"""FTRL-Proximal (McMahan et al. 2013), with L1, L2 and L2-shrinkage regularization."""
from .. import backend
from .base_optimizer import Optimizer


class Ftrl(Optimizer):
    """Per coordinate, with p = -learning_rate_power (1/2 by default) and
    l2 = l2_regularization_strength + beta / (2 lr):
        g~ = g + 2 l2_shrinkage w
        n' = n + g^2                                  accumulated squared gradients
        z <- z + g~ - (n'^p - n^p) / lr * w           the "linear" term
        w <- (clip(z, -l1, l1) - z) / (n'^p / lr + 2 l2)
        n <- n'
    (w is 0 wherever |z| <= l1: the L1 term gives sparse weights)."""
    _kernel = 'optimizer.ftrl'

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         **kwargs)
        for arg, value, rule in (('initial_accumulator_value', initial_accumulator_value, 'positive or zero'),
                                 ('l1_regularization_strength', l1_regularization_strength, 'positive or zero'),
                                 ('l2_regularization_strength', l2_regularization_strength, 'positive or zero'),
                                 ('l2_shrinkage_regularization_strength', l2_shrinkage_regularization_strength,
                                  'positive or zero')):
            if value < 0.0:
                raise ValueError(f'Ftrl: {arg} needs to be {rule}, got {value}.')
        if learning_rate_power > 0.0:
            raise ValueError(f'Ftrl: learning_rate_power needs to be negative or zero, got {learning_rate_power}.')
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        from ..initializers import Constant
        self._accumulators, self._linears = self.add_optimizer_variables(
            var_list, ['accumulator', 'linear'], initializer=[Constant(self.initial_accumulator_value), 'zeros'])

    def update_step(self, gradient, variable, learning_rate):
        xp = backend.get_array_module(variable.data)
        g, w, lr = gradient, variable.data, learning_rate
        n, z = self.slot(variable, 'accumulator'), self.slot(variable, 'linear')
        p = -self.learning_rate_power
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        g_shrunk = g + 2 * self.l2_shrinkage_regularization_strength * w
        n_new = n + g * g
        z += g_shrunk - (n_new ** p - n ** p) / lr * w
        quadratic = n_new ** p / lr + 2 * l2
        w[...] = (xp.clip(z, -l1, l1) - z) / quadratic
        n[...] = n_new

    def get_config(self):
        return {**super().get_config(), 'learning_rate_power': self.learning_rate_power,
                'initial_accumulator_value': self.initial_accumulator_value,
                'l1_regularization_strength': self.l1_regularization_strength,
                'l2_regularization_strength': self.l2_regularization_strength,
                'l2_shrinkage_regularization_strength': self.l2_shrinkage_regularization_strength,
                'beta': self.beta}
