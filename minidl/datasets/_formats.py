"""Readers for the official file formats: IDX (MNIST), Python pickles (CIFAR), CSV, tar members.

Every reader turns a damaged file into a ``DatasetError`` that names the file and says what to
do, instead of a bare ``EOFError`` or ``zlib.error`` from deep inside the standard library.
"""
import contextlib
import gzip
import io
import math
import os
import pickle
import struct
import tarfile
import zlib

import numpy as np

from ._files import DatasetError, DatasetNotFoundError

_DAMAGE = (OSError, EOFError, tarfile.TarError, zlib.error, pickle.UnpicklingError, ValueError,
           KeyError, IndexError, TypeError, struct.error, UnicodeDecodeError)


@contextlib.contextmanager
def reading(path):
    """Re-raise any parsing failure inside the block as a ``DatasetError`` about ``path``."""
    try:
        yield
    except (DatasetError, DatasetNotFoundError):
        raise
    except _DAMAGE as exc:
        raise DatasetError(f'{path} is truncated or corrupt ({type(exc).__name__}: {exc}). '
                           'Delete it and load again to download a fresh copy.') from exc


def _open_maybe_gzip(path):
    return gzip.open(path, 'rb') if str(path).endswith('.gz') else open(path, 'rb')


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype('>i2'), 0x0C: np.dtype('>i4'),
              0x0D: np.dtype('>f4'), 0x0E: np.dtype('>f8')}


# deflate cannot expand data more than about 1032 times: a gzip claiming more is not real data
MAX_GZIP_EXPANSION = 1100
_READ_CHUNK = 1 << 24


def read_idx(path, ndim, item_shape=None):
    """An IDX file (optionally gzipped) as an array with ``ndim`` dimensions.

    Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then each
    dimension as a big-endian uint32; the values follow in row-major order. The header is
    checked before anything is allocated: the bytes it announces must be what the file holds
    (a plain file) or could hold (a gzip expands at most ``MAX_GZIP_EXPANSION`` times), and
    ``item_shape`` (e.g. (28, 28)) must match the dimensions after the first. The values are
    then read straight into an array of exactly that size.
    """
    path = os.fspath(path)
    with reading(path):
        file_size = os.path.getsize(path)
        gzipped = path.endswith('.gz')
        with _open_maybe_gzip(path) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise DatasetError(f'{path} is not an IDX file (magic number {head.hex() or "missing"}).')
            if head[3] != ndim:
                raise DatasetError(f'{path} holds an IDX array of {head[3]} dimensions, expected {ndim} '
                                   f'(magic {int.from_bytes(head, "big")}, expected {0x800 + ndim} for uint8).')
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DatasetError(f'{path} is truncated: its header ends after {4 + len(dims)} bytes.')
            shape = struct.unpack(f'>{ndim}I', dims)
            dtype = np.dtype(_IDX_TYPES[head[2]])
            offset = 4 + 4 * ndim
            expected = math.prod(shape) * dtype.itemsize
            if item_shape is not None and tuple(shape[1:]) != tuple(item_shape):
                raise DatasetError(f'{path} holds items of shape {tuple(shape[1:])}, expected {tuple(item_shape)}: '
                                   'it is not a file of this data set.')
            if gzipped and expected > MAX_GZIP_EXPANSION * file_size:
                raise DatasetError(f'{path} is corrupt: its header announces shape {shape} ({expected:,} bytes), '
                                   f'more than a {file_size:,}-byte gzip file can hold. Delete it and load again '
                                   'to download a fresh copy.')
            if not gzipped and expected != file_size - offset:
                raise DatasetError(f'{path} is truncated or corrupt: its header announces shape {shape} '
                                   f'({expected} bytes) but it holds {file_size - offset} bytes of data.')
            values = np.empty(expected, np.uint8)
            view, filled = memoryview(values), 0
            while filled < expected:
                n = f.readinto(view[filled:filled + _READ_CHUNK])
                if not n:
                    break
                filled += n
            extra = len(f.read(1))
        if filled != expected or extra:
            held = f'{filled} bytes' if not extra else f'more than {expected} bytes'
            raise DatasetError(f'{path} is truncated or corrupt: its header announces shape {shape} '
                               f'({expected} bytes) but it holds {held} of data.')
        return values.view(dtype).reshape(shape).astype(dtype.newbyteorder('='), copy=False)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only: a dataset file cannot run code."""

    _ALLOWED = {('numpy', 'ndarray'), ('numpy', 'dtype'), ('numpy.core.multiarray', '_reconstruct'),
                ('numpy._core.multiarray', '_reconstruct'), ('numpy.core.multiarray', 'scalar'),
                ('numpy._core.multiarray', 'scalar'), ('builtins', 'bytearray'), ('__builtin__', 'bytearray'),
                ('_codecs', 'encode')}  # Python 3 writes bytes in protocol 2 as _codecs.encode(text, 'latin1')

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f'refusing to load {module}.{name}: a dataset pickle holds '
                                         'only lists, dicts and NumPy arrays')
        if module == '__builtin__':
            module = 'builtins'
        if module.startswith('numpy.') and hasattr(np, '_core'):
            module = 'numpy._core.multiarray'  # NumPy 2 moved numpy.core; avoid its deprecation shim
        return super().find_class(module, name)


def load_pickle(data):
    """A Python-2 style dataset pickle (bytes) as a dict with ``str`` keys."""
    obj = _ArrayUnpickler(io.BytesIO(data), encoding='bytes').load()
    if not isinstance(obj, dict):
        raise DatasetError(f'expected a dict in the pickle, found {type(obj).__name__}')
    return {k.decode('latin1') if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_members(archive_or_dir, names):
    """``{name: bytes}`` for the members ``names`` of a tar archive, or files of a folder.

    Raises ``DatasetError`` naming the missing members if some are not there.
    """
    found = {}
    with reading(archive_or_dir):
        if os.path.isdir(archive_or_dir):
            for name in names:
                candidate = os.path.join(archive_or_dir, name)
                if os.path.isfile(candidate):
                    with open(candidate, 'rb') as f:
                        found[name] = f.read()
        else:
            wanted = set(names)
            with tarfile.open(archive_or_dir, 'r:*') as tar:
                for member in tar:
                    if member.name in wanted and member.isfile():
                        found[member.name] = tar.extractfile(member).read()
    missing = [n for n in names if n not in found]
    if missing:
        raise DatasetError(f'{archive_or_dir} lacks {", ".join(missing)}: it is not the expected archive or '
                           'it is incomplete. Delete it and load again to download a fresh copy.')
    return found


def read_csv_matrix(path, columns):
    """A numeric CSV (an optional header line is skipped) as a float64 array with ``columns`` columns."""
    with reading(path):
        with open(path, 'r', encoding='utf-8') as f:
            first = f.readline()
        header = 1 if any(c.isalpha() for c in first.replace('e', '').replace('E', '')) else 0
        table = np.loadtxt(path, delimiter=',', skiprows=header, ndmin=2, dtype=np.float64)
    if table.shape[1] != columns:
        raise DatasetError(f'{path} has {table.shape[1]} columns, expected {columns}: it is not the expected file.')
    return table
