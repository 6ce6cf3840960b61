"""``Model``: a layer made of layers. Three ways to make one, as in Keras:

* functional: ``Model(inputs, outputs)`` from symbolic tensors, where ``inputs`` and
  ``outputs`` are one tensor, a list, or a dict keyed by name; the recorded layer calls become
  a graph, replayed in topological order on real data;
* ``Sequential`` (see sequential.py), a plain stack;
* subclassing: define layers as attributes in ``__init__`` and override ``call``.

Training (compile/fit/evaluate/predict) comes from ``TrainingMixin``; the summary from
summary.py; weight files from ``minidl.saving``.
"""
from .. import backend, tree
from ..autograd import Tensor, no_grad
from ..layers.base import KerasTensor, Layer, _Spec, format_shape
from ..layers.core import InputLayer
from ..saving import h5_weights
from . import summary as summary_module
from .training import TrainingMixin


class Model(TrainingMixin, Layer):
    """A functional (``Model(inputs, outputs, name)``) or subclassed model."""

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop('inputs', args[0] if args else None)
        outputs = kwargs.pop('outputs', args[1] if len(args) > 1 else None)
        if len(args) > 2:
            raise TypeError(f'Model() takes inputs and outputs as positional arguments, got {len(args)}.')
        Layer.__init__(self, **{k: v for k, v in kwargs.items() if k in ('name', 'trainable', 'dtype')},
                       **{k: v for k, v in kwargs.items() if k in ('input_shape', 'batch_input_shape')})
        unknown = set(kwargs) - {'name', 'trainable', 'dtype', 'input_shape', 'batch_input_shape'}
        if unknown:
            raise TypeError(f'Model() got unexpected keyword argument(s): {", ".join(sorted(unknown))}.')
        self.stop_training = False
        object.__setattr__(self, '_graph', None)
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError(f"Model '{self.name}': give both inputs and outputs, e.g. Model(inputs=x, outputs=y).")
            object.__setattr__(self, '_graph', _Graph(self, inputs, outputs))
            self._sublayers[:] = self._graph.layers
            self.built = True
            shapes = self._graph.input_shapes
            self._build_input_shape = shapes if len(shapes) > 1 else shapes[0]

    # --- structure ------------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._sublayers)

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at position ``index`` of ``layers``)."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Model '{self.name}' has {len(self.layers)} layers; index {index} is out of range.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in self.layers]
        raise ValueError(f"No layer named '{name}' in model '{self.name}'. Layers: {names}.")

    @property
    def inputs(self):
        return list(self._require_graph('inputs').inputs)

    @property
    def outputs(self):
        return list(self._require_graph('outputs').outputs)

    @property
    def input(self):
        """The symbolic input(s), in the structure given to ``Model`` (one tensor, list or dict)."""
        return self._require_graph('input').input_structure

    @property
    def output(self):
        return self._require_graph('output').output_structure

    @property
    def input_names(self):
        return [t.node.layer.name for t in self.inputs]

    @property
    def output_names(self):
        """Keras' names of the outputs: the keys of a dict of outputs, else the producing layers' names."""
        graph = self._require_graph('output_names')
        if isinstance(graph.output_structure, dict):
            return list(graph.output_structure)
        return [t.node.layer.name for t in graph.outputs]

    @property
    def input_shape(self):
        graph = self._require_graph('input_shape')
        return graph.input_shapes if len(graph.input_shapes) > 1 else graph.input_shapes[0]

    @property
    def output_shape(self):
        graph = self._require_graph('output_shape')
        return tree.map_structure(lambda t: t.shape, graph.output_structure)

    def _require_graph(self, what):
        if self._graph is None:
            raise AttributeError(f"Model '{self.name}' has no {what}: it is a subclassed model, or it is not built. "
                                 'Build it from Input tensors or call it on data first.')
        return self._graph

    @property
    def is_functional(self):
        return self._graph is not None

    @property
    def saves_layers_as_list(self):
        """Keras 3 files keep a functional or Sequential model's layers under 'layers/'."""
        return self._graph is not None

    # --- building and calling ---------------------------------------------------------------------
    def build(self, input_shape=None):
        """Subclassed models: build every layer by running ``call`` once on zeros."""
        if self._graph is not None or self.built:
            return
        if input_shape is None:
            raise ValueError(f"Model '{self.name}': build() needs an input shape, e.g. model.build((None, 784)).")
        if isinstance(input_shape, tuple) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = list(input_shape)
        if any(d is None for s in _flatten_shapes(input_shape) for d in s[1:]):
            raise ValueError(f"Model '{self.name}': build() needs every non-batch dimension, got {input_shape}.")
        probes = _zeros_for_shapes(input_shape)
        self.built = True
        with no_grad():
            self(probes, training=False)
        self._build_input_shape = input_shape

    def _maybe_build(self, input_shape):
        if not self.built:
            self.built = True  # subclassed: the layers build themselves during the first call
            self._build_input_shape = input_shape

    def call(self, inputs, training=None, mask=None):
        if self._graph is None:
            raise NotImplementedError(f"Model '{self.name}' has no graph: subclasses of Model must define call().")
        return self._graph.run(inputs, training)

    def compute_output_shape(self, input_shape):
        if self._graph is not None:
            return self._graph.output_shapes_for(input_shape)
        return Layer.compute_output_shape(self, input_shape)

    def _symbolic_output_specs(self, args, kwargs, bound):
        if self._graph is not None:
            return self._graph.output_specs_for(args[0])
        return Layer._symbolic_output_specs(self, args, kwargs, bound)

    _keeps_masks = True  # a model's inner layers attach the masks of its outputs

    # --- reporting and files ---------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print Keras' table of layers, output shapes and parameter counts."""
        summary_module.print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def save_weights(self, filepath, overwrite=True):
        """Write every weight to an HDF5 file (atomically). A name ending in '.weights.h5' gets
        Keras 3's layout; any other name Keras 2's ('layer_names' / 'weight_names')."""
        h5_weights.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, **kwargs):
        """Read weights written by ``save_weights`` or by Keras (2 '.h5' or 3 '.weights.h5')."""
        if skip_mismatch or by_name or kwargs:
            h5_weights.load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name, **kwargs)
        else:
            h5_weights.load_weights(self, filepath)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save the whole model: Keras 3's '.keras' archive (config, weights, optimizer state), or
        Keras 2's full-model '.h5' file for a name ending in '.h5'."""
        from ..saving import saving_lib
        saving_lib.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def to_json(self, **kwargs):
        """The model's architecture as Keras' JSON (``model_from_json`` reads it)."""
        import json
        from ..saving.serialization_lib import serialize_keras_object
        return json.dumps(serialize_keras_object(self), **kwargs)

    def _summary_class_name(self):
        return 'Functional' if self._graph is not None and type(self) is Model else type(self).__name__

    def _keras_envelope(self):
        """Keras 3 saves a plain functional model as keras.src.models.functional.Functional."""
        if self._graph is not None and type(self) is Model:
            return 'keras.src.models.functional', 'Functional', 'Functional'
        return None

    # --- configuration ---------------------------------------------------------------------------
    def get_config(self):
        if self._graph is not None and (type(self) is Model or type(self).get_config is Model.get_config):
            return self._graph.get_config(self)
        return Layer.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if 'layers' in config and 'input_layers' in config:
            from ..saving.functional_config import functional_from_config
            return functional_from_config(cls, config, custom_objects)
        return Layer.from_config.__func__(cls, config)


