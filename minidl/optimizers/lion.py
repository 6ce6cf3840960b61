"""Lion: evolved sign momentum (Chen et al. 2023)."""
from .. import backend
from .base_optimizer import Optimizer


class Lion(Optimizer):
    """The update is the sign of an interpolation of momentum and gradient; the momentum is
    updated with a second, slower rate:
        w <- w - lr sign(b1 m + (1 - b1) g)
        m <- b2 m + (1 - b2) g
    Use a learning rate 3-10x smaller than AdamW's (the sign makes every step of size lr)."""
    _kernel = 'optimizer.lion'

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError(f'Lion: beta_1 must be in (0, 1] (otherwise the optimizer degenerates to SignSGD), '
                             f'got {beta_1}.')

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, 'momentum')

    def update_step(self, gradient, variable, learning_rate):
        xp = backend.get_array_module(variable.data)
        g, w = gradient, variable.data
        m = self.slot(variable, 'momentum')
        w -= learning_rate * xp.sign(self.beta_1 * m + (1 - self.beta_1) * g)
        m[...] = self.beta_2 * m + (1 - self.beta_2) * g

    def get_config(self):
        return {**super().get_config(), 'beta_1': self.beta_1, 'beta_2': self.beta_2}
