"""The optimizer base class: Keras 3's bookkeeping around each optimizer's update rule.

One call of ``apply(grads, trainable_variables)`` (or ``apply_gradients(zip(grads, variables))``)
does, in Keras' order:

1. **gradient accumulation** (``gradient_accumulation_steps=k``): the gradients are added to
   accumulators, and only every k-th call updates the weights, with the mean of the k gradients;
2. **clipping**: ``clipnorm`` (each gradient to that L2 norm), ``global_clipnorm`` (all gradients
   together), or ``clipvalue`` (each entry to [-v, v]);
3. **weight decay** (``weight_decay=wd``), decoupled: ``w -= w * wd * lr``;
4. the optimizer's **update rule** ``update_step(gradient, variable, learning_rate)``;
5. **EMA** (``use_ema``): a moving average of the weights, ``a = m a + (1 - m) w`` (``m`` =
   ``ema_momentum``, 0 at the first step), copied into the weights every
   ``ema_overwrite_frequency`` steps, or by ``finalize_variable_values`` at the end of ``fit``;

then each variable's ``constraint``, and ``iterations += 1``.

The update rules (``update_step`` of each optimizer) are the reference: plain NumPy expressions
on the raw arrays, written as the papers write them. Their fused in-place forms (one pass, no
temporaries; fused CUDA kernels on the GPU) are in ``minidl/kernels/optimizers.py``, registered
as ``'optimizer.<name>'``; ``MINIDL_KERNELS=reference`` runs the reference rules alone.

State: ``variables`` lists, in Keras' order, the iteration count, the learning rate (when it
is a number), then what ``build(var_list)`` creates: EMA averages, gradient accumulators, and
the optimizer's slots (``momentum``, ``velocity``, ...) weight by weight. ``save_own_variables``
and ``load_own_variables`` write and read them as Keras does (a dict-like of arrays keyed '0',
'1', ...). ``learning_rate`` is a number, a ``LearningRateSchedule`` (called with the iteration
count) or a callable without arguments; Keras 2's ``lr=`` and time-based ``decay=``
(``lr / (1 + decay * iterations)``) keep working.
"""
import re
import warnings

import numpy as np

from .. import backend, kernels
from ..autograd import Tensor, Variable
from . import schedules as schedules_module

from ..kernels import optimizers as _fast_forms  # noqa: F401  (registers the fused update rules)


class _ScalarFloat(float):
    """A Python float that also answers the Keras Variable calls ``numpy()``, ``item()`` and
    ``assign(value)`` (``optimizer.learning_rate.assign(1e-4)``)."""

    def __new__(cls, value, setter=None):
        obj = super().__new__(cls, value)
        obj._setter = setter
        return obj

    def numpy(self):
        return np.asarray(float(self), dtype=backend.floatx)

    def item(self):
        return float(self)

    def assign(self, value):
        if self._setter is None:
            raise TypeError('This learning rate comes from a schedule or a callable and cannot be assigned.')
        self._setter(value)


class _ScalarInt(int):
    """A Python int that also answers ``numpy()``, ``item()`` and ``assign(value)`` (Keras'
    ``optimizer.iterations`` is a Variable)."""

    def __new__(cls, value, setter=None):
        obj = super().__new__(cls, value)
        obj._setter = setter
        return obj

    def __reduce__(self):          # pickled (sent to other ranks, saved) as the plain int it is
        return int, (int(self),)

    def numpy(self):
        return np.asarray(int(self), dtype=np.int32)

    def item(self):
        return int(self)

    def assign(self, value):
        if self._setter is None:
            raise TypeError('iterations cannot be assigned while gradients are accumulated.')
        self._setter(value)


def _host_variable(value, dtype, name, path):
    """A scalar Variable kept on the host even under CuPy: the step count and the learning rate
    are read by Python at every step, and a device scalar would cost a sync each time."""
    v = Variable(np.asarray(value, dtype=dtype), trainable=False, name=name, path=path)
    if not isinstance(v.data, np.ndarray):
        v.data = np.asarray(value, dtype=dtype)
    return v


def _auto_name(class_name):
    from ..layers.base import to_snake_case, unique_name
    return unique_name(to_snake_case(class_name))


def _raw(g):
    return g.data if isinstance(g, Tensor) else g


