"""The ``Layer`` base class: Keras 3's layer contract on minidl tensors.

A layer is called as ``layer(inputs, *args, **kwargs)``. ``Layer.__call__`` does, in order,
what Keras 3 does:

1. On symbolic tensors (``KerasTensor``s from ``Input``, anywhere in the arguments) it builds
   the layer, infers the output shapes and records a ``Node`` of the graph instead of computing
   (``Model(inputs, outputs)`` later replays those nodes on real data).
2. Otherwise arrays in the arguments become Tensors, the layer is built on the first call
   (``build(input_shape)``, or ``build(query_shape, value_shape, ...)``: each ``<arg>_shape``
   gets the shape of the call argument ``<arg>``), and ``call`` runs eagerly; gradients flow back
   through minidl's autograd into the weights.
3. ``training`` is the value passed explicitly, else the enclosing layer call's, else the
   default of ``call``'s signature; it is passed only to a ``call`` that declares it.
4. ``mask``: when ``call`` declares ``mask`` and none is given, the mask carried by the input
   tensor (``tensor._keras_mask``) is passed (``<arg>_mask`` for layers with several tensor
   arguments). After the call, a layer that ``supports_masking`` attaches
   ``compute_mask(inputs, mask)`` to its outputs.
5. ``activity_regularizer`` adds ``regularizer(output) / batch_size`` to the layer's losses;
   ``add_loss`` adds any scalar. The outermost call clears the losses of the previous call.

Shapes given to ``build`` and ``compute_output_shape`` carry the batch dimension first (None
when unknown), as in Keras. Every layer has ``get_config()`` (Keras 3's keys) and
``from_config(config)``; a subclass that does not write ``get_config`` gets its constructor
arguments recorded automatically when they are plain values, as in Keras 3.
"""
import functools
import inspect
import re
import warnings

import numpy as np

from .. import backend
from .. import constraints as constraints_module
from .. import initializers as initializers_module
from .. import regularizers as regularizers_module
from .. import tree
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


