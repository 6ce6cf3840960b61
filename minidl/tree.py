"""Nested structures of tensors (lists, tuples, dicts) flattened and rebuilt, as ``keras.tree``.

Layers and models take and return such structures: ``layer([a, b])``, ``model({'image': x,
'meta': m})``, a layer returning ``(output, state)``. Everything that is not a list, a tuple
or a dict is a leaf. Dicts are walked in key order as given (Keras sorts them; minidl keeps
insertion order, which is what users write). Floor 0: imports nothing from minidl.
"""


def is_nested(x):
    return isinstance(x, (list, tuple, dict))


def flatten(structure):
    """The leaves of ``structure``, depth first."""
    out = []
    _flatten_into(structure, out)
    return out


def _flatten_into(structure, out):
    if isinstance(structure, dict):
        for value in structure.values():
            _flatten_into(value, out)
    elif isinstance(structure, (list, tuple)):
        for value in structure:
            _flatten_into(value, out)
    else:
        out.append(structure)


def map_structure(fn, structure):
    """``structure`` with every leaf replaced by ``fn(leaf)``."""
    if isinstance(structure, dict):
        return type(structure)((k, map_structure(fn, v)) for k, v in structure.items())
    if isinstance(structure, tuple) and hasattr(structure, '_fields'):  # namedtuple
        return type(structure)(*(map_structure(fn, v) for v in structure))
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, v) for v in structure)
    return fn(structure)


def pack_sequence_as(structure, flat):
    """The leaves ``flat`` put back in the shape of ``structure``."""
    flat = iter(flat)
    packed = map_structure(lambda _: next(flat), structure)
    return packed


def any_leaf(predicate, *structures):
    """Whether ``predicate`` holds for some leaf of the structures."""
    return any(predicate(leaf) for s in structures for leaf in flatten(s))
