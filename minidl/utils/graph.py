"""Pictures of graphs, as Graphviz DOT text (always) and PNG/SVG/PDF (when the ``dot`` program of
Graphviz is installed: ``apt-get install graphviz``, ``brew install graphviz``, ``conda install
graphviz``).

* ``plot_graph(tensor)``: the autograd graph that produced a tensor: every Function (a box) and
  every Tensor (an ellipse: its name, shape and dtype; filled when it requires a gradient), with
  an arrow from each input to the Function that used it and from each Function to its output.
* ``plot_model(model)``: Keras' ``keras.utils.plot_model``: one box per layer, an arrow for each
  tensor passed from one layer call to the next (``layer._inbound_nodes[i].inputs``).

Both return the DOT text. Given ``to_file``, they write it: a ``.dot`` (or ``.gv``) file is the
text itself; for any other extension (``.png``, ``.svg``, ``.pdf``) the DOT text is written next
to it (``model.dot`` beside ``model.png``) and ``dot`` draws the picture. Without ``dot`` the
picture is skipped with a warning that says how to get it; the DOT file is there either way.
"""
import os
import shutil
import subprocess
import warnings

from ..atomic import atomic_path

_DOT_EXTENSIONS = ('.dot', '.gv')


# --- the DOT writer --------------------------------------------------------------------------------
def _quote(text):
    return '"' + str(text).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


class Digraph:
    """A minimal DOT document: nodes and edges with attributes, nested clusters, ``str()`` as
    DOT text."""

    def __init__(self, name='G', graph=None, node=None, cluster=False):
        self.name, self.cluster = name, cluster
        self.graph_attrs, self.node_attrs = dict(graph or {}), dict(node or {})
        self.nodes, self.edges, self.subgraphs = [], [], []

    def node(self, key, **attrs):
        self.nodes.append((key, attrs))

    def edge(self, tail, head, **attrs):
        self.edges.append((tail, head, attrs))

    def subgraph(self, name, **graph_attrs):
        sub = Digraph(name, graph_attrs, cluster=True)
        self.subgraphs.append(sub)
        return sub

    @staticmethod
    def _attrs(attrs):
        return '[' + ', '.join(f'{k}={_quote(v)}' for k, v in attrs.items()) + ']' if attrs else ''

    def lines(self, indent='  '):
        out = [f'{indent}{k}={_quote(v)};' for k, v in self.graph_attrs.items()]
        if self.node_attrs:
            out.append(f'{indent}node {self._attrs(self.node_attrs)};')
        for sub in self.subgraphs:
            out.append(f'{indent}subgraph {_quote("cluster_" + sub.name)} {{')
            out += sub.lines(indent + '  ')
            out.append(f'{indent}}}')
        out += [f'{indent}{_quote(key)} {self._attrs(attrs)};'.replace(' ;', ';') for key, attrs in self.nodes]
        out += [f'{indent}{_quote(t)} -> {_quote(h)} {self._attrs(a)};'.replace(' ;', ';') for t, h, a in self.edges]
        return out

    def __str__(self):
        return '\n'.join([f'digraph {_quote(self.name)} {{'] + self.lines() + ['}']) + '\n'


class _Keys:
    """Short, stable DOT node names (t0, t1, f0, ...) for Python objects, in the order met."""

    def __init__(self):
        self._keys, self._counts = {}, {}

    def __call__(self, obj, prefix):
        key = self._keys.get((prefix, id(obj)))
        if key is None:
            count = self._counts[prefix] = self._counts.get(prefix, -1) + 1
            key = self._keys[(prefix, id(obj))] = f'{prefix}{count}'
        return key


def dot_available():
    """Whether Graphviz's ``dot`` program is on the PATH."""
    return shutil.which('dot') is not None