# --- symbolic tensors and graph nodes --------------------------------------------------------------
class KerasTensor:
    """A symbolic tensor: a shape (batch first, None where unknown), a dtype and the layer call
    (``node``) that produced it. Layers and ``minidl.ops`` functions applied to it record new
    nodes; ``Model(inputs, outputs)`` turns the recorded calls into a runnable graph."""
    __slots__ = ('shape', 'dtype', 'node', 'index', 'name')
    __array_priority__ = 200

    def __init__(self, shape, dtype=None, node=None, index=0, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = _as_dtype(dtype)
        self.node, self.index = node, index
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def layer(self):
        return self.node.layer

    @property
    def _keras_history(self):
        return (self.node.layer, self.node.index, self.index)

    def __repr__(self):
        origin = f", created by layer '{self.node.layer.name}'" if self.node is not None else ''
        return f'<KerasTensor shape={format_shape(self.shape)}, dtype={self.dtype}{origin}>'

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError(f'len() of a symbolic tensor of shape {format_shape(self.shape)} is unknown.')
        return self.shape[0]

    def __bool__(self):
        raise TypeError('A symbolic tensor (from Input) has no truth value: it holds no data yet. Use '
                        'minidl.ops.where/cond-like ops, or compute on real data.')

    __hash__ = object.__hash__

    # Arithmetic, indexing and reshaping record op nodes (see ``symbolic_op``).
    def __add__(self, other): return symbolic_op('add', other=other, lhs=self)
    def __radd__(self, other): return symbolic_op('add', other=self, lhs=other)
    def __sub__(self, other): return symbolic_op('subtract', other=other, lhs=self)
    def __rsub__(self, other): return symbolic_op('subtract', other=self, lhs=other)
    def __mul__(self, other): return symbolic_op('multiply', other=other, lhs=self)
    def __rmul__(self, other): return symbolic_op('multiply', other=self, lhs=other)
    def __truediv__(self, other): return symbolic_op('divide', other=other, lhs=self)
    def __rtruediv__(self, other): return symbolic_op('divide', other=self, lhs=other)
    def __pow__(self, other): return symbolic_op('power', other=other, lhs=self)
    def __rpow__(self, other): return symbolic_op('power', other=self, lhs=other)
    def __matmul__(self, other): return symbolic_op('matmul', other=other, lhs=self)
    def __rmatmul__(self, other): return symbolic_op('matmul', other=self, lhs=other)
    def __neg__(self): return symbolic_op('negative', lhs=self)
    def __abs__(self): return symbolic_op('absolute', lhs=self)
    def __getitem__(self, key): return symbolic_op('getitem', key=key, lhs=self)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return symbolic_op('reshape', newshape=tuple(shape), lhs=self)

    @property
    def T(self):
        return symbolic_op('transpose', lhs=self)


def symbolic_op(name, lhs, **kwargs):
    """Record ``minidl.ops.<name>`` applied to symbolic tensors as a graph node."""
    from .. import ops
    fn = getattr(ops, name)
    if 'other' in kwargs:
        return fn(lhs, kwargs.pop('other'), **kwargs)
    return fn(lhs, **kwargs)


def _as_dtype(dtype):
    if dtype is None:
        return np.dtype(backend.floatx)
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = dtype.get('config', {}).get('name', 'float32')
    if isinstance(dtype, str) and dtype in ('string', 'str'):
        return np.dtype(object)
    return np.dtype(dtype)


def is_symbolic(*structures):
    return tree.any_leaf(lambda t: isinstance(t, KerasTensor), *structures)


class Node:
    """One call of ``layer`` on arguments holding symbolic tensors, giving symbolic outputs.

    ``call_args``/``call_kwargs`` keep the arguments as given (KerasTensors among other values),
    ``inputs`` are the KerasTensors among them in order, ``outputs`` the output KerasTensors
    (flat) and ``output_structure`` them as the layer returned them."""
    __slots__ = ('layer', 'call_args', 'call_kwargs', 'inputs', 'outputs', 'output_structure', 'index')

    def __init__(self, layer, call_args, call_kwargs, output_specs):
        self.layer = layer
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs)
        self.inputs = [t for t in tree.flatten((self.call_args, self.call_kwargs)) if isinstance(t, KerasTensor)]
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        specs = _flatten_specs(output_specs)
        self.outputs = [KerasTensor(shape, dtype, self, i) for i, (shape, dtype) in enumerate(specs)]
        self.output_structure = (self.outputs[0] if _is_spec(output_specs)
                                 else tree.pack_sequence_as(_spec_skeleton(output_specs), self.outputs))

    @property
    def is_input(self):
        return not self.inputs and not self.call_args

    def connections(self):
        """Keras' 'Connected to' entries: 'dense[0][0]' for every input."""
        return [f'{t.node.layer.name}[{t.node.index}][{t.index}]' for t in self.inputs]


class _Spec(tuple):
    """(shape, dtype) of one output: a leaf for ``tree`` (it is not walked into)."""


def _is_spec(x):
    return isinstance(x, _Spec)


def _spec_skeleton(specs):
    if _is_spec(specs):
        return 0
    if isinstance(specs, dict):
        return {k: _spec_skeleton(v) for k, v in specs.items()}
    return type(specs)(_spec_skeleton(v) for v in specs)


def _flatten_specs(specs):
    if _is_spec(specs):
        return [specs]
    if isinstance(specs, dict):
        return [s for v in specs.values() for s in _flatten_specs(v)]
    return [s for v in specs for s in _flatten_specs(v)]


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


def batch_shape(x):
    """The shape the layer is built for: the batch dimension replaced by None."""
    shape = tuple(x.shape)
    if isinstance(x, KerasTensor):
        return shape
    return (None,) + shape[1:] if shape else ()


