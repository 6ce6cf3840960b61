"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 70,000 grayscale 28x28 images of 10 clothing classes.

Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot. License: MIT, (c) 2017 Zalando SE.
"""
from ._idx_dataset import load_idx_dataset

DATASET = 'fashion-mnist'
BASE_URL = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'
SHA256 = {
    'train-images-idx3-ubyte.gz': '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
    'train-labels-idx1-ubyte.gz': 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
    't10k-images-idx3-ubyte.gz': '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
    't10k-labels-idx1-ubyte.gz': '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
}


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (60000, 28, 28) and (10000, 28, 28),
    uint8 labels (60000,) and (10000,).

    The four official IDX files are looked for in ``path`` (a directory), then in
    ``$MINIDL_DATA/fashion-mnist/`` and ``~/.minidl/datasets/fashion-mnist/``, and downloaded
    there otherwise.
    """
    return load_idx_dataset(DATASET, BASE_URL, SHA256, path)
