"""Data sets in their official file formats, with Keras' ``load_data`` signatures and return values.

Files are looked for in the ``path`` given to ``load_data`` (a directory), then in
``$MINIDL_DATA/<dataset>/`` and ``~/.minidl/datasets/<dataset>/``, and downloaded from the
official URL (checked against its sha256) into the first cache directory otherwise;
``MINIDL_OFFLINE=1`` disables downloads. Dataset folder names: ``mnist``, ``fashion-mnist``,
``cifar10``, ``cifar100``, ``imdb``, ``boston_housing``, ``pima``.
"""
from . import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, pima_diabetes  # noqa: F401
from ._files import (ChecksumError, DatasetError, DatasetNotFoundError, cache_root, extract_archive,  # noqa: F401
                     get_file)

__all__ = ['mnist', 'fashion_mnist', 'cifar10', 'cifar100', 'imdb', 'boston_housing', 'pima_diabetes',
           'get_file', 'extract_archive', 'cache_root', 'DatasetError', 'DatasetNotFoundError', 'ChecksumError']
