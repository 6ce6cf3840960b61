"""CIFAR-100 (Krizhevsky, 2009): 60,000 colour 32x32 images in 100 fine classes grouped in 20 coarse ones.

Read from the official python version, ``cifar-100-python.tar.gz`` (or its unpacked
``cifar-100-python/`` folder).
"""
from ._cifar import locate, read_batches

DATASET = 'cifar100'
ARCHIVE = 'cifar-100-python.tar.gz'
FOLDER = 'cifar-100-python'
ORIGIN = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'
SHA256 = '85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7'


def load_data(label_mode='fine', path=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (50000, 32, 32, 3) and
    (10000, 32, 32, 3) (NHWC), int64 labels (n, 1): 100 ``'fine'`` classes or 20 ``'coarse'`` ones.

    The archive is looked for in ``path`` (a directory), ``$MINIDL_DATA/cifar100/`` and
    ``~/.minidl/datasets/cifar100/``, and downloaded otherwise.
    """
    if label_mode not in ('fine', 'coarse'):
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}.")
    source = locate(DATASET, ARCHIVE, FOLDER, ORIGIN, SHA256, path)
    key = f'{label_mode}_labels'
    x_train, y_train = read_batches(source, FOLDER, ('train',), key)
    x_test, y_test = read_batches(source, FOLDER, ('test',), key)
    return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))
