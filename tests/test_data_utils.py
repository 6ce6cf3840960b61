"""to_categorical, KFold / StratifiedKFold / train_test_split, and the plots."""
import numpy as np
import pytest

from minidl.utils import KFold, StratifiedKFold, image_grid, plot_history, to_categorical, train_test_split


def test_to_categorical():
    out = to_categorical([2, 0, 1])
    assert out.dtype == np.float32 and out.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    column = to_categorical(np.array([[3], [1]], dtype=np.uint8), num_classes=5)
    assert column.shape == (2, 5) and column.argmax(1).tolist() == [3, 1]
    assert to_categorical(np.zeros((2, 3), int), 2).shape == (2, 3, 2)
    with pytest.raises(ValueError, match='num_classes=3'):
        to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match='negative'):
        to_categorical([-1, 0])
    with pytest.raises(ValueError, match='integer'):
        to_categorical([0.5])


def check_partition(splits, n):
    tests = [test for _, test in splits]
    assert sorted(np.concatenate(tests).tolist()) == list(range(n))
    for train, test in splits:
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(n))
        assert np.intersect1d(train, test).size == 0


@pytest.mark.parametrize('n, k', [(10, 5), (11, 3), (7, 7)])
def test_kfold_partitions(n, k):
    plain = list(KFold(k).split(np.zeros((n, 2))))
    check_partition(plain, n)
    sizes = [len(test) for _, test in plain]
    assert sizes == sorted(sizes, reverse=True) and max(sizes) - min(sizes) <= 1
    assert np.concatenate([test for _, test in plain]).tolist() == list(range(n))  # consecutive folds
    shuffled = list(KFold(k, shuffle=True, random_state=4).split(range(n)))
    check_partition(shuffled, n)
    again = list(KFold(k, shuffle=True, random_state=4).split(range(n)))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(shuffled, again))


def test_kfold_matches_scikit_learn():
    sklearn = pytest.importorskip('sklearn.model_selection')
    for ours, theirs in zip(KFold(4, shuffle=True, random_state=0).split(range(18)),
                            sklearn.KFold(4, shuffle=True, random_state=0).split(np.zeros(18))):
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1], theirs[1])


def test_kfold_errors():
    with pytest.raises(ValueError, match='n_splits'):
        KFold(1)
    with pytest.raises(ValueError, match='greater than the number of samples'):
        list(KFold(5).split(range(3)))
    with pytest.raises(ValueError, match='shuffle'):
        KFold(3, random_state=1)


@pytest.mark.parametrize('shuffle', [False, True])
def test_stratified_kfold_keeps_class_proportions(shuffle):
    y = np.repeat([0, 1, 2], [10, 7, 5])
    folds = list(StratifiedKFold(5, shuffle=shuffle, random_state=0 if shuffle else None).split(np.zeros(22), y))
    check_partition(folds, 22)
    per_class = np.array([np.bincount(y[test], minlength=3) for _, test in folds])
    assert (per_class.max(0) - per_class.min(0) <= 1).all()
    assert per_class.sum(0).tolist() == [10, 7, 5]
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 1
    one_hot = np.eye(3)[y]
    same = list(StratifiedKFold(5, shuffle=shuffle, random_state=0 if shuffle else None).split(np.zeros(22), one_hot))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, same))


def test_stratified_kfold_warns_about_small_classes():
    with pytest.warns(UserWarning, match='least populated class'):
        list(StratifiedKFold(3).split(np.zeros(7), [0, 0, 0, 0, 0, 1, 1]))


def test_train_test_split_follows_scikit_learns_permutation():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=3)
    permutation = np.random.RandomState(3).permutation(10)
    assert y_test.tolist() == permutation[:3].tolist()  # ceil(0.25 * 10) = 3
    assert y_train.tolist() == permutation[3:].tolist()
    np.testing.assert_array_equal(x_train[:, 0] // 2, y_train)
    a, b = train_test_split(list('abcdefgh'), test_size=2, shuffle=False)
    assert a == list('abcdef') and b == ['g', 'h']
    train, test = train_test_split(np.arange(10), train_size=0.5, random_state=0)
    assert len(train) == 5 and len(test) == 5


def test_train_test_split_stratified():
    y = np.repeat([0, 1], [80, 20])
    _, _, y_train, y_test = train_test_split(np.zeros(100), y, test_size=0.25, stratify=y, random_state=0)
    assert np.bincount(y_test).tolist() == [20, 5] and np.bincount(y_train).tolist() == [60, 15]
    assert not np.all(np.diff(y_test) >= 0)  # the parts are shuffled, not grouped by class


def test_train_test_split_errors():
    with pytest.raises(ValueError, match='different lengths'):
        train_test_split(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match='test_size=1.5'):
        train_test_split(np.zeros(4), test_size=1.5)
    with pytest.raises(ValueError, match='stratify'):
        train_test_split(np.zeros(4), stratify=[0, 1])


class FakeHistory:
    history = {'loss': [1.0, 0.5, 0.25], 'val_loss': [1.2, 0.7, 0.6], 'accuracy': [0.5, 0.7, 0.9],
               'val_accuracy': [0.4, 0.6, 0.7]}


def test_plot_history_writes_an_image(tmp_path):
    pytest.importorskip('matplotlib')
    figure = plot_history(FakeHistory(), tmp_path / 'plots' / 'history.png')
    assert (tmp_path / 'plots' / 'history.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert [ax.get_title() for ax in figure.axes] == ['loss', 'accuracy']
    assert [len(ax.lines) for ax in figure.axes] == [2, 2]
    plot_history({'loss': [3, 2]}, tmp_path / 'plain.pdf')
    assert (tmp_path / 'plain.pdf').read_bytes()[:4] == b'%PDF'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['plain.pdf', 'plots']  # no temporary files
    with pytest.raises(ValueError, match='non-empty'):
        plot_history({}, tmp_path / 'empty.png')


def test_image_grid(tmp_path, rng):
    pytest.importorskip('matplotlib')
    figure = image_grid(rng.uniform(-1, 1, (12, 784)), tmp_path / 'grid.png', titles=[str(i) for i in range(12)])
    assert len(figure.axes) == 12 and figure.axes[3].get_title() == '3'
    rows = [rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8), rng.uniform(0, 1, (4, 8, 8, 1))]
    figure = image_grid(rows, tmp_path / 'rows.png', titles=['original', 'decoded'])
    assert len(figure.axes) == 8 and figure.axes[4].get_ylabel() == 'decoded'
    assert (tmp_path / 'rows.png').exists()
    with pytest.raises(ValueError, match='not square'):
        image_grid(np.zeros((2, 10)))
