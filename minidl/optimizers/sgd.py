"""Stochastic gradient descent, with momentum and Nesterov momentum (Keras' form)."""
from .base_optimizer import Optimizer


class SGD(Optimizer):
    """Without momentum:  w <- w - lr g.
    With momentum mu (Keras keeps the velocity m, already scaled by lr):
        m <- mu m - lr g;   w <- w + m               (heavy ball, Polyak 1964)
        w <- w + mu m - lr g                          (Nesterov, Sutskever et al. 2013)
    """
    _kernel = 'optimizer.sgd'

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f'SGD: momentum must be a float in [0, 1], got {momentum!r}.')
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.momentums = self.add_optimizer_variables(var_list, 'momentum') if self.momentum != 0 else []

    def update_step(self, gradient, variable, learning_rate):
        g, w, lr = gradient, variable.data, learning_rate
        if self.momentum == 0:
            w -= lr * g
            return
        m = self.slot(variable, 'momentum')
        m[...] = self.momentum * m - lr * g
        if self.nesterov:
            w += self.momentum * m - lr * g
        else:
            w += m

    def get_config(self):
        return {**super().get_config(), 'momentum': self.momentum, 'nesterov': self.nesterov}
