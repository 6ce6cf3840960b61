"""Model weights in HDF5 files, in the two layouts Keras writes.

* Keras 2 (``model.save_weights('w.h5')``): root attribute ``layer_names``; one group per
  layer with weights, whose attribute ``weight_names`` ('dense/kernel:0', ...) lists the
  datasets in the order trainable weights, then non-trainable ones.
* Keras 3 (``model.save_weights('w.weights.h5')``): ``layers/<key>/vars/0``, ``/1``, ...
  where ``<key>`` is the layer's class name in snake case, numbered per class in layer order
  (``dense``, ``dense_1``, ``conv2d``, ...); nested models recurse (``layers/functional/layers/...``);
  variables in creation order of the trainable ones, then the non-trainable ones.

Both are loaded by position, checking every count and shape and naming the layer that does
not fit. Files are written to a temporary name in the target folder, then renamed.
"""
import os

import numpy as np

from .. import backend
from ..atomic import atomic_path
from ..layers.base import to_snake_case


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError('Saving and loading weights in HDF5 needs h5py: pip install h5py') from None
    return h5py


def save_weights(model, filepath, overwrite=True):
    h5py = _h5py()
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f'{filepath} exists and overwrite=False.')
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built, so it has no weights to save yet.")
    with atomic_path(filepath) as tmp, h5py.File(tmp, 'w') as f:
        if filepath.endswith('.weights.h5'):
            _write_keras3(f, model)
        else:
            _write_keras2(f, model)


def load_weights(model, filepath):
    h5py = _h5py()
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f'No weights file at {filepath}.')
    if not model.built:
        raise ValueError(f"Model '{model.name}' must be built (given its input shape) before loading weights.")
    with h5py.File(filepath, 'r') as f:
        if 'layer_names' in f.attrs:
            _read_keras2(f, model, filepath)
        elif 'layers' in f or 'vars' in f:
            _read_keras3(f, model, filepath)
        else:
            raise ValueError(f'{filepath} is an HDF5 file but holds no Keras weights (neither a layer_names '
                             "attribute nor a 'layers' group).")


# --- Keras 2 layout --------------------------------------------------------------------------------
def _legacy_weights(layer):
    return layer.trainable_weights + layer.non_trainable_weights


def _write_keras2(f, model):
    f.attrs['layer_names'] = np.array([layer.name.encode('utf8') for layer in model.layers])
    f.attrs['backend'] = b'minidl'
    f.attrs['keras_version'] = b'2.x (minidl)'
    for layer in model.layers:
        group = f.create_group(layer.name)
        weights = _legacy_weights(layer)
        names = [f'{w.path}:0' for w in weights]
        group.attrs['weight_names'] = np.array([n.encode('utf8') for n in names])
        for name, w in zip(names, weights):
            group.create_dataset(name, data=backend.to_numpy(w.data))


def _decode(values):
    return [v.decode('utf8') if isinstance(v, bytes) else str(v) for v in values]


def _read_keras2(f, model, filepath):
    saved = [n for n in _decode(f.attrs['layer_names']) if len(f[n].attrs.get('weight_names', []))]
    layers = [layer for layer in model.layers if layer.weights]
    if len(saved) != len(layers):
        raise ValueError(f"{filepath} holds weights for {len(saved)} layer(s) {saved}, but model '{model.name}' "
                         f'has {len(layers)} layer(s) with weights {[layer.name for layer in layers]}.')
    updates = []
    for layer, saved_name in zip(layers, saved):
        group = f[saved_name]
        names = _decode(group.attrs['weight_names'])
        weights = _legacy_weights(layer)
        values = [np.asarray(group[n]) for n in names]
        _check_layer(filepath, layer, weights, values, f"layer '{saved_name}'")
        updates.extend(zip(weights, values))
    _assign(updates)


# --- Keras 3 layout --------------------------------------------------------------------------------
def _is_container(layer):
    """Functional and Sequential models: Keras 3 saves their layers under 'layers/'."""
    return getattr(layer, 'saves_layers_as_list', False)


def _keras3_class_key(layer):
    name = layer._summary_class_name() if hasattr(layer, '_summary_class_name') else type(layer).__name__
    return to_snake_case(name)


def _keras3_children(layer):
    """(path part, layer) pairs in the order Keras 3 walks them: a model's layers, or a custom
    layer's attributes holding layers (public names first, alphabetically)."""
    if _is_container(layer):
        return _numbered('layers', layer.layers)

    def is_sublayer(value):
        return any(value is s for s in layer._sublayers)

    pairs = []
    for attr in sorted(vars(layer), key=lambda a: ('~' + a) if a.startswith('_') else a):
        value = getattr(layer, attr)
        if attr != '_sublayers' and is_sublayer(value):
            pairs.append((attr, value))
        elif attr != '_sublayers' and isinstance(value, (list, tuple)) and value and all(map(is_sublayer, value)):
            pairs.extend(_numbered(attr, value))
    return pairs


def _numbered(prefix, layers):
    used, pairs = {}, []
    for layer in layers:
        key = _keras3_class_key(layer)
        if key in used:
            used[key] += 1
            key = f'{key}_{used[key]}'
        else:
            used[key] = 0
        pairs.append((f'{prefix}/{key}', layer))
    return pairs


def _own_variables(layer):
    trainable = list(layer._own_trainable)
    return trainable + [w for w in layer._own_weights if not any(w is t for t in trainable)]


def _walk_keras3(layer, path, seen):
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield path, layer
    for part, child in _keras3_children(layer):
        yield from _walk_keras3(child, f'{path}/{part}' if path else part, seen)


def _write_keras3(f, model):
    for path, layer in _walk_keras3(model, '', set()):
        group = f.require_group(f'{path}/vars' if path else 'vars')
        for i, w in enumerate(_own_variables(layer)):
            group.create_dataset(str(i), data=backend.to_numpy(w.data))


def _read_keras3(f, model, filepath):
    updates = []
    for path, layer in _walk_keras3(model, '', set()):
        weights = _own_variables(layer)
        key = f'{path}/vars' if path else 'vars'
        if not weights:
            continue
        if key not in f:
            raise ValueError(f"{filepath} has no group '{key}' for layer '{layer.name}' ({type(layer).__name__}) "
                             f'with {len(weights)} weight(s): the file was saved from a different architecture.')
        group = f[key]
        values = [np.asarray(group[str(i)]) for i in range(len(group)) if str(i) in group]
        _check_layer(filepath, layer, weights, values, f"group '{key}'")
        updates.extend(zip(weights, values))
    _assign(updates)


# --- shared ---------------------------------------------------------------------------------------
def _check_layer(filepath, layer, weights, values, where):
    if len(values) != len(weights):
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) has {len(weights)} weight(s) "
                         f'{[w.path for w in weights]}, but {where} of {filepath} holds {len(values)}.')
    for w, v in zip(weights, values):
        if tuple(v.shape) != tuple(w.shape):
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): weight '{w.path}' has shape "
                             f'{tuple(w.shape)}, but {where} of {filepath} holds shape {tuple(v.shape)}.')


def _assign(updates):
    """Write every value only after every layer has been checked: a failed load changes nothing."""
    for w, v in updates:
        w.data[...] = backend.as_array(v.astype(w.dtype, copy=False))