class Optimizer:
    """Base class of Keras 3's optimizers (see the module docstring). A subclass defines
    ``build(var_list)`` (calling ``super().build`` and creating its slots with
    ``add_optimizer_variables``), ``update_step(gradient, variable, learning_rate)`` on raw
    arrays, and ``get_config``."""
    _kernel = None   # name of the fast form in minidl.kernels ('optimizer.adam'), if any

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, decay=0.0, lr=None, **kwargs):
        self._lock = False
        owner = type(self).__name__
        if kwargs:
            raise ValueError(f'{owner}: argument(s) not recognized: {sorted(kwargs)}.')
        if lr is not None:                      # Keras 2 spelling
            learning_rate = lr
        self.name = name or _auto_name(owner)
        self.decay = float(decay or 0.0)        # Keras 2's time-based decay (Keras 3 ignores it)
        if self.decay < 0:
            raise ValueError(f'{owner}: decay must be >= 0, got {decay}.')
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        if gradient_accumulation_steps is not None and not (isinstance(gradient_accumulation_steps, int)
                                                            and gradient_accumulation_steps >= 2):
            raise ValueError(f'{owner}: gradient_accumulation_steps must be an integer >= 2, got '
                             f'{gradient_accumulation_steps!r}.')
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(f'{owner}: ema_momentum must be in [0, 1], got {ema_momentum}.')
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError(f'{owner}: ema_overwrite_frequency must be an integer >= 1 or None, got '
                                 f'{ema_overwrite_frequency!r}.')
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f'{owner}: only one of clipnorm, clipvalue and global_clipnorm can be set; got '
                             f'clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}.')
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._index = {}                         # id(variable) -> position in _trainable_variables
        self._slots = []                         # per trainable variable: {slot name: Variable}
        self._missing_warned = set()
        self._iterations = _host_variable(0, np.int32, 'iteration', f'{self.name}/iteration')
        self._variables.append(self._iterations)
        self._learning_rate = None
        self._set_learning_rate(learning_rate)

    # --- learning rate and iterations ---------------------------------------------------------------
    def _set_learning_rate(self, value):
        owner = type(self).__name__
        if isinstance(value, schedules_module.LearningRateSchedule) or (callable(value) and not isinstance(
                value, (int, float, np.number, Tensor))):
            if isinstance(self._learning_rate, Variable) and self._learning_rate in self._variables:
                self._variables.remove(self._learning_rate)
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
            raise TypeError(f'{owner} was created with a LearningRateSchedule as its learning_rate, so its '
                            f'learning rate cannot be set; create the optimizer with a float learning_rate to '
                            f'set it (e.g. from a callback).')
        try:
            value = float(_raw(value))
        except (TypeError, ValueError):
            raise ValueError(f'{owner}: learning_rate must be a float, a LearningRateSchedule or a callable '
                             f'returning the rate; got {value!r}.') from None
        if not value >= 0:
            raise ValueError(f'{owner}: learning_rate must be >= 0, got {value}.')
        if isinstance(self._learning_rate, Variable):
            self._learning_rate.assign(value)
        else:
            self._learning_rate = _host_variable(value, backend.floatx, 'learning_rate', f'{self.name}/learning_rate')
            self._variables.insert(1, self._learning_rate)       # right after the iteration count

    @property
    def learning_rate(self):
        """The learning rate of the next step: the number (settable), ``schedule(iterations)``
        or ``callable()`` (before Keras 2's ``decay``)."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return _ScalarFloat(float(lr.data), self._set_learning_rate)
        if isinstance(lr, schedules_module.LearningRateSchedule):
            return _ScalarFloat(float(_raw(lr(int(self._iterations.data)))))
        return _ScalarFloat(float(_raw(lr())))

    @learning_rate.setter
    def learning_rate(self, value):
        self._set_learning_rate(value)

    lr = learning_rate   # Keras 2 spelling, readable and settable

    def _current_learning_rate(self):
        """The rate the next update uses: ``learning_rate`` after Keras 2's time-based decay."""
        lr = float(self._learning_rate.data) if isinstance(self._learning_rate, Variable) else float(self.learning_rate)
        if self.decay:
            lr = lr / (1.0 + self.decay * int(self._iterations.data))
        return lr

    def current_learning_rate(self):
        return self._current_learning_rate()

    @property
    def iterations(self):
        """The number of update steps done (with gradient accumulation: of real updates)."""
        count = int(self._iterations.data)
        if self.gradient_accumulation_steps:
            return _ScalarInt(count // self.gradient_accumulation_steps)
        return _ScalarInt(count, lambda v: self._iterations.assign(int(v)))

    # --- variables ---------------------------------------------------------------------------------------
    @property
    def variables(self):
        """Every state variable in Keras' order (the order of saved files)."""
        return list(self._variables)

    def add_variable(self, shape, initializer='zeros', dtype=None, aggregation='none', name=None):
        """A state variable of the optimizer (on the device of the active backend)."""
        from .. import initializers
        init = initializers.get(initializer)
        dtype = np.dtype(dtype or backend.floatx)
        value = backend.as_array(init(tuple(shape), dtype=dtype), dtype)
        v = Variable(value, trainable=False, name=name, path=f'{self.name}/{name}', aggregation=aggregation)
        self._variables.append(v)
        return v

    def add_variable_from_reference(self, reference_variable, name=None, initializer='zeros'):
        """A variable shaped like ``reference_variable`` (and on its device, in its dtype), named
        ``<its path with '/' as '_'>_<name>`` as Keras names them."""
        from .. import initializers
        ref = _variable_label(reference_variable)
        full = f'{ref}_{name or "var"}'
        init = initializers.get(initializer)
        data = reference_variable.data
        xp = backend.get_array_module(data)
        value = xp.asarray(init(tuple(data.shape), dtype=data.dtype), dtype=data.dtype)
        v = Variable(value, trainable=False, name=full, path=f'{self.name}/{full}')
        if type(v.data) is not type(data):      # keep the slot on its weight's device
            v.data = xp.asarray(value)
        self._variables.append(v)
        return v

    def add_optimizer_variables(self, trainable_variables, name, initializer='zeros'):
        """For each name (a string or a list), one variable per trainable variable; returns the
        list of them (a tuple of lists for several names), and records them as the slots that
        ``update_step`` finds with ``self.slot(variable, name)``."""
        names = [name] if isinstance(name, str) else list(name)
        inits = initializer if isinstance(initializer, (list, tuple)) else [initializer] * len(names)
        if len(names) != len(inits):
            raise ValueError(f'{type(self).__name__}: {len(names)} names but {len(inits)} initializers.')
        out = tuple([] for _ in names)
        for var in trainable_variables:
            for k, (slot, init) in enumerate(zip(names, inits)):
                v = self.add_variable_from_reference(var, name=slot, initializer=init)
                out[k].append(v)
                self._slots[self._index[id(var)]][slot] = v
        return out[0] if isinstance(name, str) else out

    def slot(self, variable, name):
        """The raw array of slot ``name`` ('momentum', ...) of ``variable``."""
        return self._slots[self._index[id(variable)]][name].data

    def build(self, var_list):
        """Create the state for the variables ``var_list`` (EMA averages, gradient accumulators;
        subclasses add their slots after calling this)."""
        var_list = list(var_list)
        self._trainable_variables = var_list[:]
        self._index = {id(v): i for i, v in enumerate(var_list)}
        self._slots = [{} for _ in var_list]
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(var_list, 'average')
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = self.add_optimizer_variables(var_list, 'gradient_accumulator')
        self.built = True

    # --- applying gradients ---------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """One step from ``(gradient, variable)`` pairs; returns ``iterations``. Pass every
        trainable variable each time (a ``None`` gradient skips it): the first call builds the
        state for exactly those variables."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self.iterations

    def step(self, weights):
        """One step on ``weights`` from their ``.grad`` (a minidl shortcut)."""
        return self.apply_gradients([(w.grad, w) for w in weights])

    def apply(self, grads, trainable_variables=None):
        """One step: update ``trainable_variables`` (the built ones when omitted) from ``grads``."""
        grads = list(grads)
        if not grads:
            return
        owner = type(self).__name__
        if trainable_variables is None:
            if not self.built:
                raise ValueError(f'{owner}: when grads are given without variables, the optimizer must already '
                                 f'be built on the variables: call optimizer.build(trainable_variables) first.')
            if len(grads) != len(self._trainable_variables):
                raise ValueError(f'{owner}: {len(grads)} gradients for the {len(self._trainable_variables)} '
                                 f'variables the optimizer was built with; give one per variable, in order.')
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
                self.built = True
            index, known = self._index, self._trainable_variables
            unknown = [v for v in trainable_variables if known[index.get(id(v), -1)] is not v] if known else \
                list(trainable_variables)
            if unknown:
                raise ValueError(f'{owner}: unknown variable {_variable_label(unknown[0])!r}: this optimizer was '
                                 f'built for {len(self._trainable_variables)} other variables. Create a new '
                                 f'optimizer (compile the model again) when the set of trainable weights changes.')
        pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
        if not pairs:
            raise ValueError(f'{owner}: no gradients provided for any variable.')
        if len(pairs) < len(trainable_variables):
            missing = tuple(_variable_label(v) for g, v in zip(grads, trainable_variables) if g is None)
            if missing not in self._missing_warned:
                self._missing_warned.add(missing)
                warnings.warn(f'{owner}: gradients do not exist for variables {list(missing)} when minimizing the '
                              f'loss; they are not updated.', stacklevel=3)
        grads = [self._as_gradient(g, v) for g, v in pairs]
        variables = [v for _, v in pairs]
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        self._apply_gradients(grads, variables)
        for v in variables:
            constraint = getattr(v, 'constraint', None)
            if constraint is not None:
                v.assign(constraint(v.data))
        self._iterations.data += 1

    def _as_gradient(self, g, v):
        """A gradient as an array on its variable's device, with its shape and dtype."""
        g = _raw(g)
        w = v.data
        if type(g) is type(w) and g.shape == w.shape and g.dtype == w.dtype:
            return g
        xp = backend.get_array_module(w)
        if type(g) is not type(w):
            g = xp.asarray(backend.to_numpy(g) if xp is np else g)
        if g.shape != w.shape:
            raise ValueError(f'{self.name}: gradient of shape {tuple(g.shape)} for variable '
                             f'{_variable_label(v)!r} of shape {tuple(w.shape)}.')
        return g if g.dtype == w.dtype else g.astype(w.dtype)

    def _apply_gradients(self, grads, variables):
        """Accumulation, clipping, weight decay, update, EMA (Keras' ``_backend_apply_gradients``)."""
        if self.gradient_accumulation_steps:
            steps = self.gradient_accumulation_steps
            accumulators = [self._accumulated_gradients[self._index[id(v)]] for v in variables]
            if (int(self._iterations.data) + 1) % steps == 0:
                grads = [(g + acc.data) / steps for g, acc in zip(grads, accumulators)]
                self._update(grads, variables)
                for acc in accumulators:
                    acc.data[...] = 0
            else:
                for g, acc in zip(grads, accumulators):
                    acc.data += g
        else:
            self._update(grads, variables)
        if self.use_ema:
            self._update_model_variables_moving_average(self._trainable_variables)
            if self.ema_overwrite_frequency and (self.iterations + 1) % self.ema_overwrite_frequency == 0:
                self._overwrite_model_variables_with_average_value(self._trainable_variables)

    def _update(self, grads, variables):
        grads = self._clip_gradients(grads)
        lr = self._current_learning_rate()
        self._apply_weight_decay(variables, lr)
        self._update_step(grads, variables, lr)

    def _update_step(self, grads, variables, lr):
        """Every variable's update: the fused fast form when one is registered for this backend
        (and this configuration), else the reference ``update_step``."""
        fast = kernels.find(self._kernel, variables[0].data, optimizer=self) if self._kernel else None
        if fast is not None:
            t = self.iterations + 1
            for g, v in zip(grads, variables):
                fast(self, g, v.data, self._slots[self._index[id(v)]], lr, t)
        else:
            for g, v in zip(grads, variables):
                self.update_step(g, v, lr)

    def update_step(self, gradient, variable, learning_rate):
        """Update ``variable.data`` in place from the raw ``gradient`` array (the reference rule)."""
        raise NotImplementedError(f'{type(self).__name__} must define update_step(gradient, variable, learning_rate).')

    # --- clipping, weight decay, EMA -----------------------------------------------------------------------------
    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            return [backend.get_array_module(g).clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt variables (objects, or names matching any of ``var_names``) from weight decay;
        call before the first step."""
        if self.built:
            raise ValueError('exclude_from_weight_decay() can only be configured before the optimizer is built.')
        self._exclude_from_weight_decay = {id(v) for v in (var_list or [])}
        self._exclude_from_weight_decay_pattern = re.compile('|'.join(set(var_names))) if var_names else None

    def _use_weight_decay(self, variable):
        if id(variable) in getattr(self, '_exclude_from_weight_decay', ()):
            return False
        pattern = getattr(self, '_exclude_from_weight_decay_pattern', None)
        return not (pattern is not None and re.search(pattern, str(getattr(variable, 'name', None) or '')))

    def _apply_weight_decay(self, variables, lr):
        """Decoupled weight decay: w -= w * weight_decay * lr."""
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                v.data -= v.data * (self.weight_decay * lr)

    def _update_model_variables_moving_average(self, variables):
        """a = m a + (1 - m) w, with m = ema_momentum (0 at the first step: a starts at w)."""
        momentum = self.ema_momentum if self.iterations != 0 else 0.0
        for v, average in zip(variables, self._model_variables_moving_average):
            average.data[...] = momentum * average.data + (1 - momentum) * v.data

    def _overwrite_model_variables_with_average_value(self, variables):
        if len(variables) != len(self._model_variables_moving_average):
            raise ValueError(f'{self.name}: {len(variables)} variables to overwrite, but the optimizer holds '
                             f'{len(self._model_variables_moving_average)} moving averages; was it used on this '
                             f'model?')
        for v, average in zip(variables, self._model_variables_moving_average):
            v.assign(average.data)

    def finalize_variable_values(self, var_list):
        """At the end of training (``fit`` calls it): with ``use_ema``, the weights take their
        moving averages."""
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(list(var_list))

    # --- saving -------------------------------------------------------------------------------------------
    def set_weights(self, weights):
        if not self.built:
            raise ValueError(f'{self.name}: set_weights() on an optimizer that is not built yet; call '
                             f'optimizer.build(trainable_variables) first.')
        for v, w in zip(self._variables, weights):
            if tuple(v.shape) != tuple(np.shape(w)):
                raise ValueError(f'{self.name}: variable {v.path!r} has shape {tuple(v.shape)}, the value has shape '
                                 f'{tuple(np.shape(w))}.')
            v.assign(w)

    def get_weights(self):
        return [v.numpy() for v in self._variables]

    def save_own_variables(self, store):
        """Write every variable into ``store`` (a dict-like) under '0', '1', ... in Keras' order."""
        for i, v in enumerate(self.variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store):
        """Read the variables back from ``store``; a store with another number of variables is
        skipped with a warning, as Keras does (build the optimizer first)."""
        if len(store.keys()) != len(self.variables):
            message = (f"Skipping variable loading for optimizer '{self.name}', because it has "
                       f'{len(self.variables)} variables whereas the saved optimizer has {len(store.keys())} '
                       f'variables. ')
            if len(self.variables) <= 2 and not self.built:
                message += 'This is likely because the optimizer has not been called/built yet.'
            warnings.warn(message, stacklevel=2)
            return
        for i, v in enumerate(self.variables):
            value = np.asarray(store[str(i)])
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(f'{self.name}: saved variable {i} has shape {tuple(value.shape)}, but {v.path!r} '
                                 f'has shape {tuple(v.shape)}.')
            v.assign(value)

    # --- config ---------------------------------------------------------------------------------------------
    def get_config(self):
        from ..saving import serialize_keras_object
        lr = self._learning_rate
        if isinstance(lr, schedules_module.LearningRateSchedule):
            learning_rate = schedules_module.serialize(lr)
        elif isinstance(lr, Variable):
            learning_rate = float(lr.data)
        else:
            learning_rate = serialize_keras_object(lr)
        config = {'name': self.name, 'learning_rate': learning_rate, 'weight_decay': self.weight_decay,
                  'clipnorm': self.clipnorm, 'global_clipnorm': self.global_clipnorm, 'clipvalue': self.clipvalue,
                  'use_ema': self.use_ema, 'ema_momentum': self.ema_momentum,
                  'ema_overwrite_frequency': self.ema_overwrite_frequency,
                  'loss_scale_factor': self.loss_scale_factor,
                  'gradient_accumulation_steps': self.gradient_accumulation_steps}
        if self.decay:
            config['decay'] = self.decay   # Keras 2's argument, only when used
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get('learning_rate'), dict):
            from ..saving import deserialize_keras_object
            config['learning_rate'] = deserialize_keras_object(config['learning_rate'], custom_objects=custom_objects,
                                                               module_objects=schedules_module.ALL_OBJECTS_DICT)
        return cls(**config)

    def __repr__(self):
        return f'<{type(self).__name__} name={self.name}, learning_rate={float(self.learning_rate):g}>'


def _variable_label(v):
    """A variable's name for messages and slot names: its path with '/' as '_'."""
    label = getattr(v, 'path', None) or getattr(v, 'name', None) or 'variable'
    return str(label).replace('/', '_').replace(':', '_')


def clip_by_norm(g, clipnorm):
    """g * clipnorm / max(|g|, clipnorm): the gradient scaled down to L2 norm ``clipnorm``."""
    xp = backend.get_array_module(g)
    norm = xp.sqrt((g * g).sum())
    return g * clipnorm / xp.maximum(norm, clipnorm)


def global_norm(arrays):
    xp = backend.get_array_module(arrays[0])
    return xp.sqrt(sum((a * a).sum() for a in arrays))


def clip_by_global_norm(grads, clip_norm):
    """All gradients scaled by clip_norm / max(global norm, clip_norm)."""
    norm = global_norm(grads)
    xp = backend.get_array_module(norm)
    scale = clip_norm * xp.minimum(1.0 / norm, 1.0 / clip_norm)
    return [g * scale.astype(g.dtype) for g in grads]

