"""Boston housing (Harrison & Rubinfeld, 1978; StatLib): 506 suburbs, 13 features, median home
value in $1000s.

Read from a CSV of the 14 columns CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT,MEDV
(``housing.csv``, header optional) when one is cached, else from Keras' ``boston_housing.npz``
(arrays ``x`` (506, 13) and ``y`` (506,)), which is downloaded when missing. The ``B`` feature
encodes race and raises ethical concerns: use the set only as a small regression benchmark.
"""
import numpy as np

from ._files import DatasetError, fetch, find_file, search_dirs
from ._formats import read_csv_matrix, reading
from ._split import shuffle_split

DATASET = 'boston_housing'
CSV = 'housing.csv'
NPZ = 'boston_housing.npz'
ORIGIN = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz'
SHA256 = 'f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5'


def load_data(path=None, test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)``: float64 features (n, 13) and targets (n,).

    As Keras: the 506 rows are shuffled with ``RandomState(seed)`` and the first
    ``int(506 * (1 - test_split))`` are the training set (404 / 102 by default). Files are
    looked for in ``path`` (a directory), ``$MINIDL_DATA/boston_housing/`` and
    ``~/.minidl/datasets/boston_housing/``.
    """
    csv = find_file(CSV, search_dirs(DATASET, path))
    if csv:
        table = read_csv_matrix(csv, 14)
        x, y = table[:, :13], table[:, 13]
    else:
        npz = fetch(NPZ, ORIGIN, SHA256, DATASET, path)
        with reading(npz), np.load(npz, allow_pickle=False) as arrays:
            x, y = arrays['x'].astype(np.float64), arrays['y'].astype(np.float64)
        if x.ndim != 2 or x.shape[1] != 13 or y.shape != (len(x),):
            raise DatasetError(f'{npz} holds x {x.shape} and y {y.shape}; expected (n, 13) and (n,).')
    return shuffle_split(x, y, test_split, seed)
