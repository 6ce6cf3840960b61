"""MNIST handwritten digits (LeCun, Cortes & Burges): grayscale 28x28 images of the digits 0-9.

``load_data`` returns the official 60,000 / 10,000 split when the four official IDX files are
cached or can be downloaded. Otherwise it falls back, with a printed notice, to a real
5,000-image sample (500 per digit): first the copy in the cache directory
(``train-images-5k-idx3-ubyte.gz``, ``train-labels-5k-idx1-ubyte.gz``), then the one bundled
with minidl, split 80 / 20 (4,000 / 1,000, stratified, fixed seed). So the examples run on an offline
machine. License: CC BY-SA 3.0.
"""
import os
import sys

from ..utils.kfold import train_test_split
from ._files import DatasetNotFoundError, find_file, search_dirs
from ._idx_dataset import fetch_idx_files, read_image_label_pair

DATASET = 'mnist'
BASE_URL = 'https://storage.googleapis.com/cvdf-datasets/mnist/'
SHA256 = {
    'train-images-idx3-ubyte.gz': '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
    'train-labels-idx1-ubyte.gz': '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
    't10k-images-idx3-ubyte.gz': '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
    't10k-labels-idx1-ubyte.gz': 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
}
SAMPLE_FILES = ('train-images-5k-idx3-ubyte.gz', 'train-labels-5k-idx1-ubyte.gz')
SAMPLE_TEST_FRACTION = 0.2
SAMPLE_SEED = 0
BUNDLED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data')


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (n, 28, 28) and uint8 labels (n,).

    Full MNIST: 60,000 training and 10,000 test images. The official files are looked for in
    ``path`` (a directory), ``$MINIDL_DATA/mnist/`` and ``~/.minidl/datasets/mnist/``, and
    downloaded otherwise. If that fails, the 5,000-image sample is used (see the module
    docstring): 4,000 training and 1,000 test images, 400 / 100 per digit.
    """
    try:
        paths = fetch_idx_files(DATASET, BASE_URL, SHA256, path)
    except DatasetNotFoundError as missing:
        return _load_sample(search_dirs(DATASET, path), missing)
    return read_image_label_pair(paths[0], paths[1]), read_image_label_pair(paths[2], paths[3])


def _load_sample(dirs, missing):
    """The 5,000-image sample from the cache (or the package), split stratified 4,000 / 1,000."""
    images = find_file(SAMPLE_FILES[0], dirs)
    labels = find_file(SAMPLE_FILES[1], dirs)
    if not (images and labels):
        images, labels = (os.path.join(BUNDLED_DIR, name) for name in SAMPLE_FILES)
        source = 'bundled with minidl'
    else:
        source = f'from {os.path.dirname(images)}'
    x, y = read_image_label_pair(images, labels)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=SAMPLE_TEST_FRACTION, stratify=y,
                                                        random_state=SAMPLE_SEED)
    print(f'mnist: the full MNIST file {missing.fname} is not in {", ".join(missing.dirs)} and '
          f'{missing.reason}. Using the {len(x):,}-image MNIST sample {source} instead, split '
          f'{len(x_train):,} train / {len(x_test):,} test (stratified).', file=sys.stderr)
    return (x_train, y_train), (x_test, y_test)
