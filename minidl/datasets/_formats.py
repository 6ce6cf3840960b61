"""Readers for the official file formats: IDX (MNIST), Python pickles (CIFAR), CSV, tar members.

Every reader turns a damaged file into a ``DatasetError`` that names the file and says what to
do, instead of a bare ``EOFError`` or ``zlib.error`` from deep inside the standard library.
"""
import contextlib
import gzip
import io
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


def read_idx(path, ndim):
    """An IDX file (optionally gzipped) as an array with ``ndim`` dimensions.

    Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then each
    dimension as a big-endian uint32; the values follow in row-major order.
    """
    with reading(path):
        with _open_maybe_gzip(path) as f:
            data = f.read()
        if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
            raise DatasetError(f'{path} is not an IDX file (magic number {data[:4].hex() or "missing"}).')
        if data[3] != ndim:
            raise DatasetError(f'{path} holds an IDX array of {data[3]} dimensions, expected {ndim} '
                               f'(magic {int.from_bytes(data[:4], "big")}, expected {0x800 + ndim} for uint8).')
        shape = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
        dtype = np.dtype(_IDX_TYPES[data[2]])
        offset = 4 + 4 * ndim
        expected = int(np.prod(shape)) * dtype.itemsize
        if len(data) - offset != expected:
            raise DatasetError(f'{path} is truncated or corrupt: its header announces shape {shape} '
                               f'({expected} bytes) but it holds {len(data) - offset} bytes of data.')
        return np.frombuffer(data, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder('='))


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
