"""Model weights in HDF5 files: the one reader and writer for every Keras weight layout.

Layouts read (the layout is recognised from the file's content, not its name):

* **Keras 3** ``.weights.h5`` (``model.save_weights('w.weights.h5')``):
  ``layers/<key>/vars/0``, ``/1``, ... where ``<key>`` is the layer's class name in snake case,
  numbered per class in layer order (``dense``, ``dense_1``, ``conv2d``, ...); nested models
  recurse (``layers/functional/layers/...``); each layer's own variables, trainable ones first.
  Also the ``model.weights.h5`` inside a Keras 3 ``.keras`` archive.
* **Keras 2** weights files (``save_weights('w.h5')``): root attribute ``layer_names`` (split into
  ``layer_names0``, ``layer_names1``, ... when long); one group per layer whose attribute
  ``weight_names`` ('dense/kernel:0', ...) lists its datasets, trainable weights first; a nested
  model is one group holding all of its weights. Keras 3 writes the same layout (names without
  ':0', a ``top_level_model_weights`` group).
* The **legacy files of the official Keras application releases**: the Keras 2 layout with old
  weight names (``block1_conv1_W_1:0``, ``block1_conv1_b_1:0``, ``bn_conv1_running_std:0``).
* **Keras 2 full-model files** (``model.save('m.h5')``): the Keras 2 layout under the group
  ``model_weights``.

Keras 2 layouts are matched as Keras does: layer by layer in order among the layers that have
weights (or by layer name with ``by_name=True``), and weights in the order the file lists them.
When every weight name of a layer in the file names a role (kernel/W, bias/b, gamma, beta,
moving_mean/running_mean, moving_variance/running_std, ...) and the roles are those of the
layer's weights in another order, the weights are matched by role instead, so a file listing
them in another order still loads correctly.

``skip_mismatch=True`` warns about and skips each layer whose weight shapes (or, matching by
name or in the Keras 3 layout, weight counts) differ from the file's; otherwise the error names
the layer, the weight and both shapes. Every dataset is checked (shape, dtype, no links or
external storage: ``h5io``) before it is read, and every value is read before any weight is
changed: a failed load leaves the model as it was.

Files are written in memory and renamed into place by ``h5io.save`` (crash-safe, mode kept,
symlinks followed). A name ending in '.weights.h5' gets Keras 3's layout, any other Keras 2's.
"""
import os
import re
import warnings
import zipfile

from .. import backend
from ..layers.base import to_snake_case
from . import h5io

KERAS3_SUFFIX = '.weights.h5'
KERAS_ARCHIVE_WEIGHTS = 'model.weights.h5'
_MAX_ARCHIVE_EXPANSION = 1000  # a .keras member may not claim to inflate more than this (above 1 GiB)


# ------------------------------------------------------------------------------------ entry points

def save_weights(model, filepath, overwrite=True):
    """Write every weight of ``model`` to ``filepath`` (Keras 3 layout for '*.weights.h5',
    Keras 2 layout otherwise), atomically."""
    user_path = os.fspath(filepath)
    if not overwrite and os.path.exists(user_path):
        raise FileExistsError(17, f'{user_path} exists and overwrite=False; pass overwrite=True to replace it.',
                              user_path)
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built, so it has no weights to save yet. Call it on data "
                         'or give it an input shape first.')
    writer = write_keras3 if user_path.endswith(KERAS3_SUFFIX) else write_keras2
    h5io.save(user_path, lambda f: writer(f, model), what='Saving weights to')


