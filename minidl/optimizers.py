"""Optimizers with Keras' names, defaults and update rules.

Every optimizer updates ``weight.data`` in place. Its per-weight state ("slots": momenta,
velocities, accumulators) is created lazily the first time a weight is seen, and one shared
scratch buffer (as large as the largest weight) holds the temporaries, so a step allocates no
weight-sized arrays. ``learning_rate`` is a plain attribute that callbacks may set.

    opt = Adam(learning_rate=1e-3)
    opt.apply_gradients([(w.grad, w) for w in model.trainable_weights])   # or opt.step(weights)

Keras 2's ``lr=`` spelling and its time-based ``decay`` (lr_t = lr / (1 + decay * iterations))
are accepted by every optimizer, as the course code uses them.
"""
import math

from .autograd import Tensor
from .backend import elementwise_kernel, get_array_module, is_cupy


class Optimizer:
    """Base class: bookkeeping of learning rate, iteration count, slots and scratch space.

    Subclasses define ``_slot_names(self)`` and ``_update(w, g, slots, lr, *tmp)``, which
    updates the raw array ``w`` in place from the gradient array ``g``; ``tmp`` are
    ``_temporaries`` scratch arrays of ``w``'s shape and dtype, with undefined contents.
    """
    _temporaries = 1

    def __init__(self, learning_rate, name=None, decay=0.0, lr=None, **kwargs):
        if kwargs:
            raise TypeError(f'{type(self).__name__} got unexpected arguments {sorted(kwargs)}.')
        if lr is not None:
            learning_rate = lr
        self.learning_rate = learning_rate
        self.decay = float(decay)
        self.name = name or type(self).__name__
        self.iterations = 0
        self._slots = {}      # id(weight) -> (weight, {slot name: array})
        self._scratch = None  # flat buffer shared by all weights

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        value = float(value)
        if not value >= 0:
            raise ValueError(f'{type(self).__name__}: learning_rate must be >= 0, got {value}.')
        self._learning_rate = value

    lr = learning_rate  # Keras 2 spelling, readable and settable

    def current_learning_rate(self):
        """The learning rate of the next step, after Keras 2's time-based decay."""
        if self.decay:
            return self._learning_rate / (1.0 + self.decay * self.iterations)
        return self._learning_rate

    def apply_gradients(self, grads_and_vars):
        """Apply one step for each ``(gradient, weight)`` pair; gradients may be arrays or
        Tensors, and pairs with a ``None`` gradient are skipped. Returns ``iterations``."""
        pairs = [(_raw(g), w) for g, w in grads_and_vars if g is not None]
        lr = self.current_learning_rate()
        for g, w in pairs:
            g = get_array_module(w.data).asarray(g)  # a NumPy gradient for a weight on the GPU
            if g.shape != w.data.shape:
                raise ValueError(f'{self.name}: gradient of shape {g.shape} for weight '
                                 f'{_weight_name(w)} of shape {w.data.shape}.')
            self._update(w.data, g, self._slots_for(w), lr, *self._scratch_like(w.data))
        self.iterations += 1
        return self.iterations

    def step(self, weights):
        """One step on every weight of ``weights`` that has a ``.grad``."""
        return self.apply_gradients([(w.grad, w) for w in weights])

    def variables(self):
        """The slot arrays, weight by weight, in creation order."""
        return [a for _, slots in self._slots.values() for a in slots.values()]

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        """Constructor arguments as a dict (Keras' ``get_config``)."""
        return {k.lstrip('_'): v for k, v in vars(self).items()
                if isinstance(v, (int, float, bool, str)) and k != 'iterations'}

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in self.get_config().items() if k != 'name')
        return f'{type(self).__name__}({args})'

    # --- for subclasses ------------------------------------------------------------------
    def _slot_names(self):
        return ()

    def _slot_initial_value(self, name):
        return 0.0

    def _update(self, w, g, slots, lr, *tmp):
        raise NotImplementedError

    def _slots_for(self, weight):
        entry = self._slots.get(id(weight))
        if entry is None or entry[0] is not weight:
            xp = get_array_module(weight.data)
            slots = {}
            for name in self._slot_names():
                slots[name] = xp.full(weight.data.shape, self._slot_initial_value(name), weight.data.dtype)
            entry = self._slots[id(weight)] = (weight, slots)
        return entry[1]

    def _scratch_like(self, w):
        """``_temporaries`` views of shape ``w.shape`` into the shared scratch buffer."""
        n = self._temporaries * w.size
        buf = self._scratch
        if buf is None or buf.size < n or buf.dtype != w.dtype or type(buf) is not type(w):
            size = max(n, buf.size if buf is not None and buf.dtype == w.dtype else 0)
            buf = self._scratch = get_array_module(w).empty(size, w.dtype)
        return [buf[i * w.size:(i + 1) * w.size].reshape(w.shape) for i in range(self._temporaries)]


