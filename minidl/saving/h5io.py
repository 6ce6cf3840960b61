"""Every HDF5 file minidl reads or writes goes through this module, so its safety rules hold
everywhere (weights files, the ``model.weights.h5`` inside a ``.keras`` archive, the
applications' downloaded weights).

Reading (``open_file``, ``group``, ``dataset``, ``read``, ``string_list``):

* A missing, truncated, corrupt or non-HDF5 file raises an error that names the user's path
  (``FileNotFoundError``, ``H5FileError``), never a bare h5py message about a temporary name.
* Nothing in the file may point outside it: soft links, external links, datasets with external
  raw storage, virtual datasets and unknown filters (which would load a plugin library) are
  refused with ``UnsafeH5Error`` naming the file and the object. Links are inspected without
  being followed, one path component at a time.
* Nothing is read before its size is known to be right: callers compare ``dataset.shape`` and
  ``dataset.dtype`` (``check_shape``) with what they expect first, so a 13 KB file declaring a
  (16384, 16384) dataset is refused without allocating it. Attributes (``layer_names``,
  ``weight_names``) are size-checked the same way.

Writing (``build_image``, ``save``): the file is built in memory (``h5py.File(io.BytesIO())``)
and the finished bytes go through ``minidl.atomic.write_bytes``: a full disk is a clean
``OSError`` naming the user's path, the previous file survives, the mode of the file it
replaces is kept, symlinks are written through and no temporary file is left.
"""
import contextlib
import io
import math
import os

import numpy as np

from .. import atomic

HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'
HDF5_OBJECT_HEADER_LIMIT = 64512   # bytes one attribute may hold (Keras splits longer name lists)
MAX_ATTRIBUTE_BYTES = 64 << 20      # a list of layer or weight names is far smaller than these
MAX_ATTRIBUTE_VALUES = 1 << 20
BOMB_FLOOR_BYTES = 256 << 20        # datasets read without an expected shape: larger ones must be stored,
MAX_EXPANSION = 1000                # not declared (at most this many times their bytes on disk)
# Filters HDF5 and h5py implement themselves; any other needs a plugin library loaded at read time.
SAFE_FILTERS = {1: 'deflate (gzip)', 2: 'shuffle', 3: 'fletcher32', 4: 'szip', 5: 'nbit', 6: 'scaleoffset',
                32000: 'lzf'}


class H5FileError(OSError):
    """An HDF5 file that cannot be read: not HDF5, truncated or corrupt. Names the file."""


class UnsafeH5Error(ValueError):
    """An HDF5 file with a construct minidl refuses to follow (links, external or virtual
    storage, plugin filters) or one that declares far more data than it can hold."""


def h5py_module():
    try:
        import h5py
    except ImportError:
        raise ImportError('Reading and writing HDF5 files (weights, .keras archives) needs h5py: '
                          'pip install h5py') from None
    return h5py


# ------------------------------------------------------------------------------------- reading

def _label(source, label):
    if label is not None:
        return str(label)
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return '<in-memory HDF5 file>'


