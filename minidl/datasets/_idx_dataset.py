"""Shared loader for the MNIST-style data sets: four gzipped IDX files."""
import numpy as np

from ._files import DatasetError, fetch
from ._formats import read_idx

IDX_FILES = ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
             't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')


def read_image_label_pair(images_path, labels_path):
    """uint8 images (n, rows, cols) and labels (n,) from two IDX files, checked to match."""
    images, labels = read_idx(images_path, 3, item_shape=(28, 28)), read_idx(labels_path, 1)
    if len(images) != len(labels):
        raise DatasetError(f'{images_path} holds {len(images)} images but {labels_path} holds '
                           f'{len(labels)} labels: the files do not belong together.')
    return images.astype(np.uint8, copy=False), labels.astype(np.uint8, copy=False)


def fetch_idx_files(subdir, base_url, sha256, path=None):
    """Paths of the four IDX files of ``subdir``: cached, or downloaded from ``base_url``."""
    return [fetch(name, base_url + name, sha256[name], subdir, path) for name in IDX_FILES]


def load_idx_dataset(subdir, base_url, sha256, path=None):
    """``(x_train, y_train), (x_test, y_test)`` from the four IDX files of ``subdir``."""
    paths = fetch_idx_files(subdir, base_url, sha256, path)
    return read_image_label_pair(paths[0], paths[1]), read_image_label_pair(paths[2], paths[3])