def _raw(g):
    return g.data if isinstance(g, Tensor) else g


def _weight_name(w):
    return repr(getattr(w, 'name', None) or 'unnamed')


class SGD(Optimizer):
    """Stochastic gradient descent (Keras rule).

    Without momentum: w -= lr g. With momentum: m = momentum m - lr g, then w += m, or with
    Nesterov w += momentum m - lr g.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, decay=0.0, name='SGD', **kwargs):
        super().__init__(learning_rate, name=name, decay=decay, **kwargs)
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f'SGD: momentum must be in [0, 1], got {momentum}.')
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _slot_names(self):
        return ('momentum',) if self.momentum else ()

    def _update(self, w, g, slots, lr, tmp):
        xp = get_array_module(w)
        if is_cupy(w) and self.momentum:
            kernel = elementwise_kernel(
                'minidl_sgd_momentum', 'T g, T lr, T mu, bool nesterov', 'T m, T w',
                'm = mu * m - lr * g; w += nesterov ? mu * m - lr * g : m')
            kernel(g, w.dtype.type(lr), w.dtype.type(self.momentum), self.nesterov, slots['momentum'], w)
            return
        if not self.momentum:
            xp.multiply(g, lr, out=tmp)
            w -= tmp
            return
        m = slots['momentum']
        m *= self.momentum
        xp.multiply(g, lr, out=tmp)
        m -= tmp
        if self.nesterov:
            w -= tmp
            xp.multiply(m, self.momentum, out=tmp)
            w += tmp
        else:
            w += m


class Adam(Optimizer):
    """Adam (Keras rule): m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
    w -= alpha m / (sqrt(v) + epsilon) with alpha = lr sqrt(1 - b2^t) / (1 - b1^t).
    ``amsgrad`` uses the running maximum of v instead of v."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 decay=0.0, name='Adam', **kwargs):
        super().__init__(learning_rate, name=name, decay=decay, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _slot_names(self):
        return ('momentum', 'velocity', 'velocity_hat') if self.amsgrad else ('momentum', 'velocity')

    def _update(self, w, g, slots, lr, tmp):
        xp = get_array_module(w)
        t = self.iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        m, v = slots['momentum'], slots['velocity']
        if is_cupy(w) and not self.amsgrad:
            kernel = elementwise_kernel(
                'minidl_adam', 'T g, T alpha, T b1, T b2, T eps', 'T m, T v, T w',
                'm = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g; w -= alpha * m / (sqrt(v) + eps)')
            kernel(g, *(w.dtype.type(c) for c in (alpha, self.beta_1, self.beta_2, self.epsilon)), m, v, w)
            return
        m *= self.beta_1
        xp.multiply(g, 1.0 - self.beta_1, out=tmp)
        m += tmp
        v *= self.beta_2
        xp.square(g, out=tmp)
        tmp *= 1.0 - self.beta_2
        v += tmp
        if self.amsgrad:
            v = xp.maximum(slots['velocity_hat'], v, out=slots['velocity_hat'])
        xp.sqrt(v, out=tmp)
        tmp += self.epsilon
        xp.divide(m, tmp, out=tmp)
        tmp *= alpha
        w -= tmp


class RMSprop(Optimizer):
    """RMSprop (Keras rule): v = rho v + (1-rho) g^2;  step = lr g / sqrt(v + epsilon)
    (centered: sqrt(v - a^2 + epsilon) with a = rho a + (1-rho) g); with momentum
    b = momentum b + step and w -= b, else w -= step."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 decay=0.0, name='RMSprop', **kwargs):
        super().__init__(learning_rate, name=name, decay=decay, **kwargs)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _slot_names(self):
        return (('velocity',) + (('momentum',) if self.momentum > 0 else ())
                + (('average_gradient',) if self.centered else ()))

    def _update(self, w, g, slots, lr, tmp):
        xp = get_array_module(w)
        v = slots['velocity']
        v *= self.rho
        xp.square(g, out=tmp)
        tmp *= 1.0 - self.rho
        v += tmp
        if self.centered:
            a = slots['average_gradient']
            a *= self.rho
            xp.multiply(g, 1.0 - self.rho, out=tmp)
            a += tmp
            xp.square(a, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            tmp += self.epsilon
        else:
            xp.add(v, self.epsilon, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= lr
        if self.momentum > 0:
            b = slots['momentum']
            b *= self.momentum
            b += tmp
            w -= b
        else:
            w -= tmp


class Adagrad(Optimizer):
    """Adagrad (Keras rule): a += g^2;  w -= lr g / sqrt(a + epsilon), with a starting at
    ``initial_accumulator_value``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 decay=0.0, name='Adagrad', **kwargs):
        super().__init__(learning_rate, name=name, decay=decay, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _slot_names(self):
        return ('accumulator',)

    def _slot_initial_value(self, name):
        return self.initial_accumulator_value

    def _update(self, w, g, slots, lr, tmp):
        xp = get_array_module(w)
        a = slots['accumulator']
        xp.square(g, out=tmp)
        a += tmp
        xp.add(a, self.epsilon, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= lr
        w -= tmp


class Adadelta(Optimizer):
    """Adadelta (Keras rule): a = rho a + (1-rho) g^2;
    d = -sqrt(s + epsilon) / sqrt(a + epsilon) g;  s = rho s + (1-rho) d^2;  w += lr d.

    The default learning rate follows Keras 3 (0.001). Keras 2 defaulted to 1.0, the value of
    the original paper; course code written for Keras 2 with ``Adadelta()`` or
    ``optimizer='adadelta'`` therefore trained much faster there — pass ``learning_rate=1.0``
    to reproduce it.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, decay=0.0, name='Adadelta', **kwargs):
        super().__init__(learning_rate, name=name, decay=decay, **kwargs)
        self.rho = float(rho)
        self.epsilon = float(epsilon)

    def _slot_names(self):
        return ('accumulated_grad', 'accumulated_delta_var')

    _temporaries = 2

    def _update(self, w, g, slots, lr, tmp, d):
        xp = get_array_module(w)
        a, s = slots['accumulated_grad'], slots['accumulated_delta_var']
        a *= self.rho
        xp.square(g, out=tmp)
        tmp *= 1.0 - self.rho
        a += tmp
        xp.add(a, self.epsilon, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.add(s, self.epsilon, out=d)
        xp.sqrt(d, out=d)
        d /= tmp
        d *= g                      # d holds -delta
        s *= self.rho
        xp.square(d, out=tmp)
        tmp *= 1.0 - self.rho
        s += tmp
        d *= lr
        w -= d


_ALIASES = {'sgd': SGD, 'adam': Adam, 'rmsprop': RMSprop, 'adagrad': Adagrad, 'adadelta': Adadelta}


def get(identifier):
    """An optimizer from a name ('adam', 'sgd', ...: Keras defaults) or an optimizer object."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower())
        if cls is None:
            raise ValueError(f'Unknown optimizer {identifier!r}; known names: {sorted(_ALIASES)}.')
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f'Could not interpret optimizer {identifier!r}: pass a name such as '
                     f"'adam' or an optimizer object such as minidl.optimizers.Adam(1e-3).")
