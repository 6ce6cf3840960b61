"""Whole models in files: Keras 3's ``.keras`` archive and Keras 2's full-model ``.h5``.

``.keras`` is a zip of three members, as Keras 3 writes it:

* ``metadata.json``: the format version and the date;
* ``config.json``: ``serialize_keras_object(model)`` (architecture, and the compile arguments);
* ``model.weights.h5``: the weights in Keras 3's layout (``layers/<key>/vars/<i>``, see
  ``h5_weights``) and the optimizer's state under ``optimizer/vars/<i>``.

A Keras 2 ``.h5`` file holds the config as the JSON attribute ``model_config``, the compile
arguments as ``training_config`` and the weights under ``model_weights`` in Keras 2's layout.
Both are written in memory and put in place atomically; a failed save leaves the old file.
"""
import datetime
import io
import json
import os
import posixpath
import tempfile
import zipfile

from ..atomic import write_bytes
from . import h5_weights, h5io
from .serialization_lib import serialize_keras_object

FORMAT_VERSION = '3.0.0'     # the .keras format minidl writes (Keras 3's)


def save_model(model, filepath, overwrite=True, **kwargs):
    filepath = os.fspath(filepath)
    kwargs.pop('zipped', None)
    kwargs.pop('include_optimizer', None)
    save_format = kwargs.pop('save_format', None)
    if kwargs:
        raise TypeError(f'save() got unexpected arguments {sorted(kwargs)}.')
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f'{filepath} exists and overwrite=False.')
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet, so it cannot be saved: call it on data or give its "
                         'first layer an input shape first.')
    if filepath.endswith(('.h5', '.hdf5')) or save_format == 'h5':
        data = _keras2_h5_bytes(model)
    elif filepath.endswith('.keras'):
        data = _keras_archive_bytes(model)
    else:
        raise ValueError(f"Invalid filepath extension for saving {filepath!r}: add '.keras' (Keras 3's format, "
                         "recommended) or '.h5' (Keras 2's). To save only the weights, use "
                         "model.save_weights('name.weights.h5').")
    write_bytes(filepath, data, what='Saving the model to')


def _config_json(model):
    return json.dumps(serialize_keras_object(model), default=_json_default)


def _json_default(value):
    import numpy as np
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f'Cannot write {type(value).__name__} to a model config.')


def _keras_archive_bytes(model):
    metadata = json.dumps({'keras_version': FORMAT_VERSION, 'saved_by': _minidl_version(),
                           'date_saved': datetime.datetime.now().strftime('%Y-%m-%d@%H:%M:%S')})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as zf:
        zf.writestr('metadata.json', metadata)
        zf.writestr('config.json', _config_json(model))
        zf.writestr('model.weights.h5', _weights_h5_bytes(model))
        _write_assets(zf, model)
    return buffer.getvalue()


# --- assets: files a layer writes itself (Keras 3's save_assets/load_assets) ----------------------------------
def _asset_layers(model):
    """(archive folder, layer) for every layer that has ``save_assets``/``load_assets``: the folder
    is ``assets/`` plus the layer's path in ``model.weights.h5``, as in Keras 3's archives."""
    for path, layer in h5_weights._walk_keras3(model, '', set()):
        yield posixpath.join('assets', path) if path else 'assets', layer


def _write_assets(zf, model):
    for folder, layer in _asset_layers(model):
        if not callable(getattr(layer, 'save_assets', None)):
            continue
        with tempfile.TemporaryDirectory(prefix='minidl-assets-') as tmp:
            layer.save_assets(tmp)
            for root, _, files in os.walk(tmp):
                for name in sorted(files):
                    full = os.path.join(root, name)
                    relative = os.path.relpath(full, tmp).replace(os.sep, '/')
                    zf.write(full, f'{folder}/{relative}')


def _load_assets(zf, model, filepath):
    names = [n for n in zf.namelist() if n.startswith('assets/') and not n.endswith('/')]
    for folder, layer in _asset_layers(model):
        if not callable(getattr(layer, 'load_assets', None)):
            continue
        prefix = folder + '/'
        with tempfile.TemporaryDirectory(prefix='minidl-assets-') as tmp:
            for name in (n for n in names if n.startswith(prefix)):
                relative = name[len(prefix):]
                parts = relative.split('/')
                if relative.startswith('/') or '..' in parts or '\\' in relative or ':' in parts[0]:
                    raise ValueError(f"{filepath}: the asset '{name}' would be written outside its folder; "
                                     'the archive is damaged or was crafted. Save the model again.')
                target = os.path.join(tmp, *parts)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with zf.open(name) as src, open(target, 'wb') as dst:
                    dst.write(src.read())
            layer.load_assets(tmp)


def _weights_h5_bytes(model):
    def fill(f):
        h5_weights.write_keras3(f, model)
        optimizer = getattr(model, 'optimizer', None)
        if optimizer is not None and hasattr(optimizer, 'save_own_variables') and _optimizer_built(optimizer):
            group = f.require_group('optimizer/vars')
            group.attrs['name'] = getattr(optimizer, 'name', 'optimizer')
            store = {}
            optimizer.save_own_variables(store)
            for key, value in store.items():
                group.create_dataset(key, data=_host(value))
    return bytes(h5io.build_image(fill))


def _optimizer_built(optimizer):
    return bool(getattr(optimizer, 'built', False) or getattr(optimizer, 'variables', None))


def _host(value):
    from .. import backend
    return backend.to_numpy(getattr(value, 'data', value))