def load_weights(model, filepath, skip_mismatch=False, by_name=False, **kwargs):
    """Read weights written by ``save_weights`` or by Keras (any layout of the module docstring,
    or the weights of a ``.keras`` archive) into ``model``."""
    if kwargs:
        raise TypeError(f'load_weights() got unexpected keyword argument(s) {sorted(kwargs)}; it takes '
                        'filepath, skip_mismatch and by_name.')
    user_path = os.fspath(filepath)
    if not model.built:
        raise ValueError(f"Model '{model.name}' must be built (given its input shape, or called on data) before "
                         f'loading weights from {user_path}.')
    if not os.path.exists(user_path):
        raise FileNotFoundError(2, f'No weights file at {user_path}', user_path)
    if user_path.endswith('.keras') and zipfile.is_zipfile(user_path):
        if by_name:
            raise ValueError(f'by_name=True only applies to Keras 2 (legacy .h5) weight files; {user_path} is a '
                             '.keras archive, whose weights are matched by layer position.')
        data, label = _archive_weights(user_path)
        with h5io.open_file(data, label) as f:
            load_weights_from_h5(f, model, label, skip_mismatch=skip_mismatch)
        return
    with h5io.open_file(user_path) as f:
        load_weights_from_h5(f, model, user_path, skip_mismatch=skip_mismatch, by_name=by_name)


def _archive_weights(path):
    label = f'{path} ({KERAS_ARCHIVE_WEIGHTS})'
    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo(KERAS_ARCHIVE_WEIGHTS)
        except KeyError:
            raise ValueError(f'{path} is a zip archive without {KERAS_ARCHIVE_WEIGHTS}: it is not a Keras 3 '
                             '.keras file.') from None
        if info.file_size > (1 << 30) and info.file_size > _MAX_ARCHIVE_EXPANSION * max(info.compress_size, 1):
            raise h5io.UnsafeH5Error(f'{label} claims {info.file_size} bytes from {info.compress_size} compressed '
                                     'bytes; refusing to inflate it.')
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    return data, label


def load_weights_from_h5(f, model, label, skip_mismatch=False, by_name=False):
    """Load ``model``'s weights from an open HDF5 file (or group) ``f`` in any layout.
    ``label`` names the file in messages. For callers that already hold the file (the
    ``.keras`` archive reader)."""
    layout, root = detect_layout(f, label)
    if layout == 'keras3':
        if by_name:
            raise ValueError(f'by_name=True only applies to Keras 2 (legacy .h5) weight files; {label} is in the '
                             "Keras 3 '.weights.h5' layout, whose weights are matched by layer position.")
        updates = _collect_keras3(root, model, label, skip_mismatch)
    else:
        updates = _collect_keras2(root, model, label, skip_mismatch, by_name)
    _assign(updates)


def detect_layout(f, label):
    """('keras2', group) or ('keras3', group) for an open file; explains what it is otherwise."""
    if h5io.string_list(f, 'layer_names', label) is not None:
        return 'keras2', f
    weights = h5io.group(f, 'model_weights', label, required=False)
    if weights is not None and h5io.string_list(weights, 'layer_names', label) is not None:
        return 'keras2', weights
    if h5io.has(f, 'layers', label) or h5io.has(f, 'vars', label):
        return 'keras3', f
    raise ValueError(f"{label} is an HDF5 file but holds no Keras weights (neither a 'layer_names' attribute, "
                     "nor a 'model_weights' group, nor a 'layers' group). Give a file written by save_weights, "
                     'by Keras, or a Keras application weights file.')


# ------------------------------------------------------------------------------- Keras 2 layout

def _legacy_weights(layer):
    """A layer's weights in Keras 2's file order: trainable, then non-trainable.

    The split follows each variable's own ``trainable`` flag, not whether the layer is frozen
    right now, so freezing a backbone before loading its weights does not change the order."""
    weights = layer.weights
    return [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]


def write_keras2(group, model):
    """Write ``model``'s weights in the Keras 2 layout into an open HDF5 file or group, as
    Keras 3 writes it (layer groups created in name order, ``top_level_model_weights``)."""
    h5io.write_string_list(group, 'layer_names', [layer.name for layer in model.layers])
    group.attrs['backend'] = b'minidl'
    group.attrs['keras_version'] = b'2.x (minidl)'
    for layer in sorted(model.layers, key=lambda item: item.name):
        _write_weight_group(group.require_group(layer.name), _legacy_weights(layer))
    _write_weight_group(group.require_group('top_level_model_weights'), _legacy_own(model))


