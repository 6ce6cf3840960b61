"""The ``Layer`` base class: weights, the trainable flag, lazy building, and the two ways of
calling a layer.

* On Tensors or arrays, ``layer(x)`` builds the layer on the first call (from the input's
  shape, the batch dimension left as None) and runs ``call`` eagerly; gradients flow back
  through minidl's autograd into the weights.
* On symbolic ``KerasTensor``s (from ``Input``), ``layer(x)`` builds the layer, infers the
  output shape with ``compute_output_shape`` and records a ``Node`` in the graph instead;
  ``Model(inputs, outputs)`` later replays those nodes on real data.

Shapes given to ``build`` and ``compute_output_shape`` always carry the batch dimension
first (None when unknown), as in Keras.
"""
import functools
import inspect
import re

import numpy as np

from .. import backend
from .. import initializers as initializers_module
from .. import regularizers as regularizers_module
from .. import constraints as constraints_module
from ..autograd import Tensor, Variable, no_grad

_name_counts = {}


def to_snake_case(name):
    """Keras' class-name to layer-name rule: Conv2D -> conv2d, LeakyReLU -> leaky_re_lu."""
    name = re.sub(r'(.)([A-Z][a-z0-9]+)', r'\1_\2', name)
    return re.sub(r'([a-z])([A-Z])', r'\1_\2', name).lower()


def unique_name(base, zero_based=True):
    """'dense', 'dense_1', ... (or 'input_1', 'input_2', ... when not zero based)."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    if zero_based:
        return base if count == 0 else f'{base}_{count}'
    return f'{base}_{count + 1}'


def clear_session():
    """Reset the automatic layer names (the next Dense is 'dense' again), as Keras does."""
    _name_counts.clear()


def format_shape(shape):
    return '(' + ', '.join('None' if d is None else str(d) for d in shape) + (',)' if len(shape) == 1 else ')')


class KerasTensor:
    """A symbolic tensor: a shape (batch first, None where unknown) and the layer call that
    produced it. Only layers can be applied to it; Model(inputs, outputs) turns the recorded
    calls into a runnable graph."""
    __slots__ = ('shape', 'dtype', 'node', 'index')

    def __init__(self, shape, dtype=None, node=None, index=0):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype or backend.floatx)
        self.node, self.index = node, index

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def layer(self):
        return self.node.layer

    def __repr__(self):
        origin = f", created by layer '{self.node.layer.name}'" if self.node is not None else ''
        return f'<KerasTensor shape={format_shape(self.shape)}, dtype={self.dtype}{origin}>'


class Node:
    """One call of ``layer`` on symbolic ``inputs`` giving symbolic ``outputs``."""
    __slots__ = ('layer', 'inputs', 'outputs', 'index', 'multi_input')

    def __init__(self, layer, inputs, output_shapes, output_dtype, multi_input):
        self.layer = layer
        self.inputs = list(inputs)
        self.multi_input = multi_input
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        self.outputs = [KerasTensor(s, output_dtype, self, i) for i, s in enumerate(output_shapes)]

    def connections(self):
        """Keras' 'Connected to' entries: 'dense[0][0]' for every input."""
        return [f'{t.node.layer.name}[{t.node.index}][{t.index}]' for t in self.inputs]


class InputSpec:
    """What a built layer accepts: an exact or minimum rank and fixed sizes on some axes."""
    __slots__ = ('ndim', 'min_ndim', 'axes', 'describe')

    def __init__(self, ndim=None, min_ndim=None, axes=None, describe=''):
        self.ndim, self.min_ndim, self.axes, self.describe = ndim, min_ndim, dict(axes or {}), describe

    def check(self, layer, shape):
        rank = len(shape)
        if (self.ndim is not None and rank != self.ndim) or (self.min_ndim is not None and rank < self.min_ndim):
            want = f'{self.ndim}-D' if self.ndim is not None else f'at least {self.min_ndim}-D'
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) expects a {want} input"
                             f"{self.describe}, but got an input of shape {format_shape(shape)}.")
        for axis, size in self.axes.items():
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) was built for inputs with "
                                 f"{size} on axis {axis} (input shape {format_shape(layer._build_input_shape)}), "
                                 f"but got an input of shape {format_shape(shape)}.")


