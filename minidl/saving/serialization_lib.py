"""Objects to JSON-ready configs and back, in Keras 3's format.

Every configurable object (layer, initializer, regularizer, constraint, optimizer, schedule,
loss, metric, model) has ``get_config()`` (a dict of its constructor arguments) and a class
method ``from_config(config)``. ``serialize_keras_object`` wraps a config in Keras 3's envelope::

    {"module": "keras.layers", "class_name": "Dense", "config": {...}, "registered_name": null}

and ``deserialize_keras_object`` finds the class again and calls ``from_config``. minidl writes
the *Keras* module names (``keras.layers``, ``keras.initializers``, ...) for its own classes,
because its classes carry Keras' names and arguments: a config written by minidl reads in
Keras 3, and one written by Keras reads in minidl. Classes and functions of your own are found
through ``register_keras_serializable`` or ``custom_objects=``.

Special values follow Keras too: tuples become lists, NumPy arrays ``__numpy__``, symbolic
tensors ``__keras_tensor__``, and Python lambdas ``__lambda__`` (their bytecode: loading one
runs code from the file, so it needs ``safe_mode=False``).

This module imports minidl's namespaces only inside functions: every floor may use it.
"""
import base64
import importlib
import inspect
import marshal
import types

import numpy as np

from . import object_registration
from .object_registration import custom_objects_in_scope, get_registered_object

# Keras' public module for each minidl namespace, most specific first. A class is public when the
# minidl namespace exports it under its own name.
PUBLIC_NAMESPACES = (
    ('keras.optimizers.schedules', 'minidl.optimizers.schedules'),
    ('keras.layers', 'minidl.layers'),
    ('keras.initializers', 'minidl.initializers'),
    ('keras.regularizers', 'minidl.regularizers'),
    ('keras.constraints', 'minidl.constraints'),
    ('keras.optimizers', 'minidl.optimizers'),
    ('keras.losses', 'minidl.losses'),
    ('keras.metrics', 'minidl.metrics'),
    ('keras.activations', 'minidl.activations'),
    ('keras', 'minidl.models'),
)
# Keras' own spellings of model classes.
_MODEL_CLASSES = {('keras.src.models.functional', 'Functional'): 'Model',
                  ('keras.src.models.sequential', 'Sequential'): 'Sequential',
                  ('keras.src.models.model', 'Model'): 'Model',
                  ('keras.models', 'Sequential'): 'Sequential', ('keras.models', 'Model'): 'Model',
                  ('keras', 'Functional'): 'Model'}

_safe_mode = [None]   # None: no outer deserialization has set it


class Configurable:
    """The config protocol of Keras' small objects (initializers, regularizers, constraints):
    ``get_config()`` gives the constructor's arguments, ``from_config(config)`` calls the
    constructor with them, and the repr shows them."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in self.get_config().items())
        return f'{type(self).__name__}({args})'


def _namespace(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def public_name(cls):
    """(Keras module, class name) under which minidl's class ``cls`` is saved, or None when it is
    not one of minidl's public classes."""
    if getattr(cls, '_keras_module', None):
        return cls._keras_module, cls.__name__
    module = getattr(cls, '__module__', '') or ''
    if not module.startswith('minidl.'):
        return None
    for keras_module, minidl_module in PUBLIC_NAMESPACES:
        namespace = _namespace(minidl_module)
        if namespace is not None and getattr(namespace, cls.__name__, None) is cls:
            return keras_module, cls.__name__
    return None


