"""Custom objects: the names under which user classes and functions are saved and found again.

``@register_keras_serializable(package='MyPackage')`` records a class or function under
``'MyPackage>ClassName'`` (Keras 3's registered name), so that a saved model that uses it can be
rebuilt by ``load_model`` without ``custom_objects=``. ``custom_object_scope({...})`` (or the
``custom_objects=`` argument of the loaders) makes names known for one block.

This module imports nothing from minidl: every floor may use it.
"""
import contextlib
import inspect

GLOBAL_CUSTOM_OBJECTS = {}   # registered name -> class or function
GLOBAL_CUSTOM_NAMES = {}     # class or function -> registered name
_scopes = []                 # stack of dicts from custom_object_scope


def register_keras_serializable(package='Custom', name=None):
    """Decorator: save the class or function as ``'package>name'`` (name defaults to its own)."""
    def decorator(obj):
        registered = f'{package}>{name or obj.__name__}'
        if inspect.isclass(obj) and not hasattr(obj, 'get_config'):
            raise ValueError(f'Cannot register {obj.__name__}: a serializable class needs a get_config() method.')
        GLOBAL_CUSTOM_OBJECTS[registered] = obj
        GLOBAL_CUSTOM_NAMES[obj] = registered
        return obj
    return decorator


def get_registered_name(obj):
    """The name ``obj`` was registered under, else its ``__name__``."""
    return GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, '__name__', None))


def get_custom_objects():
    """The global registry (a dict you may add to, as in Keras)."""
    return GLOBAL_CUSTOM_OBJECTS


def custom_objects_in_scope(extra=None):
    """Every name known now: ``extra``, then the open scopes (innermost first), then the registry."""
    merged = dict(GLOBAL_CUSTOM_OBJECTS)
    for scope in _scopes:
        merged.update(scope)
    merged.update(extra or {})
    return merged


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function saved as ``name``: from ``custom_objects``, an open scope, the
    registry or ``module_objects``, in that order; None when unknown."""
    if name is None:
        return None
    for table in (custom_objects or {}, *reversed(_scopes), GLOBAL_CUSTOM_OBJECTS, module_objects or {}):
        if name in table:
            return table[name]
    return None


@contextlib.contextmanager
def custom_object_scope(*scopes):
    """``with custom_object_scope({'MyLayer': MyLayer}): load_model(...)``."""
    merged = {}
    for scope in scopes:
        merged.update(scope or {})
    _scopes.append(merged)
    try:
        yield merged
    finally:
        _scopes.pop()


CustomObjectScope = custom_object_scope