def is_symbolic(inputs):
    if isinstance(inputs, (list, tuple)):
        return any(isinstance(x, KerasTensor) for x in inputs)
    return isinstance(inputs, KerasTensor)


def batch_shape(x):
    """The shape the layer is built for: the batch dimension replaced by None."""
    return (None,) + tuple(x.shape[1:])


_takes_training = {}

_LAYER_KWARGS = ('input_shape', 'batch_input_shape', 'input_dim', 'batch_size', 'dtype', 'input_length')


class Layer:
    """Base class of every layer. Subclasses override ``build(input_shape)`` (create weights
    with ``add_weight``, set ``self.input_spec``), ``call(inputs, training=False)`` and
    ``compute_output_shape(input_shape)``."""

    def __init__(self, name=None, trainable=True, **kwargs):
        unknown = set(kwargs) - set(_LAYER_KWARGS)
        if unknown:
            raise TypeError(f'{type(self).__name__} got unexpected keyword argument(s): {", ".join(sorted(unknown))}.')
        self.__dict__.setdefault('_sublayers', [])
        self.name = name or unique_name(self._default_name())
        self._trainable = bool(trainable)
        self.built = False
        self.input_spec = None
        self._build_input_shape = None
        self._output_shape = None
        self._own_weights = []          # in creation order
        self._own_trainable = []        # the subset created with trainable=True
        self._regularized = []          # (regularizer, weight) pairs
        self._inbound_nodes = []
        self._batch_input_shape = self._batch_shape_from_kwargs(kwargs)
        self.dtype = kwargs.get('dtype')

    def __init_subclass__(cls, **kwargs):
        """Every subclass ``build`` marks the layer built, also when a user calls it directly."""
        super().__init_subclass__(**kwargs)
        if 'build' in cls.__dict__:
            cls.build = _marking_built(cls.__dict__['build'])

    def _default_name(self):
        return to_snake_case(type(self).__name__)

    @staticmethod
    def _batch_shape_from_kwargs(kwargs):
        if kwargs.get('batch_input_shape') is not None:
            return tuple(kwargs['batch_input_shape'])
        if kwargs.get('input_shape') is not None:
            shape = kwargs['input_shape']
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            return (kwargs.get('batch_size'),) + shape
        if kwargs.get('input_dim') is not None:
            return (kwargs.get('batch_size'), int(kwargs['input_dim']))
        return None

    # --- attribute tracking: layers assigned as attributes become sublayers ------------------
    def __setattr__(self, key, value):
        if isinstance(value, Layer) or (isinstance(value, (list, tuple)) and value
                                        and all(isinstance(v, Layer) for v in value)):
            sublayers = self.__dict__.setdefault('_sublayers', [])
            for layer in (value if isinstance(value, (list, tuple)) else [value]):
                if layer is not self and not any(layer is s for s in sublayers):
                    sublayers.append(layer)
        object.__setattr__(self, key, value)

    # --- trainable flag -----------------------------------------------------------------------
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freeze (False) or unfreeze every weight of this layer and of its sublayers."""
        self._trainable = bool(value)
        for w in self._own_weights:
            w.requires_grad = self._trainable and any(w is t for t in self._own_trainable)
        for layer in self._sublayers:
            layer.trainable = value

    # --- weights --------------------------------------------------------------------------------
    def add_weight(self, *args, **kwargs):
        """Create a weight: a ``Variable`` named ``name`` with path '<layer>/<name>', initialised on
        the active backend. Keras 3's signature ``add_weight(shape=None, initializer=None,
        dtype=None, trainable=True, autocast=True, regularizer=None, constraint=None,
        aggregation='none', overwrite_with_gradient=False, name=None)``; Keras 2's, with the name
        first (``add_weight('kernel', shape, dtype, initializer, regularizer, trainable,
        constraint)``), works too. The initializer defaults to 'glorot_uniform' for floats and
        'zeros' otherwise."""
        keras2 = bool(args) and isinstance(args[0], str)
        try:
            a = (_ADD_WEIGHT_KERAS2 if keras2 else _ADD_WEIGHT_KERAS3).bind(*args, **kwargs).arguments
        except TypeError as exc:
            raise TypeError(f"Layer '{self.name}'.add_weight(): {exc}.") from None
        extra = set(a.pop('kwargs', {})) - {'use_resource', 'synchronization', 'partitioner', 'caching_device',
                                             'experimental_autocast'}
        if extra:
            raise TypeError(f"Layer '{self.name}'.add_weight() got unexpected arguments {sorted(extra)}.")
        name, shape = a.get('name'), a.get('shape')
        shape = () if shape is None else (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if any(d is None or int(d) < 0 for d in shape):
            raise ValueError(f"Layer '{self.name}': add_weight({name!r}) needs a fully known, non-negative shape, "
                             f'got {shape}. Create weights in build(), where the input shape is known.')
        shape = tuple(int(d) for d in shape)
        dtype = np.dtype(a.get('dtype') or backend.floatx)
        initializer = a.get('initializer')
        if initializer is None:
            initializer = 'glorot_uniform' if dtype.kind == 'f' else 'zeros'
        name = name or f'variable_{len(self._own_weights)}'
        trainable = a.get('trainable', True)
        trainable = True if trainable is None else bool(trainable)
        data = backend.as_array(initializers_module.get(initializer)(shape, dtype), dtype)
        if tuple(data.shape) != shape:
            raise ValueError(f"Layer '{self.name}': the initializer of weight {name!r} returned shape "
                             f'{tuple(data.shape)} for the requested {shape}.')
        reg = regularizers_module.get(a.get('regularizer'))
        weight = Variable(data, trainable=trainable, name=name, path=f'{self.name}/{name}',
                          constraint=constraints_module.get(a.get('constraint')), regularizer=reg,
                          aggregation=a.get('aggregation', 'none'), requires_grad=trainable and self._trainable)
        self._own_weights.append(weight)
        if trainable:
            self._own_trainable.append(weight)
        if reg is not None:
            self._regularized.append((reg, weight))
        return weight

    def add_variable(self, shape, initializer, dtype=None, trainable=True, autocast=True, regularizer=None,
                     constraint=None, name=None):
        """Keras 3's alias of ``add_weight``."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype, trainable=trainable,
                               regularizer=regularizer, constraint=constraint, name=name)

    def _gather(self, own, attribute):
        """``own`` weights in creation order, then each sublayer's ``attribute`` weights in order,
        a weight shared by several sublayers listed once."""
        out = list(own)
        for layer in self._sublayers:
            out.extend(w for w in getattr(layer, attribute) if not any(w is o for o in out))
        return out

    @property
    def weights(self):
        """Every weight: this layer's in creation order, then its sublayers' in order."""
        return self._gather(self._own_weights, 'weights')

    @property
    def trainable_weights(self):
        return self._gather(self._own_trainable, 'trainable_weights') if self._trainable else []

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        trainable = self.trainable_weights
        return [w for w in self.weights if not any(w is t for t in trainable)]

    @property
    def losses(self):
        """Regularization penalties (scalar Tensors), computed now from the current weights."""
        out = [reg(w) for reg, w in self._regularized]
        for layer in self._sublayers:
            out.extend(layer.losses)
        return out

    def get_weights(self):
        """Copies of the weights as NumPy arrays, in ``weights`` order."""
        return [backend.to_numpy(w.data).copy() for w in self.weights]

    def set_weights(self, weights):
        """Overwrite the weights in place (optimizers keep their references) from arrays."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) has {len(own)} weight(s) "
                             f"{[w.path for w in own]}, but set_weights received {len(weights)} array(s).")
        for w, value in zip(own, weights):
            value = backend.to_numpy(value)
            if tuple(value.shape) != tuple(w.shape):
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): weight '{w.path}' has shape "
                                 f"{tuple(w.shape)}, but set_weights received an array of shape {tuple(value.shape)}.")
        for w, value in zip(own, weights):
            w.data[...] = backend.as_array(backend.to_numpy(value), w.dtype)

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call count_params on layer '{self.name}', but the layer is not "
                             'built yet. Build it by calling it on data or by giving an input_shape.')
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # --- building ---------------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch dimension first)."""

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``. The default runs the layer once on zeros."""
        shapes = input_shape if _is_shape_list(input_shape) else [input_shape]
        if any(d is None for s in shapes for d in s[1:]):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) cannot infer its output shape for "
                             f'input shape {input_shape}: define compute_output_shape.')
        probes = [Tensor(backend.xp().zeros((1,) + tuple(s[1:]), backend.floatx)) for s in shapes]
        with no_grad():
            out = self._run(probes if _is_shape_list(input_shape) else probes[0], False)
        if isinstance(out, (list, tuple)):
            return [batch_shape(o) for o in out]
        return batch_shape(out)

    def _maybe_build(self, input_shape):
        if self.built:
            return
        if self._batch_input_shape is not None and not _is_shape_list(input_shape):
            _check_declared_shape(self, input_shape)
        self.build(input_shape)
        self.built = True
        self._build_input_shape = input_shape

    # --- calling ------------------------------------------------------------------------------
    def call(self, inputs, training=False):
        return inputs

    def __call__(self, inputs, training=False):
        if is_symbolic(inputs):
            return self._call_symbolic(inputs)
        multi = isinstance(inputs, (list, tuple))
        inputs = [_to_tensor(x) for x in inputs] if multi else _to_tensor(inputs)
        if not self.built:
            self._maybe_build([batch_shape(x) for x in inputs] if multi else batch_shape(inputs))
        elif self.input_spec is not None and not multi:
            self.input_spec.check(self, inputs.shape)
        return self._run(inputs, training)

    def _run(self, inputs, training):
        takes = _takes_training.get(type(self))
        if takes is None:
            takes = _takes_training[type(self)] = 'training' in inspect.signature(self.call).parameters
        return self.call(inputs, training=training) if takes else self.call(inputs)

    def _call_symbolic(self, inputs):
        multi = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if multi else [inputs]
        for t in tensors:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Layer '{self.name}' was called on a mix of symbolic tensors (from Input) and "
                                f'concrete data ({type(t).__name__}); wrap constants in their own Input.')
        in_shape = [t.shape for t in tensors] if multi else tensors[0].shape
        self._maybe_build(in_shape)
        if self.input_spec is not None and not multi:
            self.input_spec.check(self, in_shape)
        out_shape = self.compute_output_shape(in_shape)
        multi_out = _is_shape_list(out_shape)
        if self._output_shape is None:
            self._output_shape = out_shape
        node = Node(self, tensors, out_shape if multi_out else [out_shape],
                    self._output_dtype(tensors), multi)
        return node.outputs if multi_out else node.outputs[0]

    def _output_dtype(self, inputs):
        return backend.floatx

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"Layer '{self.name}' has no defined output shape yet: call it on an Input "
                                 'or build the model that holds it.')
        return self._output_shape

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}', built={self.built}>"


def _add_weight_keras3(shape=None, initializer=None, dtype=None, trainable=True, autocast=True, regularizer=None,
                       constraint=None, aggregation='none', overwrite_with_gradient=False, name=None, **kwargs):
    pass


def _add_weight_keras2(name=None, shape=None, dtype=None, initializer=None, regularizer=None, trainable=None,
                       constraint=None, **kwargs):
    pass


_ADD_WEIGHT_KERAS3 = inspect.signature(_add_weight_keras3)
_ADD_WEIGHT_KERAS2 = inspect.signature(_add_weight_keras2)


def _marking_built(build):
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        result = build(self, *args, **kwargs)
        self.built = True
        if self._build_input_shape is None and args:
            self._build_input_shape = args[0]
        return result
    return wrapper


def _is_shape_list(shape):
    return isinstance(shape, list) and all(isinstance(s, (tuple, list)) for s in shape)


def _to_tensor(x):
    """Tensors pass through; arrays become constant Tensors, float64 data cast to floatx."""
    if isinstance(x, Tensor):
        return x
    data = backend.as_array(x)
    if data.dtype.kind == 'f' and data.dtype != backend.floatx:
        data = data.astype(backend.floatx)
    return Tensor(data)


def _check_declared_shape(layer, input_shape):
    declared = layer._batch_input_shape
    ok = len(declared) == len(input_shape) and all(
        a is None or b is None or a == b for a, b in zip(declared[1:], input_shape[1:]))
    if not ok:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) was declared with input shape "
                         f'{format_shape(declared)}, but is being built for input shape {format_shape(input_shape)}.')