def serialize_keras_object(obj):
    """A JSON-ready description of ``obj`` (see the module docstring)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, bytes):
        return {'class_name': '__bytes__', 'config': {'value': obj.decode('utf-8')}}
    if isinstance(obj, slice):
        return {'class_name': '__slice__', 'config': {'start': serialize_keras_object(obj.start),
                                                      'stop': serialize_keras_object(obj.stop),
                                                      'step': serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {'class_name': '__ellipsis__', 'config': {}}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.dtype):
        return obj.name
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            return obj.item()
        return {'class_name': '__numpy__', 'config': {'value': obj.tolist(), 'dtype': obj.dtype.name}}
    if type(obj).__name__ == 'KerasTensor':
        history = None
        if obj.node is not None:
            history = [obj.node.layer.name, obj.node.index, obj.index]
        return {'class_name': '__keras_tensor__',
                'config': {'shape': list(obj.shape), 'dtype': obj.dtype.name, 'keras_history': history}}
    if hasattr(obj, 'data') and hasattr(obj, 'requires_grad'):  # a minidl Tensor
        from .. import backend
        value = backend.to_numpy(obj.data)
        return {'class_name': '__tensor__', 'config': {'value': value.tolist(), 'dtype': value.dtype.name}}
    if isinstance(obj, types.FunctionType) and obj.__name__ == '<lambda>':
        return {'class_name': '__lambda__', 'config': {'value': _func_dump(obj)}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if inspect.isclass(obj):
        raise TypeError(f'Cannot serialize the class {obj.__name__} itself; serialize an instance of it.')
    if not hasattr(obj, 'get_config'):
        raise TypeError(f'Cannot serialize {obj!r} of type {type(obj).__name__}: to be saved, an object needs '
                        'a get_config() method.')
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f'{type(obj).__name__}.get_config() must return a dict, got {type(config).__name__}.')
    public = public_name(type(obj))
    registered = object_registration.GLOBAL_CUSTOM_NAMES.get(type(obj))
    out = {'module': public[0] if public and not registered else type(obj).__module__,
           'class_name': public[1] if public and not registered else type(obj).__name__,
           'config': serialize_keras_object(config),
           'registered_name': registered}
    envelope = getattr(obj, '_keras_envelope', None)
    if envelope is not None and envelope() is not None:
        out['module'], out['class_name'], out['registered_name'] = envelope()
    for hook, key in (('get_build_config', 'build_config'), ('get_compile_config', 'compile_config')):
        method = getattr(obj, hook, None)
        if method is not None:
            value = method()
            if value is not None:
                out[key] = serialize_keras_object(value)
    return out


def _serialize_function(fn):
    registered = object_registration.GLOBAL_CUSTOM_NAMES.get(fn)
    if registered:
        return {'module': fn.__module__, 'class_name': 'function', 'config': registered,
                'registered_name': registered}
    public = _public_function(fn)
    if public is not None:
        return {'module': public[0], 'class_name': 'function', 'config': public[1], 'registered_name': public[1]}
    return {'module': fn.__module__, 'class_name': 'function', 'config': fn.__name__, 'registered_name': None}


def _public_function(fn):
    for keras_module, minidl_module in PUBLIC_NAMESPACES:
        namespace = _namespace(minidl_module)
        if namespace is not None and getattr(namespace, fn.__name__, None) is fn:
            return keras_module, fn.__name__
    return None


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, module_objects=None,
                             printable_module_name='object'):
    """The object that ``config`` describes. ``module_objects`` maps bare names (Keras 2 configs
    without a module, or strings such as 'relu') to classes or functions."""
    custom_objects = custom_objects_in_scope(custom_objects)
    if _safe_mode[0] is not None:   # an outer call's safe_mode wins, as in Keras (nested configs, Lambda)
        safe_mode = _safe_mode[0]
    if config is None:
        return None
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects, module_objects)
        if found is not None:
            return found() if inspect.isclass(found) else found
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(c, custom_objects, safe_mode, module_objects) for c in config]
    if isinstance(config, (int, float, bool)):
        return config
    if not isinstance(config, dict):
        raise TypeError(f'Could not parse the {printable_module_name} config {config!r}.')
    if 'class_name' not in config or 'config' not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode) for k, v in config.items()}
    class_name, inner = config['class_name'], config['config']
    special = _deserialize_special(class_name, inner, custom_objects, safe_mode)
    if special is not _NOT_SPECIAL:
        return special
    found = retrieve_class_or_fn(config, custom_objects, module_objects, printable_module_name)
    if class_name == 'function' or isinstance(found, (types.FunctionType, types.BuiltinFunctionType)):
        return found
    if not hasattr(found, 'from_config'):
        raise TypeError(f"Cannot rebuild '{class_name}': the class has no from_config() method.")
    with object_registration.custom_object_scope(custom_objects):
        previous = _safe_mode[0]
        _safe_mode[0] = safe_mode
        try:
            obj = found.from_config(inner or {})
        finally:
            _safe_mode[0] = previous
    build_config = config.get('build_config')
    if build_config and hasattr(obj, 'build_from_config') and not getattr(obj, 'built', True):
        obj.build_from_config(build_config)
    compile_config = config.get('compile_config')
    if compile_config and hasattr(obj, 'compile_from_config'):
        obj.compile_from_config(compile_config)
    return obj


_NOT_SPECIAL = object()


def _deserialize_special(class_name, inner, custom_objects, safe_mode):
    if class_name == '__numpy__':
        return np.array(inner['value'], dtype=inner['dtype'])
    if class_name == '__tensor__':
        from ..autograd import Tensor
        return Tensor(np.array(inner['value'], dtype=inner['dtype']))
    if class_name == '__bytes__':
        return inner['value'].encode('utf-8')
    if class_name == '__ellipsis__':
        return Ellipsis
    if class_name == '__slice__':
        return slice(*(deserialize_keras_object(inner[k], custom_objects, safe_mode) for k in ('start', 'stop', 'step')))
    if class_name == '__keras_tensor__':
        return dict(inner, __keras_tensor__=True)  # resolved by the functional model that reads it
    if class_name == '__lambda__':
        if not safe_mode:
            return _func_load(inner['value'])
        raise ValueError('The file holds a Python lambda, and loading it would run code stored in the file. '
                         'Only if you trust the file, load it with safe_mode=False '
                         '(e.g. minidl.models.load_model(path, safe_mode=False)).')
    return _NOT_SPECIAL


def in_safe_mode():
    """The safe_mode of the deserialization under way (None outside one)."""
    return _safe_mode[0]


def retrieve_class_or_fn(config, custom_objects=None, module_objects=None, printable_module_name='object'):
    """The class (or function) a serialized config names: a registered or custom object first,
    then minidl's class for a Keras module and class name, then ``module_objects``."""
    class_name = config['class_name']
    module = config.get('module')
    registered = config.get('registered_name')
    wanted = config['config'] if class_name == 'function' else class_name
    for name in (registered, wanted):
        found = get_registered_object(name, custom_objects)
        if found is not None:
            return found
    if module and (module == 'keras' or module.startswith('keras.')):
        found = _keras_builtin(module, wanted)
        if found is not None:
            return found
    if module_objects and wanted in module_objects:
        return module_objects[wanted]
    if module == 'builtins' and class_name == 'function':
        for _, minidl_module in PUBLIC_NAMESPACES:
            namespace = _namespace(minidl_module)
            if namespace is not None and callable(getattr(namespace, wanted, None)):
                return getattr(namespace, wanted)
    if module and module.startswith('minidl'):
        namespace = _namespace(module)
        found = getattr(namespace, wanted, None) if namespace is not None else None
        if found is not None:
            return found
    hint = (f" Keras' {module}.{wanted} has no minidl counterpart yet." if module and module.startswith('keras')
            else f' If {wanted} is your own class or function, decorate it with '
                 f'@minidl.saving.register_keras_serializable() or pass custom_objects={{"{wanted}": {wanted}}}.')
    raise TypeError(f'Could not locate the {printable_module_name} {wanted!r} (module {module!r}).{hint}')