def shape_structure(x):
    """Shapes for ``build``/``compute_output_shape``: a tuple for one tensor, a list of tuples
    for a list/tuple of tensors, a dict of them for a dict."""
    if isinstance(x, dict):
        return {k: shape_structure(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [shape_structure(v) for v in x]
    if x is None or not hasattr(x, 'shape'):
        return None
    return batch_shape(x)


# --- the call context: ``training`` seen by nested calls, losses cleared per outer call ------------
class _CallContext:
    __slots__ = ('training', 'entry')

    def __init__(self, training, entry):
        self.training, self.entry = training, entry


_context = [None]


def in_call_context():
    return _context[0] is not None


class _CallSignature:
    """What ``Layer.__call__`` needs to know about a ``call`` method, computed once per class."""
    __slots__ = ('signature', 'names', 'first', 'has_training', 'has_mask', 'training_default',
                 'positional', 'accepts_kwargs')

    def __init__(self, call):
        sig = inspect.signature(call)
        params = list(sig.parameters.values())
        self.signature = sig
        self.names = {p.name for p in params}
        self.positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.first = params[0].name if params else None
        self.has_training = 'training' in sig.parameters
        self.has_mask = 'mask' in sig.parameters
        default = sig.parameters['training'].default if self.has_training else None
        self.training_default = None if default is inspect.Parameter.empty else default
        self.accepts_kwargs = any(p.kind == p.VAR_KEYWORD for p in params)


_signatures = {}


def _call_signature(layer):
    """The ``_CallSignature`` of ``layer.call`` (cached per class; an instance's own ``call``
    attribute, as some wrappers set, is inspected each time)."""
    if 'call' in layer.__dict__:
        return _CallSignature(layer.call)
    sig = _signatures.get(type(layer))
    if sig is None:
        sig = _signatures[type(layer)] = _CallSignature(layer.call)
    return sig


def _get_mask(x):
    return getattr(x, '_keras_mask', None) if isinstance(x, Tensor) else None


_LEGACY_KWARGS = ('input_shape', 'batch_input_shape', 'input_dim', 'batch_size', 'input_length', 'weights')
_AUTO_CONFIG_TYPES = (str, int, float, bool, type(None))


# --- the layer -----------------------------------------------------------------------------------
class Layer:
    """Base class of every layer. Subclasses override ``build(input_shape)`` (create weights
    with ``add_weight``), ``call(inputs, ...)`` and ``compute_output_shape(input_shape)``, and
    ``get_config()`` for their constructor arguments."""

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls)
        instance.__dict__['_auto_config'] = _auto_config(cls, args, kwargs)
        return instance

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True, name=None, **kwargs):
        unknown = set(kwargs) - set(_LEGACY_KWARGS)
        if unknown:
            raise TypeError(f'{type(self).__name__} got unexpected keyword argument(s): {", ".join(sorted(unknown))}.')
        self.__dict__.setdefault('_sublayers', [])
        if name is not None and (not isinstance(name, str) or not name or '/' in name):
            raise ValueError(f'{type(self).__name__}: name must be a non-empty string without "/", got {name!r}.')
        self.name = name or unique_name(self._default_name())
        self._trainable = bool(trainable)
        self.built = False
        self.input_spec = None
        self._build_input_shape = None
        self._build_shapes_dict = None
        self._output_shape = None
        self._own_weights = []          # in creation order
        self._own_trainable = []        # the subset created with trainable=True
        self._regularized = []          # (regularizer, weight) pairs, kept for Keras 2-style code
        self._inbound_nodes = []
        self._losses = []
        self._batch_input_shape = self._batch_shape_from_kwargs(kwargs)
        self._initial_weights = kwargs.get('weights')
        self._dtype = _layer_dtype(self, dtype)
        self.autocast = bool(autocast)
        self.activity_regularizer = regularizers_module.get(activity_regularizer)
        self._supports_masking = type(self).compute_mask is not Layer.compute_mask
        self._mask_warned = False

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

    # --- dtype ----------------------------------------------------------------------------------------
    @property
    def dtype(self):
        """The layer's variable and compute dtype name, e.g. 'float32'."""
        return self._dtype.name

    @property
    def compute_dtype(self):
        return self._dtype.name

    @property
    def variable_dtype(self):
        return self._dtype.name

    @property
    def dtype_policy(self):
        return {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': self._dtype.name},
                'registered_name': None}

    # --- attribute tracking: layers assigned as attributes become sublayers ------------------
    def __setattr__(self, key, value):
        if isinstance(value, Layer) or (isinstance(value, (list, tuple)) and value
                                        and all(isinstance(v, Layer) for v in value)):
            sublayers = self.__dict__.setdefault('_sublayers', [])
            for layer in (value if isinstance(value, (list, tuple)) else [value]):
                if layer is not self and not any(layer is s for s in sublayers):
                    sublayers.append(layer)
        elif isinstance(value, dict) and value and all(isinstance(v, Layer) for v in value.values()):
            sublayers = self.__dict__.setdefault('_sublayers', [])
            for layer in value.values():
                if layer is not self and not any(layer is s for s in sublayers):
                    sublayers.append(layer)
        object.__setattr__(self, key, value)

    def _flatten_layers(self, include_self=True):
        """This layer (optionally) and every layer below it, each once, breadth first."""
        out, seen, queue = ([self] if include_self else []), {id(self)}, list(self._sublayers)
        while queue:
            layer = queue.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            queue.extend(layer._sublayers)
        return out

    def zero_grad(self, set_to_none=True):
        """Clear the gradient of every weight (PyTorch's ``Module.zero_grad``, which Keras 3's
        layers have on its PyTorch backend: custom training loops call ``model.zero_grad()``
        before each ``loss.backward()``). ``set_to_none=False`` keeps zero arrays instead."""
        for w in self.weights:
            if w.grad is not None:
                w.grad = None if set_to_none else type(w.grad)(backend.xp().zeros_like(w.grad.data))

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
        dtype = _as_dtype(a.get('dtype') or self._dtype)
        initializer = a.get('initializer')
        if initializer is None:
            initializer = 'glorot_uniform' if dtype.kind == 'f' else 'zeros'
        name = name or f'variable_{len(self._own_weights)}' if not name else name
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

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

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

    # --- losses --------------------------------------------------------------------------------------
    def add_loss(self, loss):
        """Add a scalar loss (a Tensor) during ``call``; ``fit`` adds it to the training loss."""
        for value in tree.flatten(loss):
            if not isinstance(value, Tensor):
                value = Tensor(backend.as_array(value))
            self._losses.append(value)

    def _clear_losses(self):
        for layer in self._flatten_layers():
            layer._losses.clear()

    @property
    def losses(self):
        """The scalar losses of the last call (``add_loss``, activity regularizers) of this layer and
        its sublayers, then the weight regularization penalties of its trainable weights, computed now."""
        out = []
        for layer in self._flatten_layers():
            out.extend(layer._losses)
        for w in self.trainable_weights:
            reg = getattr(w, 'regularizer', None)
            if reg is not None:
                out.append(reg(w))
        return out

    # --- building ---------------------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch dimension first)."""

    def build_from_config(self, config):
        if config and not self.built:
            if 'input_shape' in config:
                self._maybe_build(_shape_from_config(config['input_shape']))
            elif 'shapes_dict' in config:
                self.build(**{k: _shape_from_config(v) for k, v in config['shapes_dict'].items()})
                self.built = True

    def get_build_config(self):
        if not self.built or type(self).build is Layer.build:
            return None
        if self._build_shapes_dict is not None:
            if len(self._build_shapes_dict) == 1:
                return {'input_shape': _shape_to_config(next(iter(self._build_shapes_dict.values())))}
            return {'shapes_dict': {k: _shape_to_config(v) for k, v in self._build_shapes_dict.items()}}
        if self._build_input_shape is not None:
            return {'input_shape': _shape_to_config(self._build_input_shape)}
        return None

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``. The default runs the layer on zeros."""
        structure = _shapes_to_probe(input_shape)
        return _probe_output_specs(self, (structure,), {}, shapes_only=True)

    def compute_mask(self, inputs, previous_mask=None):
        """The mask of the outputs: by default the input's, for layers that support masking."""
        return previous_mask

    @property
    def supports_masking(self):
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        self._supports_masking = bool(value)

    def _maybe_build(self, input_shape):
        if self.built:
            return
        if self._batch_input_shape is not None and not _is_shape_list(input_shape):
            _check_declared_shape(self, input_shape)
        self.build(input_shape)
        self.built = True
        self._build_input_shape = input_shape
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def _build_for_call(self, args, kwargs, bound):
        """Build from the shapes of the call's arguments (see the module docstring)."""
        if self.built:
            return
        params = _build_parameters(self)
        if params is None or len(params) <= 1 or bound is None:
            self._maybe_build(shape_structure(args[0] if args else next(iter(kwargs.values()))))
            return
        shapes = {}
        for p in params:
            arg = p[:-len('_shape')] if p.endswith('_shape') else None
            if arg in bound and bound[arg] is not None:
                shapes[p] = shape_structure(bound[arg])
        self.build(**shapes)
        self.built = True
        self._build_shapes_dict = shapes
        self._build_input_shape = next(iter(shapes.values()), None)

    # --- calling ------------------------------------------------------------------------------
    def call(self, inputs, *args, **kwargs):
        return inputs

    def __call__(self, *args, **kwargs):
        if not args:
            if not kwargs:
                raise TypeError(f"Layer '{self.name}' was called without inputs.")
            sig = _call_signature(self)
            if sig.first in kwargs:
                args = (kwargs.pop(sig.first),)
        if is_symbolic(args, kwargs):
            return self._call_symbolic(args, kwargs)
        sig = _call_signature(self)
        args = (tree.map_structure(_to_tensor, args[0]),) + tuple(tree.map_structure(_maybe_tensor, a)
                                                                  for a in args[1:])
        if kwargs:
            kwargs = {k: (v if k in ('training', 'mask') else tree.map_structure(_maybe_tensor, v))
                      for k, v in kwargs.items()}
        explicit_training = kwargs.pop('training', None)
        if 'mask' in kwargs and kwargs['mask'] is None and not sig.has_mask:
            del kwargs['mask']  # Keras records mask=None in some nodes of saved graphs
        simple = len(args) == 1 and not kwargs
        bound = None if simple else _bind(sig, args, kwargs)
        first = args[0]
        if not self.built:
            self._build_for_call(args, kwargs, bound)
        elif self.input_spec is not None and isinstance(first, Tensor):
            self.input_spec.check(self, first.shape)

        ctx = _context[0]
        training = explicit_training
        if training is None and ctx is not None:
            training = ctx.training
        if training is None:
            training = sig.training_default
        if sig.has_training and training is not None:
            kwargs['training'] = training
        previous_mask = self._fill_masks(sig, first, kwargs, bound)

        entry = ctx is None
        if entry:
            ctx = _context[0] = _CallContext(training, self)
            self._clear_losses()
        saved = ctx.training
        ctx.training = training
        try:
            outputs = self.call(*args, **kwargs)
        finally:
            ctx.training = saved
            if entry:
                _context[0] = None
        self._after_call(first, outputs, previous_mask)
        return outputs

    def _fill_masks(self, sig, first, kwargs, bound):
        """Pass the input tensors' masks to a ``call`` that declares ``mask`` (or ``<arg>_mask``)."""
        if sig.has_mask and kwargs.get('mask') is None:
            if bound is None:
                mask = tree.map_structure(_get_mask, first)
                if tree.any_leaf(lambda m: m is not None, mask):
                    kwargs['mask'] = mask
            else:
                tensor_args = {k: v for k, v in bound.items() if k not in ('mask', 'training')
                               and tree.any_leaf(lambda t: isinstance(t, Tensor), v)}
                if len(tensor_args) == 1:
                    mask = tree.map_structure(_get_mask, next(iter(tensor_args.values())))
                    if tree.any_leaf(lambda m: m is not None, mask):
                        kwargs['mask'] = mask
        if bound is not None:
            for k, v in bound.items():
                name = f'{k}_mask'
                if name in sig.names and kwargs.get(name) is None and bound.get(name) is None:
                    mask = tree.map_structure(_get_mask, v)
                    if tree.any_leaf(lambda m: m is not None, mask):
                        kwargs[name] = mask
        if kwargs.get('mask') is not None:
            return kwargs['mask']
        return tree.map_structure(_get_mask, first)

    def _after_call(self, first, outputs, previous_mask):
        """Activity regularization and the outputs' masks (steps 5 and 4 of the module docstring)."""
        if self.activity_regularizer is not None:
            for out in tree.flatten(outputs):
                if isinstance(out, Tensor):
                    penalty = self.activity_regularizer(out)
                    if out.ndim > 0 and out.shape[0]:
                        penalty = penalty / float(out.shape[0])
                    self.add_loss(penalty)
        if self.supports_masking:
            masks = self.compute_mask(first, previous_mask)
            if masks is not None:
                _attach_masks(outputs, masks)
        elif not self._mask_warned and not getattr(self, '_keeps_masks', False) \
                and tree.any_leaf(lambda m: m is not None, previous_mask):
            self._mask_warned = True
            warnings.warn(f"Layer '{self.name}' (of type {type(self).__name__}) was passed an input with a mask "
                          'attached to it. However, this layer does not support masking and will therefore '
                          'destroy the mask information. Downstream layers will not see the mask.', stacklevel=3)

    def _call_symbolic(self, args, kwargs):
        kwargs = dict(kwargs)
        sig = _call_signature(self)
        first = args[0]
        bound = None if (len(args) == 1 and not kwargs) else _bind(sig, args, {k: v for k, v in kwargs.items()
                                                                               if k != 'training'})
        if not self.built:
            self._build_for_call(args, kwargs, bound)
        if self.input_spec is not None and isinstance(first, KerasTensor):
            self.input_spec.check(self, first.shape)
        specs = self._symbolic_output_specs(args, kwargs, bound)
        node = Node(self, args, kwargs, specs)
        if self._output_shape is None:
            self._output_shape = tree.map_structure(lambda t: t.shape, node.output_structure)
        return node.output_structure

    def _symbolic_output_specs(self, args, kwargs, bound):
        """(shape, dtype) of each output: from ``compute_output_shape`` when the layer defines it
        and is called on one tensor argument (or maps ``<arg>_shape`` parameters), else by running
        the layer on zeros."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            params = _parameters(self.compute_output_shape)
            if bound is None or len(params) <= 1:
                tensor_args = [a for a in args if is_symbolic(a)] + [v for k, v in kwargs.items()
                                                                    if k != 'training' and is_symbolic(v)]
                if len(tensor_args) == 1 or bound is None:
                    shapes = self.compute_output_shape(shape_structure(args[0]))
                    return _specs_from_shapes(shapes, self._output_dtype(tree.flatten(args[0])))
            else:
                shapes = {}
                for p in params:
                    arg = p[:-len('_shape')] if p.endswith('_shape') else None
                    if arg in bound and bound[arg] is not None:
                        shapes[p] = shape_structure(bound[arg])
                out = self.compute_output_shape(**shapes)
                return _specs_from_shapes(out, self._output_dtype(tree.flatten(args[0])))
        return _probe_output_specs(self, args, kwargs)

    def _output_dtype(self, inputs):
        return self._dtype

    # --- symbolic views -------------------------------------------------------------------------
    def _single_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has no {what} yet: it has not been called on a symbolic "
                                 'input (Input(...)).')
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"Layer '{self.name}' has been called {len(self._inbound_nodes)} times, so its "
                                 f'{what} is ambiguous: use layer._inbound_nodes[i] instead.')
        return self._inbound_nodes[0]

    @property
    def input(self):
        """The symbolic input(s) of the layer's only call."""
        inputs = self._single_node('input').inputs
        return inputs[0] if len(inputs) == 1 else inputs

    @property
    def output(self):
        """The symbolic output(s) of the layer's only call."""
        return self._single_node('output').output_structure

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"Layer '{self.name}' has no defined output shape yet: call it on an Input "
                                 'or build the model that holds it.')
        return self._output_shape

    # --- configuration ---------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments (Keras 3's keys): name, trainable, dtype and, for a subclass
        that does not write its own ``get_config``, the plain-valued arguments it was created with."""
        config = {'name': self.name, 'trainable': self.trainable, 'dtype': self.dtype_policy}
        if type(self).get_config is Layer.get_config and type(self) is not Layer:
            auto = self.__dict__.get('_auto_config')
            if auto is None:
                raise NotImplementedError(
                    f'Layer {type(self).__name__} was created with arguments that are not plain values (or with '
                    f'*args), so it needs its own get_config() to be saved: return '
                    '{**super().get_config(), "arg1": self.arg1, ...} and accept those keys in __init__.')
            config.update(auto)
            init = inspect.signature(type(self).__init__).parameters
            if 'name' not in init and not any(p.kind == p.VAR_KEYWORD for p in init.values()):
                config.pop('name', None)
        if self.activity_regularizer is not None:
            from ..saving.serialization_lib import serialize_keras_object
            config['activity_regularizer'] = serialize_keras_object(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get('dtype'), dict):
            config['dtype'] = config['dtype'].get('config', {}).get('name')
        try:
            return cls(**config)
        except TypeError as exc:
            raise TypeError(f'{cls.__name__}.from_config could not rebuild the layer from {sorted(config)}: {exc}. '
                            'A custom layer must accept every key its get_config() returns.') from None

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}', built={self.built}>"


# --- helpers ---------------------------------------------------------------------------------------
def _auto_config(cls, args, kwargs):
    """Keras 3's automatic config: the constructor arguments bound to ``__init__`` (defaults
    included, ``**kwargs`` expanded), when every one is a plain value; else None."""
    try:
        sig = inspect.signature(cls.__init__)
        bound = sig.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL and p.name in bound.arguments for p in sig.parameters.values()):
        return None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop(next(iter(sig.parameters)))
    for p in sig.parameters.values():
        if p.kind == p.VAR_KEYWORD:
            arguments.update(arguments.pop(p.name, {}))
        elif p.kind == p.VAR_POSITIONAL:
            arguments.pop(p.name, None)
    try:
        if not all(isinstance(v, _AUTO_CONFIG_TYPES) for v in tree.flatten(arguments)):
            return None
    except TypeError:
        return None
    return arguments


def _layer_dtype(layer, dtype):
    if dtype is None:
        return np.dtype(backend.floatx)
    name = dtype.get('config', {}).get('name') if isinstance(dtype, dict) else dtype
    if isinstance(name, str) and name.startswith('mixed_'):
        raise ValueError(f"Layer '{layer.name}': mixed precision ({name!r}) is not supported by minidl; use "
                         "'float32' (the default) or 'float64'.")
    try:
        return _as_dtype(name)
    except TypeError:
        raise ValueError(f"Layer '{layer.name}': unknown dtype {dtype!r}.") from None


def _parameters(method):
    try:
        return [p.name for p in inspect.signature(method).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    except (TypeError, ValueError):
        return []


_build_params_cache = {}


def _build_parameters(layer):
    key = type(layer)
    if key not in _build_params_cache:
        build = getattr(type(layer), 'build')
        build = getattr(build, '__wrapped__', build)
        params = _parameters(build)[1:]
        _build_params_cache[key] = params
    return _build_params_cache[key]


def _bind(sig, args, kwargs):
    try:
        bound = sig.signature.bind(*args, **kwargs)
    except TypeError:
        return None
    arguments = dict(bound.arguments)
    for p in sig.signature.parameters.values():
        if p.kind == p.VAR_KEYWORD and p.name in arguments:
            arguments.update(arguments.pop(p.name))
    return arguments


def _attach_masks(outputs, masks):
    outs = tree.flatten(outputs)
    ms = tree.flatten(masks) if tree.is_nested(masks) else [masks] * len(outs)
    for out, mask in zip(outs, ms):
        if isinstance(out, Tensor) and mask is not None and getattr(out, '_keras_mask', None) is None:
            out._keras_mask = mask.data if isinstance(mask, Tensor) else mask


def _specs_from_shapes(shapes, dtype):
    if isinstance(shapes, dict):
        return {k: _specs_from_shapes(v, dtype) for k, v in shapes.items()}
    if _is_shape_list(shapes) or (isinstance(shapes, (list, tuple)) and shapes
                                  and all(isinstance(s, (list, tuple)) for s in shapes)):
        return [_specs_from_shapes(s, dtype) for s in shapes]
    return _Spec((tuple(shapes), dtype))


def _shapes_to_probe(shape):
    """A shape structure turned into KerasTensors, for probing."""
    if isinstance(shape, dict):
        return {k: _shapes_to_probe(v) for k, v in shape.items()}
    if _is_shape_list(shape):
        return [_shapes_to_probe(s) for s in shape]
    return KerasTensor(shape)


_PROBE_SIZES = (2, 3)


def _probe_output_specs(layer, args, kwargs, shapes_only=False):
    """Output (shape, dtype) by running ``layer.call`` on zeros twice, with every unknown size
    (None) set to 2 and then to 3: output sizes that change with them are unknown (None)."""
    runs = []
    for size in _PROBE_SIZES:
        def concrete(t, size=size):
            if not isinstance(t, KerasTensor):
                return t
            shape = tuple(size if d is None else d for d in t.shape)
            dtype = t.dtype if t.dtype != np.dtype(object) else np.dtype('<U8')
            return Tensor(backend.xp().zeros(shape, dtype) if dtype.kind != 'U' else np.full(shape, '', dtype))
        probe_args = tree.map_structure(concrete, tuple(args))
        probe_kwargs = {k: tree.map_structure(concrete, v) for k, v in kwargs.items()}
        sig = _call_signature(layer)
        if 'training' in probe_kwargs and not sig.has_training:
            probe_kwargs.pop('training')
        try:
            with no_grad():
                out = layer.call(*probe_args, **probe_kwargs)
        except Exception as exc:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) could not infer its output shape by "
                             f'running on zeros ({type(exc).__name__}: {exc}). Define compute_output_shape(), '
                             'or check the input shapes.') from exc
        runs.append(out)
    first, second = runs

    def spec(a, b):
        a_shape, b_shape = tuple(a.shape), tuple(b.shape)
        if len(a_shape) != len(b_shape):
            shape = tuple(None for _ in a_shape)
        else:
            shape = tuple(x if x == y else None for x, y in zip(a_shape, b_shape))
        return _Spec((shape, np.dtype(getattr(a, 'dtype', backend.floatx))))
    if not tree.is_nested(first):
        result = spec(first, second)
        return result[0] if shapes_only else result
    flat = [spec(a, b) for a, b in zip(tree.flatten(first), tree.flatten(second))]
    if shapes_only:
        return tree.pack_sequence_as(first, [s[0] for s in flat])
    return tree.pack_sequence_as(first, flat)


def _shape_to_config(shape):
    if isinstance(shape, dict):
        return {k: _shape_to_config(v) for k, v in shape.items()}
    if _is_shape_list(shape):
        return [_shape_to_config(s) for s in shape]
    return list(shape)


def _shape_from_config(shape):
    if isinstance(shape, dict):
        return {k: _shape_from_config(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and all(isinstance(s, (list, tuple)) for s in shape):
        return [tuple(s) for s in shape]
    return tuple(shape)


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
    if isinstance(x, Tensor) or x is None or isinstance(x, (str, bytes)):
        return x
    data = backend.as_array(x)
    if data.dtype.kind == 'f' and data.dtype != backend.floatx:
        data = data.astype(backend.floatx)
    return Tensor(data)


def _maybe_tensor(x):
    """Arrays among the extra arguments become Tensors; everything else passes."""
    if isinstance(x, np.ndarray) or backend.is_cupy(x):
        return _to_tensor(x)
    return x


def _check_declared_shape(layer, input_shape):
    declared = layer._batch_input_shape
    ok = len(declared) == len(input_shape) and all(
        a is None or b is None or a == b for a, b in zip(declared[1:], input_shape[1:]))
    if not ok:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) was declared with input shape "
                         f'{format_shape(declared)}, but is being built for input shape {format_shape(input_shape)}.')
