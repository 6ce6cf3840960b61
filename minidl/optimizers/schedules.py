"""Learning-rate schedules (``keras.optimizers.schedules``): objects called with the step count
(the optimizer's ``iterations``, starting at 0) that return the learning rate of that step.

    lr = schedules.CosineDecay(1e-3, decay_steps=10_000, warmup_target=3e-3, warmup_steps=500)
    optimizer = optimizers.AdamW(learning_rate=lr)

Each is a closed formula of the step, computed in Python (the step count lives on the host, so
no device work and no sync). Subclass ``LearningRateSchedule`` and define ``__call__(step)`` and
``get_config()`` for a schedule of your own.
"""
import math


class LearningRateSchedule:
    """Base class: ``__call__(self, step)`` returns the learning rate at ``step``."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f'__call__(self, step).')

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override get_config() "
                                  f'to be serializable.')

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            args = ', '.join(f'{k}={v!r}' for k, v in self.get_config().items() if k != 'name')
        except NotImplementedError:
            args = ''
        return f'{type(self).__name__}({args})'


def _step(step):
    """The step as a float (an int, a NumPy scalar, a 0-d array or Tensor)."""
    step = getattr(step, 'data', step)
    return float(step.item() if hasattr(step, 'item') else step)


def _positive(owner, name, value):
    if value <= 0:
        raise ValueError(f'{owner}: {name} must be > 0, got {value}.')


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * decay_rate ^ (step / decay_steps); with ``staircase``
    the exponent is floored (the rate drops every decay_steps steps)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name='ExponentialDecay'):
        _positive('ExponentialDecay', 'decay_steps', decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {'initial_learning_rate': self.initial_learning_rate, 'decay_steps': self.decay_steps,
                'decay_rate': self.decay_rate, 'staircase': self.staircase, 'name': self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] for step <= boundaries[0], values[i] for boundaries[i-1] < step <= boundaries[i],
    values[-1] for step > boundaries[-1]."""

    def __init__(self, boundaries, values, name='PiecewiseConstant'):
        if len(boundaries) != len(values) - 1:
            raise ValueError(f'PiecewiseConstantDecay: boundaries must have one entry fewer than values; got '
                             f'{len(boundaries)} boundaries and {len(values)} values.')
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step):
        step = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {'boundaries': self.boundaries, 'values': self.values, 'name': self.name}


class PolynomialDecay(LearningRateSchedule):
    """lr = (initial - end) * (1 - s / decay_steps) ^ power + end with s = min(step, decay_steps);
    with ``cycle`` decay_steps grows to the next multiple of itself above step (restarts)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name='PolynomialDecay'):
        _positive('PolynomialDecay', 'decay_steps', decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step = _step(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power + self.end_learning_rate

    def get_config(self):
        return {'initial_learning_rate': self.initial_learning_rate, 'decay_steps': self.decay_steps,
                'end_learning_rate': self.end_learning_rate, 'power': self.power, 'cycle': self.cycle,
                'name': self.name}


class InverseTimeDecay(LearningRateSchedule):
    """lr = initial_learning_rate / (1 + decay_rate * step / decay_steps) (floored with
    ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name='InverseTimeDecay'):
        _positive('InverseTimeDecay', 'decay_steps', decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)

    def get_config(self):
        return {'initial_learning_rate': self.initial_learning_rate, 'decay_steps': self.decay_steps,
                'decay_rate': self.decay_rate, 'staircase': self.staircase, 'name': self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter's SGDR without restarts), with an optional linear warmup:

    - without ``warmup_target``: lr = initial * ((1 - alpha) * 0.5 (1 + cos(pi s / decay_steps)) + alpha),
      s = min(step, decay_steps);
    - with it: for step < warmup_steps the rate rises linearly from initial_learning_rate to
      warmup_target; after that it decays as above from warmup_target over decay_steps steps."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name='CosineDecay', warmup_target=None,
                 warmup_steps=0):
        _positive('CosineDecay', 'decay_steps', decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, decay_from):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * fraction + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {'initial_learning_rate': self.initial_learning_rate, 'decay_steps': self.decay_steps,
                'alpha': self.alpha, 'name': self.name, 'warmup_target': self.warmup_target,
                'warmup_steps': self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017): the first period lasts
    ``first_decay_steps`` steps, each next one ``t_mul`` times longer, starting ``m_mul`` times
    lower; within a period the rate follows the cosine from its start down to alpha times it."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name='SGDRDecay'):
        _positive('CosineDecayRestarts', 'first_decay_steps', first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        fraction = _step(step) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restart
        cosine = 0.5 * self._m_mul ** restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {'initial_learning_rate': self.initial_learning_rate, 'first_decay_steps': self.first_decay_steps,
                't_mul': self._t_mul, 'm_mul': self._m_mul, 'alpha': self.alpha, 'name': self.name}


ALL_OBJECTS_DICT = {cls.__name__: cls for cls in (
    LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay,
    CosineDecayRestarts)}


def serialize(learning_rate_schedule):
    from ..saving import serialize_keras_object
    return serialize_keras_object(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    from ..saving import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT,
                                    printable_module_name='decay')
