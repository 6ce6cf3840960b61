"""``Model``: a layer made of layers. Three ways to make one, as in Keras:

* functional: ``Model(inputs, outputs)`` from symbolic tensors; the recorded layer calls
  become a graph, replayed in topological order on real data;
* ``Sequential`` (see sequential.py), a plain stack;
* subclassing: define layers as attributes in ``__init__`` and override ``call``.

Training (compile/fit/evaluate/predict) comes from ``TrainingMixin``; summary and HDF5
weight files from summary.py and saving.py.
"""
from .. import backend
from ..autograd import Tensor, no_grad
from ..layers.base import KerasTensor, Layer, format_shape
from ..layers.core import InputLayer
from ..saving import h5_weights
from . import summary as summary_module
from .training import TrainingMixin


class Model(TrainingMixin, Layer):
    """A functional (``Model(inputs, outputs, name)``) or subclassed model."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        self.stop_training = False
        object.__setattr__(self, '_graph', None)
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError(f"Model '{self.name}': give both inputs and outputs, e.g. Model(inputs=x, outputs=y).")
            object.__setattr__(self, '_graph', _Graph(self, inputs, outputs))
            self._sublayers[:] = self._graph.layers
            self.built = True
            shapes = self._graph.input_shapes
            self._build_input_shape = shapes if self._graph.multi_input else shapes[0]

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
        ins = self.inputs
        return ins[0] if len(ins) == 1 else ins

    @property
    def output(self):
        outs = self.outputs
        return outs[0] if len(outs) == 1 else outs

    @property
    def input_shape(self):
        graph = self._require_graph('input_shape')
        return graph.input_shapes if graph.multi_input else graph.input_shapes[0]

    @property
    def output_shape(self):
        graph = self._require_graph('output_shape')
        shapes = [t.shape for t in graph.outputs]
        return shapes if graph.multi_output else shapes[0]

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
    def build(self, input_shape):
        """Subclassed models: build every layer by running ``call`` once on zeros."""
        if self._graph is not None or self.built:
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        if any(d is None for s in shapes for d in s[1:]):
            raise ValueError(f"Model '{self.name}': build() needs every non-batch dimension, got {input_shape}.")
        probes = [Tensor(backend.xp().zeros((1,) + tuple(s[1:]), backend.floatx)) for s in shapes]
        self.built = True
        with no_grad():
            self._run(probes if isinstance(input_shape, list) else probes[0], False)
        self._build_input_shape = input_shape

    def _maybe_build(self, input_shape):
        if not self.built:
            self.built = True  # subclassed: the layers build themselves during the first call
            self._build_input_shape = input_shape

    def call(self, inputs, training=False):
        if self._graph is None:
            raise NotImplementedError(f"Model '{self.name}' has no graph: subclasses of Model must define call().")
        return self._graph.run(inputs, training)

    def compute_output_shape(self, input_shape):
        if self._graph is not None:
            return self._graph.output_shapes_for(input_shape)
        return Layer.compute_output_shape(self, input_shape)

    def __call__(self, inputs, training=False):
        return Layer.__call__(self, inputs, training=training)

    # --- reporting and files ---------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print Keras' table of layers, output shapes and parameter counts."""
        summary_module.print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def save_weights(self, filepath, overwrite=True):
        """Write every weight to an HDF5 file (atomically). A name ending in '.weights.h5' gets
        Keras 3's layout; any other name Keras 2's ('layer_names' / 'weight_names')."""
        h5_weights.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Read weights written by ``save_weights`` or by Keras (2 '.h5' or 3 '.weights.h5')."""
        h5_weights.load_weights(self, filepath)

    def _summary_class_name(self):
        return 'Functional' if self._graph is not None and type(self) is Model else type(self).__name__


class _Graph:
    """The layer calls between symbolic inputs and outputs, ordered for execution."""

    def __init__(self, model, inputs, outputs):
        self.model_name = model.name
        self.multi_input = isinstance(inputs, (list, tuple))
        self.multi_output = isinstance(outputs, (list, tuple))
        self.inputs = list(inputs) if self.multi_input else [inputs]
        self.outputs = list(outputs) if self.multi_output else [outputs]
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model '{model.name}': inputs and outputs must be symbolic tensors made from "
                                f'Input(...) and layer calls, got {type(t).__name__}.')
        for t in self.inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model '{model.name}': every input must come straight from Input(...); "
                                 f"'{t.node.layer.name}' is a {type(t.node.layer).__name__}.")
        self.nodes = self._ordered_nodes()
        self.layers = []
        for node in self.nodes:
            if not any(node.layer is known for known in self.layers):
                self.layers.append(node.layer)
        self.input_shapes = [t.shape for t in self.inputs]
        input_ids = {id(t) for t in self.inputs}
        self.plan = [(n.layer, [id(t) for t in n.inputs], [id(t) for t in n.outputs], n.multi_input)
                     for n in self.nodes if not (isinstance(n.layer, InputLayer) and id(n.outputs[0]) in input_ids)]
        self._shape_cache = {}

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

    def run(self, inputs, training):
        values = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != len(self.inputs):
            raise ValueError(f"Model '{self.model_name}' expects {len(self.inputs)} input(s), got {len(values)}.")
        env = {}
        for t, x in zip(self.inputs, values):
            _check_input(self.model_name, t, x.shape)
            env[id(t)] = x
        for layer, in_ids, out_ids, multi in self.plan:
            out = layer([env[i] for i in in_ids] if multi else env[in_ids[0]], training=training)
            if len(out_ids) == 1:
                env[out_ids[0]] = out
            else:
                env.update(zip(out_ids, out))
        outs = [env[id(t)] for t in self.outputs]
        return outs if self.multi_output else outs[0]

    def output_shapes_for(self, input_shape):
        key = repr(input_shape)
        if key not in self._shape_cache:
            shapes = input_shape if self.multi_input else [input_shape]
            env = {}
            for t, s in zip(self.inputs, shapes):
                _check_input(self.model_name, t, s)
                env[id(t)] = tuple(s)
            for layer, in_ids, out_ids, multi in self.plan:
                out = layer.compute_output_shape([env[i] for i in in_ids] if multi else env[in_ids[0]])
                if len(out_ids) == 1:
                    env[out_ids[0]] = out
                else:
                    env.update(zip(out_ids, out))
            outs = [env[id(t)] for t in self.outputs]
            self._shape_cache[key] = outs if self.multi_output else outs[0]
        return self._shape_cache[key]


def _check_input(model_name, tensor, shape):
    expected = tensor.shape
    if len(shape) != len(expected) or any(e is not None and s is not None and e != s
                                          for e, s in zip(expected[1:], tuple(shape)[1:])):
        raise ValueError(f"Model '{model_name}': input '{tensor.node.layer.name}' expects shape "
                         f'{format_shape(expected)}, but got data of shape {format_shape(tuple(shape))}.')
