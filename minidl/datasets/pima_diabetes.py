"""Pima Indians Diabetes (NIDDK, via the UCI repository): 768 women, 8 clinical features, whether
diabetes was diagnosed within five years.

Columns: pregnancies, plasma glucose, diastolic blood pressure, triceps skin-fold thickness,
2-h serum insulin, BMI, diabetes pedigree function, age; then the outcome (0/1). Missing values
are coded as 0 (except for pregnancies, where 0 is a real count). The file is the widely
circulated headerless CSV, ``pima-indians-diabetes.csv``. No official checksum is published for
it; a download is checked against the sha256 of the widely used copy (``SHA256``) and by its
shape (768 x 9).
"""
import numpy as np

from ._files import DatasetError, fetch
from ._formats import read_csv_matrix
from ._split import shuffle_split

DATASET = 'pima'
CSV = 'pima-indians-diabetes.csv'
ORIGIN = 'https://raw.githubusercontent.com/jbrownlee/Datasets/master/pima-indians-diabetes.data.csv'
# sha256 of the file at ORIGIN (the copy in the project's offline data sets, checked against it).
SHA256 = '06f5b7c2cd7bca686fda4f92eab5f61e7ff6426a9acefa2e3dda04fc54293cf5'
ROWS = 768


def _read_table(path):
    table = read_csv_matrix(path, 9)
    if len(table) != ROWS or not np.isin(table[:, 8], (0, 1)).all():
        raise DatasetError(f'{path} has {len(table)} rows and outcome values {np.unique(table[:, 8])[:5]}; '
                           f'expected {ROWS} rows with a 0/1 outcome: it is not the Pima CSV.')
    return table


def load_data(path=None, test_split=0.0, seed=113):
    """``(x_train, y_train), (x_test, y_test)``: float64 features (n, 8) and int64 labels (n,).

    By default (``test_split=0``) all 768 rows are in the training part, in file order, and the
    test part is empty (shapes (0, 8) and (0,)): the course evaluates this set with K-fold
    cross-validation (``minidl.utils.StratifiedKFold``). With ``test_split > 0`` the rows are
    shuffled with ``RandomState(seed)`` and split as Keras' ``boston_housing`` does. The file is
    looked for in ``path`` (a directory), ``$MINIDL_DATA/pima/`` and ``~/.minidl/datasets/pima/``.
    """
    csv = fetch(CSV, ORIGIN, SHA256, DATASET, path, validate=_read_table)
    table = _read_table(csv)
    x, y = table[:, :8], table[:, 8].astype(np.int64)
    if test_split == 0:
        return (x, y), (x[:0], y[:0])
    return shuffle_split(x, y, test_split, seed)
