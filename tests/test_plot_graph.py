"""minidl.utils.plot_graph (the autograd graph) and plot_model (Keras' layer graph): the DOT text
always, the picture when Graphviz's `dot` is installed (skipped otherwise)."""
import os
import re

import numpy as np
import pytest

import minidl.functional as F
from minidl import Tensor, layers, models
from minidl.utils import graph, plot_graph, plot_model

needs_dot = pytest.mark.skipif(not graph.dot_available(), reason="Graphviz's dot program is not installed")


def _edges(text):
    return re.findall(r'"(\w+)" -> "(\w+)"', text)


def _labels(text):
    return dict(re.findall(r'"(\w+)" \[label="([^"]*)"', text))


def test_plot_graph_shows_functions_tensors_shapes_and_grad_needs():
    w = Tensor(np.ones((3, 2), np.float32), requires_grad=True, name='w')
    x = Tensor(np.ones((4, 3), np.float32))
    loss = F.relu(x @ w).mean()
    text = plot_graph(loss, names={'loss': loss})
    labels = _labels(text)
    assert labels['t0'] == 'loss\\n() float32'
    functions = [v for k, v in labels.items() if k.startswith('f')]
    assert functions == ['Mean', 'ReLU', 'MatMul']
    assert 'w\\n(3, 2) float32\\nrequires grad' in labels.values()
    assert '(4, 3) float32' in labels.values()                        # x: a constant, not filled
    x_key = next(k for k, v in labels.items() if v == '(4, 3) float32')
    assert re.search(rf'"{x_key}" \[label="[^"]*", shape="ellipse"\];', text)
    edges = _edges(text)
    assert ('f0', 't0') in edges and len(edges) == 7                  # 3 outputs + 4 inputs
    loss.backward()
    with pytest.raises(RuntimeError, match='freed by backward'):
        plot_graph(loss)


def test_plot_graph_writes_dot_and_explains_a_missing_dot(tmp_path, monkeypatch):
    a = Tensor(np.ones(2), requires_grad=True)
    y = (a * a).sum()
    text = plot_graph(y, to_file=tmp_path / 'g.dot')
    assert (tmp_path / 'g.dot').read_text() == text
    monkeypatch.setattr(graph.shutil, 'which', lambda name: None)
    with pytest.warns(UserWarning, match=r'dot.*not found.*g2\.dot.*apt-get install graphviz'):
        plot_graph(y, to_file=tmp_path / 'g2.png')
    assert (tmp_path / 'g2.dot').exists() and not (tmp_path / 'g2.png').exists()


@needs_dot
@pytest.mark.parametrize('extension, magic', [('.png', b'\x89PNG'), ('.svg', b'<?xml')])
def test_plot_graph_draws_png_and_svg(tmp_path, extension, magic):
    a = Tensor(np.ones(2), requires_grad=True)
    plot_graph(F.tanh(a).sum(), to_file=tmp_path / f'g{extension}')
    assert (tmp_path / f'g{extension}').read_bytes().startswith(magic)
    assert (tmp_path / 'g.dot').exists()


def _branchy_model():
    inputs = layers.Input((8,), name='x')
    h = layers.Dense(4, activation='relu', name='hidden')(inputs)
    left, right = layers.Dense(3, name='left')(h), layers.Dense(3, name='right')(h)
    out = layers.Add(name='add')([left, right])
    return models.Model(inputs, out, name='branchy')


def test_plot_model_boxes_and_edges_follow_the_inbound_nodes(tmp_path):
    text = plot_model(_branchy_model(), to_file=tmp_path / 'm.dot', show_shapes=True, show_layer_names=True,
                      show_layer_activations=True, show_dtype=True, show_trainable=True)
    labels = _labels(text)
    names = {v.split(' ')[0]: k for k, v in labels.items()}
    assert set(names) == {'x', 'hidden', 'left', 'right', 'add'}
    assert 'hidden (Dense)\\nActivation: relu\\nInput shape: (None, 8)\\nOutput shape: (None, 4)' \
        '\\nOutput dtype: float32\\nTrainable: T' == labels[names['hidden']]
    assert 'Input shape: (None, 3), (None, 3)' in labels[names['add']]
    expected = {('x', 'hidden'), ('hidden', 'left'), ('hidden', 'right'), ('left', 'add'), ('right', 'add')}
    inverse = {v: k for k, v in names.items()}
    assert {(inverse[a], inverse[b]) for a, b in _edges(text)} == expected
    assert 'rankdir="LR"' in plot_model(_branchy_model(), to_file=tmp_path / 'm2.dot', rankdir='LR')
    with pytest.raises(ValueError, match='rankdir'):
        plot_model(_branchy_model(), to_file=tmp_path / 'm3.dot', rankdir='BT')


def test_plot_model_sequential_and_nested(tmp_path):
    seq = models.Sequential([layers.Input((5,)), layers.Dense(3, name='d1'), layers.Dense(2, name='d2')], name='s')
    text = plot_model(seq, to_file=tmp_path / 's.dot', show_layer_names=True)
    assert len(_edges(text)) == 2 and 'd1 (Dense)' in text
    inputs = layers.Input((5,))
    outer = models.Model(inputs, layers.Dense(1, name='head')(seq(inputs)), name='outer')
    flat = plot_model(outer, to_file=tmp_path / 'o.dot', show_layer_names=True)
    assert 's (Sequential)' in flat and 'd1 (Dense)' not in flat
    nested = plot_model(outer, to_file=tmp_path / 'n.dot', show_layer_names=True, expand_nested=True)
    assert 'subgraph "cluster_s"' in nested and 'd1 (Dense)' in nested
    labels = {k: v.split(' ')[0] for k, v in _labels(nested).items()}
    edges = {(labels[a], labels[b]) for a, b in _edges(nested)}
    assert ('d1', 'd2') in edges and ('d2', 'head') in edges


@needs_dot
def test_plot_model_png_like_keras(tmp_path):
    plot_model(_branchy_model(), to_file=str(tmp_path / 'model.png'), show_shapes=True, dpi=60)
    assert (tmp_path / 'model.png').read_bytes().startswith(b'\x89PNG')
    assert os.path.exists(tmp_path / 'model.dot')
