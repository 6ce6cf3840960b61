"""Nadam: Adam with Nesterov momentum (Dozat 2016), with Keras' momentum schedule."""
import numpy as np

from .. import backend
from .base_optimizer import Optimizer, _host_variable


class Nadam(Optimizer):
    """With t the step (1, 2, ...) and the momentum schedule mu_t = b1 (1 - 0.5 * 0.96^t):
        P_t = mu_1 mu_2 ... mu_t                     (kept in a variable)
        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
        m_hat = mu_{t+1} m / (1 - P_t mu_{t+1}) + (1 - mu_t) g / (1 - P_t)
        v_hat = v / (1 - b2^t)
        w <- w - lr m_hat / (sqrt(v_hat) + epsilon)"""
    _kernel = 'optimizer.nadam'

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
        dtype = var_list[0].dtype if var_list else np.dtype(backend.floatx)
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ['momentum', 'velocity'])
        self._u_product = _host_variable(1.0, dtype, 'variable', f'{self.name}/variable')   # Keras' unnamed one
        self._variables.append(self._u_product)

    def _mu(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _update_step(self, grads, variables, lr):
        t = self.iterations + 1
        self._u_product.assign(float(self._u_product.data) * self._mu(t))     # P_t, once per step
        super()._update_step(grads, variables, lr)

    def update_step(self, gradient, variable, learning_rate):
        xp = backend.get_array_module(variable.data)
        g, w, t = gradient, variable.data, self.iterations + 1
        b1, b2 = self.beta_1, self.beta_2
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        p_t = float(self._u_product.data)
        p_next = p_t * mu_next
        m, v = self.slot(variable, 'momentum'), self.slot(variable, 'velocity')
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        m_hat = mu_next * m / (1 - p_next) + (1 - mu_t) * g / (1 - p_t)
        v_hat = v / (1 - b2 ** t)
        w -= learning_rate * m_hat / (xp.sqrt(v_hat) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), 'beta_1': self.beta_1, 'beta_2': self.beta_2, 'epsilon': self.epsilon}