def _write_weight_group(layer_group, weights):
    names, used = [], set()
    for w in weights:
        name, i = f'{w.path}:0', 1
        while name in used:
            name, i = f'{w.path}_{i}:0', i + 1
        used.add(name)
        names.append(name)
    h5io.write_string_list(layer_group, 'weight_names', names)
    for name, w in zip(names, weights):
        layer_group.create_dataset(name, data=backend.to_numpy(w.data))


def _legacy_own(layer):
    own = list(layer._own_weights)
    return [w for w in own if w.trainable] + [w for w in own if not w.trainable]


def _saved_layers(root, label):
    """(name, group, weight names) of each layer of the file that has weights, in file order."""
    saved = []
    for name in h5io.string_list(root, 'layer_names', label):
        layer_group = h5io.group(root, name, label, required=False)
        if layer_group is None:
            raise ValueError(f"{label} lists layer '{name}' in 'layer_names' but has no group for it: the file is "
                             'incomplete or was not written by Keras.')
        names = h5io.string_list(layer_group, 'weight_names', label) or []
        if names:
            saved.append((name, layer_group, names))
    return saved


def _collect_keras2(root, model, label, skip_mismatch, by_name):
    saved = _saved_layers(root, label)
    updates = []
    if by_name:
        index = {}
        for layer in model.layers:
            index.setdefault(layer.name, []).append(layer)
        for k, (name, layer_group, names) in enumerate(saved):
            for layer in index.get(name, []):
                where = f"layer '{name}' (#{k} in the file)"
                updates.extend(_match_layer(layer, _legacy_weights(layer), layer_group, names, label, where,
                                            skip_mismatch, skip_counts=skip_mismatch, saved_name=name))
    else:
        layers = [layer for layer in model.layers if layer.weights]
        if len(saved) != len(layers):
            raise ValueError(
                f"{label} holds weights for {len(saved)} layer(s) {[s[0] for s in saved]}, but model "
                f"'{model.name}' has {len(layers)} layer(s) with weights {[layer.name for layer in layers]}. "
                'The file was saved from a different architecture; with by_name=True layers are matched by name.')
        for layer, (name, layer_group, names) in zip(layers, saved):
            where = f"layer '{name}'"
            updates.extend(_match_layer(layer, _legacy_weights(layer), layer_group, names, label, where,
                                        skip_mismatch, skip_counts=False, saved_name=name))
    top = h5io.group(root, 'top_level_model_weights', label, required=False)
    if top is not None:
        names = h5io.string_list(top, 'weight_names', label) or []
        own = _legacy_own(model)
        if names or own:
            updates.extend(_match_layer(model, own, top, names, label, "group 'top_level_model_weights'",
                                        skip_mismatch, skip_counts=by_name and skip_mismatch))
    return updates


_ROLE_ALIASES = {'W': 'kernel', 'b': 'bias', 'running_mean': 'moving_mean', 'running_std': 'moving_variance',
                 'running_var': 'moving_variance', 'U': 'recurrent_kernel'}


def _role(saved_name, group_name):
    """'kernel' for 'block1_conv1_W_1:0' in group 'block1_conv1', 'gamma' for 'conv1_bn/gamma:0'."""
    name = saved_name.split(':')[0]
    for prefix in (group_name + '/', group_name + '_'):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    name = name.rsplit('/', 1)[-1]
    name = re.sub(r'_\d+$', '', name)
    return _ROLE_ALIASES.get(name, name)


def _order_by_role(weights, names, group_name):
    """The saved names reordered to match ``weights`` by role, or ``names`` as they are when the
    roles do not identify every weight unambiguously (or already agree)."""
    saved_roles = [_role(n, group_name) for n in names]
    model_roles = [w.name for w in weights]
    if (len(set(saved_roles)) != len(saved_roles) or len(set(model_roles)) != len(model_roles)
            or set(saved_roles) != set(model_roles) or saved_roles == model_roles):
        return names
    by_role = dict(zip(saved_roles, names))
    return [by_role[role] for role in model_roles]


