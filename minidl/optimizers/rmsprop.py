"""RMSprop (Hinton, Coursera lecture 6e), centered (Graves 2013) and with momentum."""
from .. import backend
from .base_optimizer import Optimizer


class RMSprop(Optimizer):
    """v <- rho v + (1 - rho) g^2                      running mean of squared gradients
    centered: a <- rho a + (1 - rho) g, and v - a^2 (a variance) replaces v below
    step = lr g / sqrt(v + epsilon)
    with momentum: b <- momentum b + step;  w <- w - b      else w <- w - step"""
    _kernel = 'optimizer.rmsprop'

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, 'velocity')
        self._momentums = self.add_optimizer_variables(var_list, 'momentum') if self.momentum > 0 else []
        self._average_gradients = self.add_optimizer_variables(var_list, 'average_gradient') if self.centered else []

    def update_step(self, gradient, variable, learning_rate):
        xp = backend.get_array_module(variable.data)
        g, w, rho = gradient, variable.data, self.rho
        v = self.slot(variable, 'velocity')
        v[...] = rho * v + (1 - rho) * g * g
        if self.centered:
            a = self.slot(variable, 'average_gradient')
            a[...] = rho * a + (1 - rho) * g
            denominator = v - a * a + self.epsilon
        else:
            denominator = v + self.epsilon
        step = learning_rate * g / xp.sqrt(denominator)
        if self.momentum > 0:
            b = self.slot(variable, 'momentum')
            b[...] = self.momentum * b + step
            w -= b
        else:
            w -= step

    def get_config(self):
        return {**super().get_config(), 'rho': self.rho, 'momentum': self.momentum, 'epsilon': self.epsilon,
                'centered': self.centered}
