"""A functional model's config and back, in Keras 3's format (and Keras 2's, for reading).

Keras 3::

    {"name": ..., "trainable": true,
     "layers": [{<serialized layer>, "name": "dense", "inbound_nodes": [
                   {"args": [<__keras_tensor__ with keras_history [layer, node, tensor]>, ...],
                    "kwargs": {...}}]}, ...],
     "input_layers": ["a", 0, 0]  (one input) | [["a", 0, 0], ...] | {"key": ["a", 0, 0]},
     "output_layers": likewise}

Keras 2 wrote each inbound node as ``[[layer, node, tensor, kwargs], ...]`` (one entry per
input tensor). Node indices are counted among the layer's calls inside this model.
"""
from .. import tree
from .serialization_lib import deserialize_keras_object, serialize_keras_object


def functional_get_config(model, graph):
    node_index = {}          # id(node) -> its index among the layer's nodes in this graph
    for layer in graph.layers:
        for i, node in enumerate(n for n in layer._inbound_nodes if any(n is m for m in graph.nodes)):
            node_index[id(node)] = i

    def history(t):
        return [t.node.layer.name, node_index.get(id(t.node), 0), t.index]

    def tensor_config(t):
        return {'class_name': '__keras_tensor__',
                'config': {'shape': list(t.shape), 'dtype': t.dtype.name if t.dtype.kind != 'O' else 'string',
                           'keras_history': history(t)}}

    def serialize_arg(value):
        from ..layers.base import KerasTensor
        if isinstance(value, KerasTensor):
            return tensor_config(value)
        if isinstance(value, (list, tuple)):
            return [serialize_arg(v) for v in value]
        if isinstance(value, dict):
            return {k: serialize_arg(v) for k, v in value.items()}
        return serialize_keras_object(value)

    layers = []
    for layer in graph.layers:
        entry = serialize_keras_object(layer)
        entry['name'] = layer.name
        entry['inbound_nodes'] = [
            {'args': serialize_arg(list(node.call_args)), 'kwargs': serialize_arg(dict(node.call_kwargs))}
            for node in layer._inbound_nodes if any(node is m for m in graph.plan)]
        layers.append(entry)

    def structure(s):
        if isinstance(s, dict):
            return {k: history(v) for k, v in s.items()}
        if isinstance(s, (list, tuple)):
            return [history(v) for v in s]
        return history(s)

    return {'name': model.name, 'trainable': model.trainable, 'layers': layers,
            'input_layers': structure(graph.input_structure), 'output_layers': structure(graph.output_structure)}


def functional_from_config(cls, config, custom_objects=None):
    """Rebuild the model by creating each layer, then calling it on the outputs of the layers it
    was called on, in an order where every input is ready."""
    from ..layers import InputLayer, deserialize as deserialize_layer
    created, pending, outputs = {}, [], {}
    for layer_config in config['layers']:
        entry = {k: v for k, v in layer_config.items() if k not in ('inbound_nodes', 'name')}
        layer = deserialize_layer(entry, custom_objects=custom_objects)
        name = layer_config.get('name', layer.name)
        created[name] = layer
        if isinstance(layer, InputLayer):
            outputs[(name, 0)] = [layer.output]
            continue
        for i, node in enumerate(layer_config.get('inbound_nodes', [])):
            pending.append((name, i, node))
    counts = {}
    while pending:
        progressed = False
        remaining = []
        for name, i, node in pending:
            if counts.get(name, 0) != i:  # a layer's calls are replayed in order
                remaining.append((name, i, node))
                continue
            call = _resolve_node(node, outputs, custom_objects)
            if call is None:
                remaining.append((name, i, node))
                continue
            args, kwargs = call
            result = created[name](*args, **kwargs)
            outputs[(name, i)] = tree.flatten(result)
            counts[name] = i + 1
            progressed = True
        if not progressed:
            missing = sorted({n for n, _, _ in remaining})
            raise ValueError(f'The model config cannot be rebuilt: the layers {missing} are called on tensors no layer '
                             'of the config produces.')
        pending = remaining

    def lookup(ref):
        name, node, index = ref[:3]
        return outputs[(name, node)][index]

    def structure(s):
        if isinstance(s, dict):
            return {k: lookup(v) for k, v in s.items()}
        if s and isinstance(s[0], (list, tuple)):
            return [lookup(v) for v in s]
        return lookup(s)

    inputs = structure(config['input_layers'])
    outs = structure(config['output_layers'])
    if isinstance(inputs, list) and len(inputs) == 1 and not _is_dict(config['input_layers']) \
            and isinstance(config['input_layers'][0], (list, tuple)) and _keras2(config):
        inputs = inputs[0]
    if isinstance(outs, list) and len(outs) == 1 and _keras2(config):
        outs = outs[0]
    return cls(inputs=inputs, outputs=outs, name=config.get('name'), trainable=config.get('trainable', True))


def _is_dict(value):
    return isinstance(value, dict)


def _keras2(config):
    nodes = [n for layer in config['layers'] for n in layer.get('inbound_nodes', [])]
    return bool(nodes) and isinstance(nodes[0], list)


def _resolve_node(node, outputs, custom_objects):
    """(args, kwargs) of a node config with its tensors looked up, or None when one is not ready."""
    missing = []

    def resolve(value):
        if isinstance(value, dict) and value.get('class_name') == '__keras_tensor__':
            name, node_index, index = value['config']['keras_history']
            produced = outputs.get((name, node_index))
            if produced is None:
                missing.append(name)
                return None
            return produced[index]
        if isinstance(value, dict) and 'class_name' in value and 'config' in value:
            return deserialize_keras_object(value, custom_objects)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    if isinstance(node, list):  # Keras 2: [[layer, node, tensor, kwargs], ...]
        tensors, kwargs = [], {}
        for entry in node:
            produced = outputs.get((entry[0], entry[1]))
            if produced is None:
                return None
            tensors.append(produced[entry[2]])
            if len(entry) > 3 and entry[3]:
                kwargs.update(resolve(entry[3]))
        return ([tensors[0]] if len(tensors) == 1 else [tensors]), kwargs
    args = resolve(node.get('args', []))
    kwargs = resolve(node.get('kwargs', {}))
    if missing:
        return None
    return args, kwargs