def _match_layer(layer, weights, layer_group, names, label, where, skip_mismatch, skip_counts, saved_name=None):
    """(weight, dataset, label) triples of one layer after checking counts and shapes (nothing read)."""
    what = f"Layer '{layer.name}' ({type(layer).__name__})"
    if len(names) != len(weights):
        message = (f'{what} has {len(weights)} weight(s) {[w.path for w in weights]}, but {where} of {label} '
                   f'holds {len(names)}: {names}.')
        if skip_counts:
            warnings.warn(f'Skipping loading weights of {message}', stacklevel=4)
            return []
        raise ValueError(message)
    names = _order_by_role(weights, names, saved_name or layer_group.name.rsplit('/', 1)[-1])
    pairs = []
    for w, name in zip(weights, names):
        ds = h5io.dataset(layer_group, name, label)
        if tuple(ds.shape) != tuple(w.shape):
            message = (f"{what}: weight '{w.path}' has shape {tuple(w.shape)}, but {where} of {label} holds "
                       f"'{name}' with shape {tuple(ds.shape)}.")
            if skip_mismatch:
                warnings.warn(f'Skipping loading weights of {message}', stacklevel=4)
                return []
            raise ValueError(message)
        pairs.append((w, ds, label))
    return pairs


# ------------------------------------------------------------------------------- Keras 3 layout

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
    sublayers = getattr(layer, '_sublayers', [])

    def is_sublayer(value):
        return any(value is s for s in sublayers)

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
    """The variables a layer creates itself, in Keras 3's order: trainable, then the others."""
    trainable = list(layer._own_trainable)
    return trainable + [w for w in layer._own_weights if not any(w is t for t in trainable)]


def _walk_keras3(layer, path, seen):
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield path, layer
    for part, child in _keras3_children(layer):
        yield from _walk_keras3(child, f'{path}/{part}' if path else part, seen)


def write_keras3(f, model):
    """Write ``model``'s weights in the Keras 3 layout into an open HDF5 file (also the
    ``model.weights.h5`` of a ``.keras`` archive)."""
    for path, layer in _walk_keras3(model, '', set()):
        group = f.require_group(f'{path}/vars' if path else 'vars')
        for i, w in enumerate(_own_variables(layer)):
            group.create_dataset(str(i), data=backend.to_numpy(w.data))


def _collect_keras3(root, model, label, skip_mismatch):
    updates = []
    for path, layer in _walk_keras3(model, '', set()):
        weights = _own_variables(layer)
        if not weights:
            continue
        key = f'{path}/vars' if path else 'vars'
        what = f"Layer '{layer.name}' ({type(layer).__name__})"
        group = h5io.group(root, key, label, required=False)
        if group is None:
            message = (f"{label} has no group '{key}' for layer '{layer.name}' ({type(layer).__name__}) with "
                       f'{len(weights)} weight(s): the file was saved from a different architecture.')
            if skip_mismatch:
                warnings.warn(f'Skipping loading weights: {message}', stacklevel=3)
                continue
            raise ValueError(message)
        count = 0
        while h5io.has(group, str(count), label):
            count += 1
        names = [str(i) for i in range(count)]
        updates.extend(_match_layer(layer, weights, group, names, label, f"group '{key}'", skip_mismatch,
                                    skip_counts=skip_mismatch))
    return updates


# ------------------------------------------------------------------------------------------ shared

def _assign(triples):
    """Read every dataset, then write the values: a load that fails while reading changes nothing."""
    values = [(w, h5io.read(ds, label)) for w, ds, label in triples]
    for w, v in values:
        w.data[...] = backend.as_array(v.astype(w.dtype, copy=False))


# --- the names minidl.saving.saving_lib (the .keras archive and Keras 2 full-model files) calls ------------
_h5py = h5io.h5py_module
_write_keras3 = write_keras3
_write_keras2 = write_keras2


def _read_keras3(f, model, label, skip_mismatch=False):
    """Check, read and assign the Keras 3 layout of an open file (``.keras`` archives)."""
    _assign(_collect_keras3(f, model, os.fspath(label), skip_mismatch))


def _read_keras2(f, model, label, skip_mismatch=False, by_name=False):
    """Check, read and assign the Keras 2 layout of an open group (full-model ``.h5`` files)."""
    _assign(_collect_keras2(f, model, os.fspath(label), skip_mismatch, by_name))