def _keras_builtin(module, name):
    if (module, name) in _MODEL_CLASSES:
        return getattr(_namespace('minidl.models'), _MODEL_CLASSES[(module, name)])
    keras_module = module
    if module.startswith('keras.src.'):
        # Internal spellings ('keras.src.layers.core.dense', 'keras.src.backend.torch.optimizers.torch_adam'):
        # match on the family named in the path.
        parts = module.split('.')
        families = [p for p in parts[2:] if f'keras.{p}' in {k for k, _ in PUBLIC_NAMESPACES}]
        keras_module = f'keras.{families[0]}' if families else module
    for public, minidl_module in PUBLIC_NAMESPACES:
        if public == keras_module:
            namespace = _namespace(minidl_module)
            found = getattr(namespace, name, None) if namespace is not None else None
            if found is not None:
                return found
    if keras_module == 'keras':
        for public, minidl_module in PUBLIC_NAMESPACES:
            namespace = _namespace(minidl_module)
            found = getattr(namespace, name, None) if namespace is not None else None
            if found is not None and inspect.isclass(found):
                return found
    return None


def _func_dump(fn):
    code = base64.b64encode(marshal.dumps(fn.__code__)).decode('ascii')
    closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
    return [code, fn.__defaults__, closure]


def _func_load(value, globs=None):
    code, defaults, closure = value if isinstance(value, (list, tuple)) else (value, None, None)
    code = marshal.loads(base64.b64decode(code.encode('ascii')))
    if closure is not None:
        closure = tuple(_cell(v) for v in closure)
    namespace = dict(globs or {})
    namespace.setdefault('__builtins__', __builtins__)
    return types.FunctionType(code, namespace, code.co_name, tuple(defaults) if defaults else None, closure)


def _cell(value):
    return (lambda: value).__closure__[0]
