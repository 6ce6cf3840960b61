"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019)."""
import math

from .. import backend
from .base_optimizer import Optimizer


class Adam(Optimizer):
    """With t the step (1, 2, ...):
        m <- b1 m + (1 - b1) g                       first moment
        v <- b2 v + (1 - b2) g^2                     second moment
        alpha = lr sqrt(1 - b2^t) / (1 - b1^t)       bias corrections folded into the step size
        w <- w - alpha m / (sqrt(v) + epsilon)
    (the paper's "epsilon hat" form, as Keras). ``amsgrad`` (Reddi et al. 2018) divides by the
    running maximum of v instead of v."""
    _kernel = 'optimizer.adam'

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ['momentum', 'velocity'])
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, 'velocity_hat')

    def update_step(self, gradient, variable, learning_rate):
        xp = backend.get_array_module(variable.data)
        g, w, t = gradient, variable.data, self.iterations + 1
        b1, b2 = self.beta_1, self.beta_2
        m, v = self.slot(variable, 'momentum'), self.slot(variable, 'velocity')
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        if self.amsgrad:
            v_hat = self.slot(variable, 'velocity_hat')
            v_hat[...] = xp.maximum(v_hat, v)
            v = v_hat
        alpha = learning_rate * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w -= alpha * m / (xp.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), 'beta_1': self.beta_1, 'beta_2': self.beta_2, 'epsilon': self.epsilon,
                'amsgrad': self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay: before each Adam step, w <- w - w weight_decay lr
    (the base class applies it for every optimizer; AdamW requires it, 0.004 by default)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         name=name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if self.weight_decay is None:
            raise ValueError('AdamW: weight_decay must be a float, got None (use Adam for no weight decay).')
