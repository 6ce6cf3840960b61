"""Shared reader for the CIFAR python-pickle archives (``cifar-10-python.tar.gz``, ``cifar-100-python.tar.gz``)."""
import os

import numpy as np

from ._files import DatasetError, fetch, find_file, search_dirs
from ._formats import load_pickle, read_members, reading


def locate(subdir, archive, folder, origin, sha256, path=None):
    """The archive (or an already unpacked ``folder``) in the search directories; else download."""
    dirs = search_dirs(subdir, path)
    if find_file(archive, dirs) is None:
        for d in dirs:
            if os.path.isdir(os.path.join(d, folder)):
                return d
    return fetch(archive, origin, sha256, subdir, path)


def read_batches(source, folder, names, label_key):
    """Images (n, 32, 32, 3) uint8 and labels (n,) int64 of the pickles ``names`` under ``folder``,
    concatenated in order. ``source`` is the archive or the directory that holds ``folder``."""
    member_names = [f'{folder}/{name}' for name in names]
    members = read_members(source, member_names)
    images, labels = [], []
    for name in member_names:
        with reading(f'{source} ({name})'):
            batch = load_pickle(members[name])
            pixels = np.asarray(batch['data'], dtype=np.uint8)
            batch_labels = np.asarray(batch[label_key], dtype=np.int64)
        if pixels.ndim != 2 or pixels.shape[1] != 3072 or len(pixels) != len(batch_labels):
            raise DatasetError(f'{source} ({name}): expected data of shape (n, 3072) and n labels, got '
                               f'{pixels.shape} and {len(batch_labels)} labels.')
        # Each row holds the red, green and blue 32x32 planes, each row-major: NCHW -> NHWC.
        images.append(pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(batch_labels)
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)