def _zeros_for_shapes(structure):
    if isinstance(structure, dict):
        return {k: _zeros_for_shapes(v) for k, v in structure.items()}
    if isinstance(structure, list):
        return [_zeros_for_shapes(s) for s in structure]
    return Tensor(backend.xp().zeros((1,) + tuple(structure[1:]), backend.floatx))


def _flatten_shapes(structure):
    if isinstance(structure, dict):
        return [s for v in structure.values() for s in _flatten_shapes(v)]
    if isinstance(structure, list):
        return [s for v in structure for s in _flatten_shapes(v)]
    return [structure]


class _Graph:
    """The layer calls between symbolic inputs and outputs, ordered for execution."""

    def __init__(self, model, inputs, outputs):
        self.model_name = model.name
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        self.input_structure = inputs
        self.output_structure = outputs
        self.inputs = tree.flatten(inputs)
        self.outputs = tree.flatten(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model '{model.name}': inputs and outputs must be symbolic tensors made from "
                                f'Input(...) and layer calls, got {type(t).__name__}.')
        for t in self.inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model '{model.name}': every input must come straight from Input(...); "
                                 f"'{t.node.layer.name}' is a {type(t.node.layer).__name__}.")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError(f"Model '{model.name}': the same Input appears twice among the inputs.")
        self.nodes = self._ordered_nodes()
        self.layers = []
        for node in self.nodes:
            if not any(node.layer is known for known in self.layers):
                self.layers.append(node.layer)
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Model '{model.name}': all layers need unique names; {duplicates} appear more than once.")
        self.input_shapes = [t.shape for t in self.inputs]
        input_ids = {id(t) for t in self.inputs}
        self.plan = [n for n in self.nodes if not (isinstance(n.layer, InputLayer) and id(n.outputs[0]) in input_ids)]
        self.release = self._last_uses()
        self._shape_cache = {}

    def _last_uses(self):
        """For each step of the plan, the tensors no later step (and no output) reads: ``run`` drops
        them once the step is done, so under ``no_grad`` an inference holds only the activations
        still needed (a ResNet50 batch: 4.8 GB of intermediates otherwise, 0.6 GB this way)."""
        last = {}
        for i, node in enumerate(self.plan):
            for v in tree.flatten((node.call_args, node.call_kwargs)):
                if isinstance(v, KerasTensor):
                    last[id(v)] = i
        keep = {id(t) for t in self.outputs}
        release = [[] for _ in self.plan]
        for tid, i in last.items():
            if tid not in keep:
                release[i].append(tid)
        return release

    def _ordered_nodes(self):
        """Nodes from the inputs to the outputs, deepest (farthest from the outputs) first, as Keras
        orders them; ties keep the order of discovery from the outputs."""
        input_ids = {id(t) for t in self.inputs}
        postorder, rank, done = [], {}, set()
        stack = [(t.node, False) for t in reversed(self.outputs)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                postorder.append(node)
                continue
            rank.setdefault(id(node), len(rank))
            stack.append((node, True))
            if isinstance(node.layer, InputLayer):
                if id(node.outputs[0]) not in input_ids:
                    raise ValueError(f"Graph disconnected in model '{self.model_name}': input "
                                     f"'{node.layer.name}' is needed to compute the outputs but is not in the "
                                     f'model inputs {[t.node.layer.name for t in self.inputs]}.')
                continue
            for t in reversed(node.inputs):
                if id(t.node) not in done:
                    stack.append((t.node, False))
        depth = {id(t.node): 0 for t in self.outputs}
        for node in reversed(postorder):
            d = depth.setdefault(id(node), 0)
            if not isinstance(node.layer, InputLayer):
                for t in node.inputs:
                    depth[id(t.node)] = max(depth.get(id(t.node), 0), d + 1)
        for t in self.inputs:
            if id(t.node) not in done:
                postorder.append(t.node)
                rank[id(t.node)] = len(rank)
                depth[id(t.node)] = max(depth.values()) + 1
        return sorted(postorder, key=lambda n: (-depth[id(n)], rank[id(n)]))

    def nodes_of(self, layer):
        return [n for n in self.nodes if n.layer is layer]

    # --- running ---------------------------------------------------------------------------------
    def flatten_inputs(self, values):
        """Data for the model's inputs, in the order of ``self.inputs``: the structure given to
        ``Model``, a list in input order, or a dict keyed by input names."""
        names = [t.node.layer.name for t in self.inputs]
        if isinstance(values, dict):
            if isinstance(self.input_structure, dict):
                keys = list(self.input_structure)
                missing = [k for k in keys if k not in values]
                if not missing:
                    return [values[k] for k in keys]
            missing = [n for n in names if n not in values]
            if missing:
                raise ValueError(f"Model '{self.model_name}' expects inputs {names} (or the keys "
                                 f'{list(self.input_structure) if isinstance(self.input_structure, dict) else names}); '
                                 f'the data has keys {sorted(values)}, missing {missing}.')
            return [values[n] for n in names]
        flat = list(values) if isinstance(values, (list, tuple)) else [values]
        if len(flat) != len(self.inputs):
            raise ValueError(f"Model '{self.model_name}' expects {len(self.inputs)} input(s) {names}, got {len(flat)}.")
        return flat

    def run(self, inputs, training=None):
        """The outputs for ``inputs``. A ``training`` given to the model's call overrides the value
        a node recorded (Keras 3's functional models inject it into every layer that takes it)."""
        values = self.flatten_inputs(inputs)
        env = {}
        for t, x in zip(self.inputs, values):
            _check_input(self.model_name, t, tuple(x.shape))
            env[id(t)] = x

        def resolve(v):
            return env[id(v)] if isinstance(v, KerasTensor) else v

        release = self.release
        for step, node in enumerate(self.plan):
            args = tree.map_structure(resolve, node.call_args)
            kwargs = {k: tree.map_structure(resolve, v) for k, v in node.call_kwargs.items()}
            if training is not None and 'training' in kwargs:
                kwargs['training'] = training
            out = node.layer(*args, **kwargs)
            del args, kwargs
            if len(node.outputs) == 1 and not tree.is_nested(out):
                env[id(node.outputs[0])] = out
            else:
                for kt, value in zip(node.outputs, tree.flatten(out)):
                    env[id(kt)] = value
            del out
            for tid in release[step]:
                env.pop(tid, None)
        return tree.map_structure(lambda t: env[id(t)], self.output_structure)

    def output_specs_for(self, inputs):
        """(shape, dtype) of the outputs for symbolic ``inputs``, replayed through the layers'
        shape rules without recording nodes."""
        values = self.flatten_inputs(inputs)
        key = repr([(tuple(v.shape), str(v.dtype)) for v in values])
        if key not in self._shape_cache:
            env = {}
            for t, v in zip(self.inputs, values):
                _check_input(self.model_name, t, tuple(v.shape))
                env[id(t)] = KerasTensor(v.shape, v.dtype)

            def resolve(v):
                return env[id(v)] if isinstance(v, KerasTensor) else v
            for node in self.plan:
                args = tree.map_structure(resolve, node.call_args)
                kwargs = {k: tree.map_structure(resolve, v) for k, v in node.call_kwargs.items()}
                specs = node.layer._symbolic_output_specs(args, kwargs, _bound_or_none(node.layer, args, kwargs))
                flat = [specs] if isinstance(specs, _Spec) else _flat_specs(specs)
                for kt, (shape, dtype) in zip(node.outputs, flat):
                    env[id(kt)] = KerasTensor(shape, dtype)
            self._shape_cache[key] = tree.map_structure(lambda t: _Spec((env[id(t)].shape, env[id(t)].dtype)),
                                                        self.output_structure)
        return self._shape_cache[key]

    def output_shapes_for(self, input_shape):
        shapes = input_shape if isinstance(input_shape, (list, dict)) else [input_shape]
        if isinstance(shapes, dict):
            symbolic = {k: KerasTensor(s) for k, s in shapes.items()}
        else:
            symbolic = [KerasTensor(s) for s in shapes]
        specs = self.output_specs_for(symbolic if len(self.inputs) > 1 or isinstance(shapes, dict) else symbolic[0])
        return tree.map_structure(lambda s: s[0], specs) if not isinstance(specs, _Spec) else specs[0]

    # --- configuration -----------------------------------------------------------------------------
    def get_config(self, model):
        from ..saving.functional_config import functional_get_config
        return functional_get_config(model, self)


def _flat_specs(specs):
    if isinstance(specs, _Spec):
        return [specs]
    if isinstance(specs, dict):
        return [s for v in specs.values() for s in _flat_specs(v)]
    return [s for v in specs for s in _flat_specs(v)]


def _bound_or_none(layer, args, kwargs):
    from ..layers.base import _bind, _call_signature
    if len(args) == 1 and not kwargs:
        return None
    return _bind(_call_signature(layer), args, {k: v for k, v in kwargs.items() if k != 'training'})


def _check_input(model_name, tensor, shape):
    expected = tensor.shape
    if len(shape) != len(expected) or any(e is not None and s is not None and e != s
                                          for e, s in zip(expected[1:], tuple(shape)[1:])):
        raise ValueError(f"Model '{model_name}': input '{tensor.node.layer.name}' expects shape "
                         f'{format_shape(expected)}, but got data of shape {format_shape(tuple(shape))}.')
