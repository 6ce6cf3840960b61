"""``model.summary()``: the table Keras (tf.keras 2.x) prints.

Stack-like models get three columns (Layer (type) / Output Shape / Param #, 65 characters);
models with branches or merges add "Connected to" (98 characters), one line per inbound
tensor ('dense[0][0]'). Cells are cut at their column's right edge, as Keras does.
"""
import numpy as np

from ..layers.core import InputLayer


def print_summary(model, line_length=None, positions=None, print_fn=None):
    print_fn = print_fn or print
    if not model.built:
        _print_unbuilt(model, line_length or 65, positions or [.45, .8, 1.], print_fn)
        return
    graph = model._graph
    with_connections = graph is not None and not _is_sequential_like(graph)
    if with_connections:
        line_length = line_length or 98
        positions = positions or [.33, .55, .67, 1.]
        header = ['Layer (type)', 'Output Shape', 'Param #', 'Connected to']
    else:
        line_length = line_length or 65
        positions = positions or [.45, .85, 1.]
        header = ['Layer (type)', 'Output Shape', 'Param #']
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]

    print_fn(f'Model: "{model.name}"')
    print_fn('_' * line_length)
    print_fn(_row(header, positions))
    print_fn('=' * line_length)
    layers = model.layers
    for i, layer in enumerate(layers):
        title = f'{layer.name} ({_class_name(layer)})'
        shape = _output_shape_text(model, layer)
        params = layer.count_params() if layer.built else 0
        if with_connections:
            connections = [c for node in graph.nodes_of(layer) for c in node.connections()]
            print_fn(_row([title, shape, params, connections[0] if connections else ''], positions))
            for extra in connections[1:]:
                print_fn(_row(['', '', '', extra], positions))
        else:
            print_fn(_row([title, shape, params], positions))
        print_fn(('=' if i == len(layers) - 1 else '_') * line_length)
    if not layers:
        print_fn('=' * line_length)
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    print_fn(f'Total params: {trainable + non_trainable:,}')
    print_fn(f'Trainable params: {trainable:,}')
    print_fn(f'Non-trainable params: {non_trainable:,}')
    print_fn('_' * line_length)


def _print_unbuilt(model, line_length, positions, print_fn):
    """Keras 3's summary of a model that has not seen an input yet: its layers, with '?' for the
    output shapes and '0 (unbuilt)' for the parameters."""
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    print_fn(f'Model: "{model.name}"')
    print_fn('_' * line_length)
    print_fn(_row(['Layer (type)', 'Output Shape', 'Param #'], positions))
    print_fn('=' * line_length)
    layers = model.layers
    for i, layer in enumerate(layers):
        params = layer.count_params() if layer.built else '0 (unbuilt)'
        print_fn(_row([f'{layer.name} ({_class_name(layer)})', '?', params], positions))
        print_fn(('=' if i == len(layers) - 1 else '_') * line_length)
    if not layers:
        print_fn('=' * line_length)
    print_fn('Total params: 0 (unbuilt)' if not any(layer.built for layer in layers) else
             f'Total params: {_count(model.weights):,}')
    print_fn('_' * line_length)
    print_fn('The model has not been built yet: give the first layer an input shape, start with '
             'Input(...), or call it on a batch of data, to see output shapes and parameter counts.')


def _row(fields, positions):
    line = ''
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + ' '
        line += str(field)
        line = line[:positions[i]]
        line += ' ' * (positions[i] - len(line))
    return line


def _count(weights):
    return int(sum(int(np.prod(w.shape)) for w in weights))


def _class_name(layer):
    name_of = getattr(layer, '_summary_class_name', None)
    return name_of() if name_of else type(layer).__name__


def _is_sequential_like(graph):
    """A single chain: one input, one output, every node fed by one tensor that nothing else uses."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return False
    seen_layers, consumed = set(), set()
    for node in graph.nodes:
        if id(node.layer) in seen_layers or len(node.inputs) > 1:
            return False
        seen_layers.add(id(node.layer))
        for t in node.inputs:
            if id(t) in consumed:
                return False
            consumed.add(id(t))
    return True


def _shape_text(shape):
    if isinstance(shape, list):
        return '[' + ', '.join(_shape_text(s) for s in shape) + ']'
    return '(' + ', '.join('None' if d is None else str(d) for d in shape) + (',)' if len(shape) == 1 else ')')


def _output_shape_text(model, layer):
    graph = model._graph
    if graph is not None:
        nodes = graph.nodes_of(layer)
        if len(nodes) != 1:
            return 'multiple'
        shapes = [t.shape for t in nodes[0].outputs]
        if isinstance(layer, InputLayer):
            return _shape_text(shapes)
        return _shape_text(shapes[0] if len(shapes) == 1 else shapes)
    shape = layer._output_shape
    return 'multiple' if shape is None else _shape_text(shape)
