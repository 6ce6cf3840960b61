"""Adamax: Adam with the infinity norm (Kingma & Ba 2015, section 7.1)."""
from .. import backend
from .base_optimizer import Optimizer


class Adamax(Optimizer):
    """With t the step (1, 2, ...):
        m <- b1 m + (1 - b1) g
        u <- max(b2 u, |g|)                          exponentially weighted infinity norm
        w <- w - lr m / ((1 - b1^t) (u + epsilon))"""
    _kernel = 'optimizer.adamax'

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
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

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._m, self._u = self.add_optimizer_variables(var_list, ['momentum', 'norm'])

    def update_step(self, gradient, variable, learning_rate):
        xp = backend.get_array_module(variable.data)
        g, w, t = gradient, variable.data, self.iterations + 1
        m, u = self.slot(variable, 'momentum'), self.slot(variable, 'norm')
        m[...] = self.beta_1 * m + (1 - self.beta_1) * g
        u[...] = xp.maximum(self.beta_2 * u, abs(g))
        w -= learning_rate * m / ((1 - self.beta_1 ** t) * (u + self.epsilon))

    def get_config(self):
        return {**super().get_config(), 'beta_1': self.beta_1, 'beta_2': self.beta_2, 'epsilon': self.epsilon}