def write(dot_text, to_file, dpi=None):
    """Write ``dot_text`` for ``to_file`` (see the module docstring); returns the paths written."""
    to_file = os.fspath(to_file)
    base, extension = os.path.splitext(to_file)
    extension = extension.lower() or '.png'
    folder = os.path.dirname(os.path.abspath(to_file))
    os.makedirs(folder, exist_ok=True)
    dot_file = to_file if extension in _DOT_EXTENSIONS else base + '.dot'
    with atomic_path(dot_file, suffix='.dot') as tmp:
        with open(tmp, 'w') as f:
            f.write(dot_text)
    written = [dot_file]
    if extension in _DOT_EXTENSIONS:
        return written
    if not dot_available():
        warnings.warn(f"Graphviz's `dot` program was not found, so {to_file} was not drawn; the graph is in "
                      f'{dot_file}. Install Graphviz (apt-get install graphviz, brew install graphviz or '
                      f'conda install graphviz) and call again, or run: dot -T{extension[1:]} {dot_file} -o {to_file}',
                      stacklevel=3)
        return written
    command = ['dot', f'-T{extension[1:]}'] + ([f'-Gdpi={dpi}'] if dpi else [])
    with atomic_path(to_file, suffix=extension) as tmp:
        proc = subprocess.run(command + [dot_file, '-o', tmp], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f'Graphviz could not draw {to_file} from {dot_file}: {proc.stderr.strip()} '
                               f"(is '{extension[1:]}' a format that `dot -T` knows?)")
    return written + [to_file]


# --- the autograd graph ----------------------------------------------------------------------
def _tensor_label(t, names):
    name = names.get(id(t)) or getattr(t, 'path', None) or t.name
    lines = [name] if name else []
    lines.append(f'{tuple(t.shape)} {t.dtype}')
    if t.requires_grad and t.creator is None:
        lines.append('requires grad')
    return '\n'.join(lines)


def autograd_to_dot(tensor, names=None, rankdir='TB'):
    """The DOT graph (a ``Digraph``) of the Functions and Tensors that produced ``tensor``.

    ``names`` maps tensors to labels (``{'loss': loss, 'w': w}``: either way round). Tensors that
    need a gradient are filled; leaves among them (the weights) are marked 'requires grad'.
    Functions are boxes named after their class."""
    from ..autograd import Tensor
    if not isinstance(tensor, Tensor):
        raise TypeError(f'plot_graph: expected a minidl Tensor, got {type(tensor).__name__}.')
    labels = {}
    for key, value in (names or {}).items():
        t, label = (value, key) if isinstance(value, Tensor) else (key, value)
        labels[id(t)] = str(label)
    dot = Digraph('autograd', graph={'rankdir': rankdir}, node={'fontname': 'Helvetica', 'fontsize': '11'})
    seen_tensors, seen_functions = set(), set()
    key = _Keys()

    def add_tensor(t):
        if id(t) not in seen_tensors:
            seen_tensors.add(id(t))
            style = {'style': 'filled', 'fillcolor': '#cfe2f3'} if t.requires_grad else {}
            dot.node(key(t, 't'), label=_tensor_label(t, labels), shape='ellipse', **style)

    def check(f):
        if f.inputs is None:
            raise RuntimeError('plot_graph: this graph was freed by backward(); draw it before calling '
                               'backward(), or call backward(retain_graph=True).')

    add_tensor(tensor)
    produced = set()            # tensors already linked to the Function that made them
    stack = []
    if tensor.creator is not None:
        check(tensor.creator)
        dot.edge(key(tensor.creator, 'f'), key(tensor, 't'))
        stack.append(tensor.creator)
    while stack:
        f = stack.pop()
        if id(f) in seen_functions:
            continue
        seen_functions.add(id(f))
        dot.node(key(f, 'f'), label=type(f).__name__, shape='box', style='rounded,filled', fillcolor='#fde9c9')
        for x in f.inputs:
            add_tensor(x)
            dot.edge(key(x, 't'), key(f, 'f'))
            if x.creator is not None and id(x) not in produced:
                check(x.creator)
                produced.add(id(x))
                dot.edge(key(x.creator, 'f'), key(x, 't'))
                stack.append(x.creator)
    return dot


def plot_graph(tensor, to_file=None, names=None, rankdir='TB', dpi=None):
    """Draw the autograd graph that produced ``tensor`` (call it before ``backward()``, which
    frees the graph). Returns the DOT text; with ``to_file`` ('graph.png', 'graph.svg',
    'graph.dot') also writes it (module docstring)."""
    text = str(autograd_to_dot(tensor, names=names, rankdir=rankdir))
    if to_file is not None:
        write(text, to_file, dpi)
    return text


