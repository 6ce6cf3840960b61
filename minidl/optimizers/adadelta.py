"""Adadelta (Zeiler 2012)."""
from .. import backend
from .base_optimizer import Optimizer


class Adadelta(Optimizer):
    """With RMS(x) = sqrt(x + epsilon):
        E[g^2] <- rho E[g^2] + (1 - rho) g^2
        delta = -RMS(E[dx^2]) / RMS(E[g^2]) g          the step, in the units of w
        E[dx^2] <- rho E[dx^2] + (1 - rho) delta^2
        w <- w + lr delta
    The default learning rate follows Keras 3 (0.001). Keras 2 defaulted to 1.0, the value of the
    paper; course code written for Keras 2 with ``Adadelta()`` or ``optimizer='adadelta'`` trained
    much faster there: pass ``learning_rate=1.0`` to reproduce it."""
    _kernel = 'optimizer.adadelta'

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                         **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            var_list, ['accumulated_grad', 'accumulated_delta_var'])

    def update_step(self, gradient, variable, learning_rate):
        xp = backend.get_array_module(variable.data)
        g, w, rho = gradient, variable.data, self.rho
        mean_g2 = self.slot(variable, 'accumulated_grad')
        mean_dx2 = self.slot(variable, 'accumulated_delta_var')

        def rms(x):
            return xp.sqrt(x + self.epsilon)
        mean_g2[...] = rho * mean_g2 + (1 - rho) * g * g
        delta = -rms(mean_dx2) / rms(mean_g2) * g
        mean_dx2[...] = rho * mean_dx2 + (1 - rho) * delta * delta
        w += learning_rate * delta

    def get_config(self):
        return {**super().get_config(), 'rho': self.rho, 'epsilon': self.epsilon}