def _find_signature(head):
    """Whether the HDF5 superblock signature sits at offset 0, 512, 1024, 2048, ... of ``head``."""
    offset = 0
    while offset + len(HDF5_SIGNATURE) <= len(head):
        if head[offset:offset + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


def _sniff(head, label):
    if not head:
        raise H5FileError(f'{label} is empty (0 bytes), not an HDF5 file: it was probably cut short while being '
                          'written or downloaded. Save or download it again.')
    if not _find_signature(head):
        raise H5FileError(f'{label} is not an HDF5 file (it starts with {bytes(head[:16])!r}, not the HDF5 '
                          'signature). Give the path of a weights file written by save_weights or by Keras '
                          "('.weights.h5' or '.h5').")


@contextlib.contextmanager
def open_file(source, label=None):
    """Open an HDF5 file for reading: ``source`` is a path, the file's bytes, or a binary
    file object (e.g. a member of a zip archive). ``label`` names it in every error (by default
    the path). Any h5py failure while the file is read, in the block too, becomes an
    ``H5FileError`` that names it."""
    h5py = h5py_module()
    label = _label(source, label)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(2, f'No HDF5 file at {path}', path)
        if os.path.isdir(path):
            raise IsADirectoryError(21, f'{path} is a folder, not an HDF5 file', path)
        with open(path, 'rb') as f:
            _sniff(f.read(1 << 16), label)
        target = path
    elif isinstance(source, (bytes, bytearray, memoryview)):
        _sniff(bytes(source[:1 << 16]), label)
        target = io.BytesIO(source)
    else:
        position = source.tell()
        _sniff(source.read(1 << 16), label)
        source.seek(position)
        target = source
    try:
        f = h5py.File(target, 'r')
    except (OSError, ValueError) as exc:
        raise H5FileError(f'{label} could not be opened as an HDF5 file ({_reason(exc)}): it is probably '
                          'truncated or corrupt. Save or download it again.') from exc
    try:
        with f:
            yield f
    except (H5FileError, UnsafeH5Error, FileNotFoundError):
        raise
    except OSError as exc:  # h5py's read errors (a damaged chunk, a cut-off file) are OSErrors
        raise H5FileError(f'{label} could not be read ({_reason(exc)}): it is probably truncated or corrupt. '
                          'Save or download it again.') from exc


def _reason(exc):
    text = str(exc)
    return text if len(text) < 300 else text[:300] + '...'


def _link_kind(parent, name, label, where):
    """'hard', or None when ``name`` is not in ``parent``; refuses every other link kind."""
    h5py = h5py_module()
    try:
        link = parent.get(name, getlink=True)
    except (TypeError, KeyError, ValueError) as exc:  # h5py raises TypeError for user-defined link types
        raise UnsafeH5Error(f"{label}: '{where}' is a link of a kind minidl does not follow ({exc}); refusing "
                            'to read this file.') from None
    if link is None:
        return None
    if isinstance(link, h5py.HardLink):
        return 'hard'
    kind = type(link).__name__
    detail = f' to {link.filename}:{link.path}' if isinstance(link, h5py.ExternalLink) else \
        f' to {link.path}' if isinstance(link, h5py.SoftLink) else ''
    raise UnsafeH5Error(f"{label}: '{where}' is an HDF5 {kind}{detail}. Weights files must hold their data "
                        'themselves; refusing to follow links (they can read other files on this machine).')


def _walk(root, path, label):
    """The object at ``path`` (relative, '/'-separated) under ``root``, or None if absent;
    every component is checked to be a hard link before it is entered."""
    node, done = root, []
    for part in [p for p in str(path).split('/') if p]:
        done.append(part)
        if not hasattr(node, 'get') or not hasattr(node, 'keys'):
            return None
        if _link_kind(node, part, label, _join(root, done)) is None:
            return None
        node = node[part]
    return node


def _join(root, parts):
    base = root.name.rstrip('/')
    return f"{base}/{'/'.join(parts)}" if base else '/'.join(parts)


def has(parent, path, label):
    """Whether ``path`` exists under ``parent`` (links refused, never followed)."""
    return _walk(parent, path, label) is not None


def group(parent, path, label, required=True):
    """The group at ``path`` under ``parent``; None (or KeyError when ``required``) if absent."""
    h5py = h5py_module()
    node = _walk(parent, path, label)
    if node is None:
        if required:
            raise KeyError(f"{label} has no group '{_join(parent, [path])}'")
        return None
    if not isinstance(node, h5py.Group):
        raise H5FileError(f"{label}: '{node.name}' is a {type(node).__name__}, expected a group: this is not "
                          'the expected layout.')
    return node


def dataset(parent, path, label, required=True):
    """The dataset at ``path`` under ``parent``, checked but not read: no external raw storage,
    not virtual, numeric, only built-in filters. Compare its ``shape``/``dtype`` with what you
    expect (``check_shape``) before ``read``."""
    h5py = h5py_module()
    node = _walk(parent, path, label)
    if node is None:
        if required:
            raise KeyError(f"{label} has no dataset '{_join(parent, [path])}'")
        return None
    if not isinstance(node, h5py.Dataset):
        raise H5FileError(f"{label}: '{node.name}' is a {type(node).__name__}, expected a dataset: this is not "
                          'the expected layout.')
    if node.external:
        files = ', '.join(str(entry[0]) for entry in node.external)
        raise UnsafeH5Error(f"{label}: dataset '{node.name}' keeps its data in external file(s) {files}; "
                            'refusing to read it (it would load the bytes of another file on this machine).')
    if node.is_virtual:
        raise UnsafeH5Error(f"{label}: dataset '{node.name}' is a virtual dataset (its data lives in other "
                            'files); refusing to read it.')
    kind = node.dtype.kind
    if kind not in 'fiub' or node.dtype.fields is not None or node.dtype.subdtype is not None:
        raise UnsafeH5Error(f"{label}: dataset '{node.name}' has dtype {node.dtype}, not a plain number type; "
                            'weights are floats or integers.')
    plist = node.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code, _flags, _values, name = plist.get_filter(i)
        if code not in SAFE_FILTERS:
            raise UnsafeH5Error(f"{label}: dataset '{node.name}' is stored with the filter {code} "
                                f"({name.decode(errors='replace')}), which would load a plugin library; only "
                                f'{", ".join(sorted(SAFE_FILTERS.values()))} are accepted.')
    return node


def check_shape(ds, expected_shape, label, owner):
    """Raise ``ValueError`` when the dataset's declared shape differs from ``expected_shape``
    (nothing has been read yet). ``owner`` describes the weight, e.g. "weight 'dense/kernel'"."""
    if tuple(ds.shape) != tuple(expected_shape):
        raise ValueError(f"{owner} has shape {tuple(expected_shape)}, but dataset '{ds.name}' of {label} holds "
                         f'shape {tuple(ds.shape)}.')


def declared_bytes(ds):
    return math.prod(ds.shape) * ds.dtype.itemsize


def read(ds, label):
    """The dataset's values as a NumPy array (call after checking its shape)."""
    try:
        return ds[()] if ds.shape == () else ds[...]
    except OSError as exc:
        raise H5FileError(f"{label}: dataset '{ds.name}' could not be read ({_reason(exc)}); the file is "
                          'probably truncated or corrupt. Save or download it again.') from exc


def read_unknown_shape(ds, label):
    """Read a dataset whose shape the caller cannot know in advance (an optimizer's state
    before it is built): refused when it declares more than ``BOMB_FLOOR_BYTES`` and over
    ``MAX_EXPANSION`` times what it stores (a chunked dataset of fill values, or a compression
    bomb), as Keras 3's ``safe_get_h5_dataset`` does."""
    declared = declared_bytes(ds)
    stored = ds.id.get_storage_size()
    if declared > BOMB_FLOOR_BYTES and declared > MAX_EXPANSION * stored:
        raise UnsafeH5Error(f"{label}: dataset '{ds.name}' declares {declared:,} bytes but stores {stored:,}; "
                            'refusing to read a probable decompression or shape bomb.')
    return read(ds, label)


def arrays(node, label):
    """``{name: array}`` of the datasets directly under ``node`` (each checked as ``dataset``
    and ``read_unknown_shape`` do): for groups of values whose shapes are not known in advance."""
    return {name: read_unknown_shape(dataset(node, name, label), label) for name in node.keys()}


def _attribute(node, name, label):
    """An attribute's value, after checking its declared size. (Variable-length strings live in
    the file's heap, so they cannot expand beyond the file; fixed-size values can be declared
    with any count, hence the limit.)"""
    attr = node.attrs.get_id(name)
    count = math.prod(attr.shape) if attr.shape else 1
    if count > MAX_ATTRIBUTE_VALUES or count * attr.dtype.itemsize > MAX_ATTRIBUTE_BYTES:
        raise UnsafeH5Error(f"{label}: attribute '{name}' of '{node.name}' declares {count} values of "
                            f'{attr.dtype}; refusing to read that much.')
    try:
        return node.attrs[name]
    except OSError as exc:
        raise H5FileError(f"{label}: attribute '{name}' of '{node.name}' could not be read ({_reason(exc)}).") \
            from exc


def _decode(value):
    if isinstance(value, bytes):
        return value.decode('utf8')
    if isinstance(value, np.bytes_):
        return bytes(value).decode('utf8')
    return str(value)


def string_list(node, name, label):
    """A list-of-strings attribute (``layer_names``, ``weight_names``), also when Keras split it
    into chunks ``<name>0``, ``<name>1``, ... because it exceeded the HDF5 header limit.
    ``None`` when the attribute is absent."""
    if name in node.attrs:
        chunks = [_attribute(node, name, label)]
    elif f'{name}0' in node.attrs:
        chunks, i = [], 0
        while f'{name}{i}' in node.attrs:
            chunks.append(_attribute(node, f'{name}{i}', label))
            i += 1
    else:
        return None
    values = []
    for chunk in chunks:
        array = np.asarray(chunk)
        if array.size and array.dtype.kind not in 'SUO':
            raise H5FileError(f"{label}: attribute '{name}' of '{node.name}' holds {array.dtype} values, expected "
                              'strings.')
        values.extend(_decode(v) for v in array.reshape(-1))
    return values


def attribute_text(node, name, label, default=None):
    """A scalar string attribute (``keras_version``, ``backend``, ``model_config``) or ``default``."""
    if name not in node.attrs:
        return default
    value = _attribute(node, name, label)
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else default
    return default if value is None else _decode(value)


# ------------------------------------------------------------------------------------- writing

def build_image(fill):
    """The bytes of an HDF5 file built in memory: ``fill(h5py_file)`` writes its content."""
    h5py = h5py_module()
    buffer = io.BytesIO()
    with h5py.File(buffer, 'w') as f:
        fill(f)
    return buffer.getbuffer()


def save(path, fill, what='Saving'):
    """Build the file in memory with ``fill`` and write it to ``path`` atomically (see the
    module docstring). Returns ``path``."""
    image = build_image(fill)
    try:
        return atomic.write_bytes(path, image, what=what)
    finally:
        image.release()


def write_string_list(node, name, values):
    """A list-of-strings attribute as Keras writes it: UTF-8 bytes, split into chunks
    ``<name>0``, ``<name>1``, ... when one attribute would exceed the HDF5 header limit."""
    data = np.array([v.encode('utf8') for v in values]) if values else np.array([], dtype='S1')
    chunks = 1
    while any(part.nbytes > HDF5_OBJECT_HEADER_LIMIT for part in np.array_split(data, chunks)) \
            and chunks < len(data):
        chunks += 1
    if chunks == 1:
        node.attrs[name] = data
    else:
        for i, part in enumerate(np.array_split(data, chunks)):
            node.attrs[f'{name}{i}'] = part