# --- Keras models ----------------------------------------------------------------------------
def _format_shape(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return ', '.join(_format_shape(s) for s in shape)
    return '(' + ', '.join('None' if d is None else str(d) for d in shape) + (',)' if len(shape) == 1 else ')')


def _layer_label(layer, node, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable):
    kind = type(layer).__name__
    lines = [f'{layer.name} ({kind})' if show_layer_names else kind]
    activation = getattr(layer, 'activation', None)
    if show_layer_activations and activation is not None:
        lines.append(f'Activation: {getattr(activation, "__name__", type(activation).__name__)}')
    if show_shapes and node is not None:
        inputs = [t.shape for t in node.inputs] or [t.shape for t in node.outputs]
        outputs = [t.shape for t in node.outputs]
        lines.append(f'Input shape: {_format_shape(inputs[0] if len(inputs) == 1 else inputs)}')
        lines.append(f'Output shape: {_format_shape(outputs[0] if len(outputs) == 1 else outputs)}')
    if show_dtype and node is not None:
        lines.append(f'Output dtype: {node.outputs[0].dtype}')
    if show_trainable:
        lines.append(f'Trainable: {"T" if layer.trainable else "F"}')
    return '\n'.join(lines)


def _model_nodes(model):
    """The layer calls (Nodes) of a functional or Sequential model, from its inputs to its
    outputs, or None for a subclassed model (no graph)."""
    try:
        outputs = model.outputs
    except AttributeError:
        return None
    nodes, seen, stack = [], set(), [t.node for t in outputs]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(t.node for t in node.inputs)
    return nodes[::-1]


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=False, rankdir='TB',
                 expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
                 splines='ortho'):
    """The DOT graph (a ``Digraph``) of a model's layers; ``plot_model``'s arguments."""
    if rankdir not in ('TB', 'LR'):
        raise ValueError(f"plot_model: rankdir must be 'TB' (vertical) or 'LR' (horizontal), got {rankdir!r}.")
    options = dict(show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                   show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    dot = Digraph(model.name, graph={'rankdir': rankdir, 'concentrate': 'true', 'dpi': dpi, 'splines': splines},
                  node={'shape': 'box', 'fontname': 'Helvetica'})
    entry, exit_ = {}, {}   # layer id -> the DOT node(s) its incoming / outgoing edges attach to
    _add_model(dot, model, options, expand_nested, entry, exit_, _Keys())
    return dot


def _add_model(dot, model, options, expand_nested, entry, exit_, key):
    """Boxes and edges for ``model``'s layers into ``dot``; fills entry/exit for nested models."""
    nodes = _model_nodes(model)
    if nodes is None:  # subclassed: no graph to walk, one box (as Keras draws it)
        dot.node(key(model, 'l'), label=_layer_label(model, None, **options))
        entry[id(model)] = exit_[id(model)] = [key(model, 'l')]
        return
    drawn = set()
    for node in nodes:
        layer = node.layer
        if id(layer) in drawn:
            continue
        drawn.add(id(layer))
        if expand_nested and _model_nodes(layer) is not None and hasattr(layer, 'layers'):
            sub = dot.subgraph(layer.name, label=layer.name, style='dashed')
            _add_model(sub, layer, options, expand_nested, entry, exit_, key)
            inner = _model_nodes(layer)
            firsts = [n for n in inner if not n.inputs]
            consumers = [n for n in inner if any(t.node in firsts for t in n.inputs)]
            entry[id(layer)] = [k for n in consumers for k in entry[id(n.layer)]] or \
                [k for n in firsts for k in entry[id(n.layer)]]
            exit_[id(layer)] = [k for t in layer.outputs for k in exit_[id(t.node.layer)]]
            continue
        dot.node(key(layer, 'l'), label=_layer_label(layer, node, **options))
        entry[id(layer)] = exit_[id(layer)] = [key(layer, 'l')]
    edges = set()
    for node in nodes:
        for t in node.inputs:
            if expand_nested and _model_nodes(node.layer) is not None and hasattr(node.layer, 'layers'):
                heads = entry[id(node.layer)]
            else:
                heads = [key(node.layer, 'l')]
            for tail in exit_[id(t.node.layer)]:
                for head in heads:
                    if (tail, head) not in edges and tail != head:
                        edges.add((tail, head))
                        dot.edge(tail, head)


def plot_model(model, to_file='model.png', show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir='TB', expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               splines='ortho', **kwargs):
    """Keras' ``plot_model``: draw a model's layers and the tensors between them. Writes
    ``to_file`` (module docstring: the DOT text always, the picture when Graphviz is installed)
    and returns the DOT text."""
    if kwargs.pop('layer_range', None) is not None:
        raise ValueError('plot_model: the argument `layer_range` is no longer supported (as in Keras 3).')
    if kwargs:
        raise ValueError(f'plot_model: unrecognized keyword arguments {sorted(kwargs)}.')
    text = str(model_to_dot(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
                            show_layer_activations, show_trainable, splines))
    write(text, to_file, dpi)
    return text
