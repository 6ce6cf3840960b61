"""CIFAR-10 (Krizhevsky, 2009): 60,000 colour 32x32 images in 10 classes.

Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.
Read from the official python version, ``cifar-10-python.tar.gz`` (or its unpacked
``cifar-10-batches-py/`` folder); a rebuilt tarball with the same layout is accepted with a
checksum warning.
"""
from ._cifar import locate, read_batches

DATASET = 'cifar10'
ARCHIVE = 'cifar-10-python.tar.gz'
FOLDER = 'cifar-10-batches-py'
ORIGIN = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
SHA256 = '6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce'
TRAIN_BATCHES = tuple(f'data_batch_{i}' for i in range(1, 6))


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (50000, 32, 32, 3) and
    (10000, 32, 32, 3) (NHWC), uint8 labels (50000, 1) and (10000, 1), as Keras.

    The archive is looked for in ``path`` (a directory), ``$MINIDL_DATA/cifar10/`` and
    ``~/.minidl/datasets/cifar10/``, and downloaded otherwise.
    """
    source = locate(DATASET, ARCHIVE, FOLDER, ORIGIN, SHA256, path)
    x_train, y_train = read_batches(source, FOLDER, TRAIN_BATCHES, 'labels')
    x_test, y_test = read_batches(source, FOLDER, ('test_batch',), 'labels')
    return (x_train, y_train.astype('uint8').reshape(-1, 1)), (x_test, y_test.astype('uint8').reshape(-1, 1))