def _minidl_version():
    from .. import __version__
    return f'minidl {__version__}'


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002  (Keras' name)
    """The model saved in ``filepath`` (a ``.keras`` archive, by minidl or Keras 3, or a Keras 2
    ``.h5`` full-model file), compiled again when the file holds compile arguments."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f'No model file at {filepath}.')
    if zipfile.is_zipfile(filepath):
        return _load_keras_archive(filepath, custom_objects, compile, safe_mode)
    if h5io.h5py_module().is_hdf5(filepath):
        return _load_keras2_h5(filepath, custom_objects, compile, safe_mode)
    raise ValueError(f'{filepath} is neither a .keras archive (zip) nor an HDF5 model file. If it holds only '
                     'weights, build the model and call model.load_weights() instead.')


def _load_keras_archive(filepath, custom_objects, compile, safe_mode):
    try:
        with zipfile.ZipFile(filepath) as zf:
            names = set(zf.namelist())
            if 'config.json' not in names:
                raise ValueError(f'{filepath} is a zip file but not a Keras model archive: it has no config.json.')
            config = json.loads(zf.read('config.json'))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f'{filepath} is not a readable .keras archive ({exc}). Save or download it again.') from None
    model = _model_from_config(config, custom_objects, compile, safe_mode, filepath)
    if h5_weights.KERAS_ARCHIVE_WEIGHTS in names:
        data, label = h5_weights._archive_weights(filepath)
        _load_weights_bytes(model, data, label, compile)
    with zipfile.ZipFile(filepath) as zf:
        _load_assets(zf, model, filepath)
    return model


def _model_from_config(config, custom_objects, compile, safe_mode, filepath):
    config = dict(config)
    compile_config = config.pop('compile_config', None)
    try:
        from ..layers import deserialize as deserialize_layer
        model = deserialize_layer(config, custom_objects=custom_objects, safe_mode=safe_mode)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f'Could not rebuild the model saved in {filepath}: {exc}') from exc
    if compile and compile_config:
        model.compile_from_config(compile_config)
    return model


def _load_weights_bytes(model, data, label, compile):
    """The model's weights (and, when compiled, the optimizer's state) from the archive's
    ``model.weights.h5``, every dataset checked by ``h5io`` before it is read."""
    with h5io.open_file(data, label) as f:
        h5_weights.load_weights_from_h5(f, model, label)
        optimizer = getattr(model, 'optimizer', None)
        state = h5io.group(f, 'optimizer/vars', label, required=False)
        if compile and optimizer is not None and state is not None and hasattr(optimizer, 'load_own_variables'):
            store = h5io.arrays(state, label)
            if hasattr(optimizer, 'build'):
                optimizer.build(model.trainable_weights)
            optimizer.load_own_variables(store)


# --- Keras 2 full-model .h5 --------------------------------------------------------------------------------
def _keras2_h5_bytes(model):
    def fill(f):
        f.attrs['keras_version'] = '2.x (minidl)'
        f.attrs['backend'] = 'minidl'
        f.attrs['model_config'] = _config_json(model)
        compile_config = model.get_compile_config() if hasattr(model, 'get_compile_config') else None
        if compile_config:
            f.attrs['training_config'] = json.dumps(compile_config, default=_json_default)
        h5_weights.write_keras2(f.create_group('model_weights'), model)
    return bytes(h5io.build_image(fill))


def _load_keras2_h5(filepath, custom_objects, compile, safe_mode):
    with h5io.open_file(filepath) as f:
        text = h5io.attribute_text(f, 'model_config', filepath)
        if text is None:
            raise ValueError(f'{filepath} holds no model config (it is a weights-only file): build the model and call '
                             'model.load_weights() instead.')
        model = _model_from_config(json.loads(text), custom_objects, False, safe_mode, filepath)
        h5_weights.load_weights_from_h5(f, model, filepath)
        training = h5io.attribute_text(f, 'training_config', filepath)
        if compile and training:
            model.compile_from_config(_keras2_training_config(json.loads(training)))
    return model


def _keras2_training_config(config):
    """Keras 2's training_config (optimizer_config with class_name/config) as compile arguments."""
    out = {k: config.get(k) for k in ('loss', 'metrics', 'weighted_metrics', 'loss_weights')}
    out['optimizer'] = config.get('optimizer_config', config.get('optimizer', 'rmsprop'))
    return out


# --- configs without weights ----------------------------------------------------------------------------
def model_from_json(json_string, custom_objects=None):
    """The (untrained) model that ``model.to_json()`` describes."""
    from ..layers import deserialize as deserialize_layer
    return deserialize_layer(json.loads(json_string), custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A new model with the same architecture and fresh weights (Keras' ``clone_model``);
    ``clone_function(layer)`` may return a replacement for each layer of a Sequential model."""
    from ..models import Sequential
    if isinstance(model, Sequential) and clone_function is not None:
        clone = Sequential(name=model.name)
        if model._input_batch_shape is not None:
            from ..layers import InputLayer
            clone.add(InputLayer(batch_shape=model._input_batch_shape))
        for layer in model.layers:
            clone.add(clone_function(layer))
        return clone
    if clone_function is not None or input_tensors is not None or call_function is not None:
        raise ValueError('clone_model: clone_function, input_tensors and call_function are supported for Sequential '
                         'models only (clone_function) in minidl.')
    from ..layers import deserialize as deserialize_layer
    config = serialize_keras_object(model)
    config.pop('compile_config', None)
    return deserialize_layer(config)
