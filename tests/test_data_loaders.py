"""Every dataset loader on tiny fixture files written here in the official formats (IDX, CIFAR
pickles in a tar.gz, an aclImdb tarball, CSV): shapes, dtypes, layout, Keras' conventions, and
clear errors for damaged files. Offline (MINIDL_OFFLINE=1); the real cache is never touched."""
import gzip
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from minidl.datasets import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, pima_diabetes
from minidl.datasets._files import DatasetError, DatasetNotFoundError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / 'cache'
    root.mkdir()
    monkeypatch.setenv('MINIDL_DATA', str(root))
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('MINIDL_OFFLINE', '1')
    return root


def put(cache, dataset, name, data):
    folder = cache / dataset
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def idx_bytes(array, magic_type=0x08):
    header = bytes([0, 0, magic_type, array.ndim]) + b''.join(int(d).to_bytes(4, 'big') for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def tar_gz(members):
    """A tar.gz (bytes) of ``{name: bytes}``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# ------------------------------------------------------------------------------ MNIST (IDX)

def write_idx_set(cache, dataset, rng, n_train=12, n_test=5):
    arrays = {'train-images-idx3-ubyte.gz': rng.integers(0, 256, (n_train, 28, 28)),
              'train-labels-idx1-ubyte.gz': rng.integers(0, 10, n_train),
              't10k-images-idx3-ubyte.gz': rng.integers(0, 256, (n_test, 28, 28)),
              't10k-labels-idx1-ubyte.gz': rng.integers(0, 10, n_test)}
    for name, array in arrays.items():
        put(cache, dataset, name, idx_bytes(array))
    return arrays


@pytest.mark.parametrize('module, dataset', [(mnist, 'mnist'), (fashion_mnist, 'fashion-mnist')])
def test_idx_loaders_read_the_official_format(cache, rng, module, dataset):
    arrays = write_idx_set(cache, dataset, rng)
    with pytest.warns(UserWarning, match='not the official file'):
        (x_train, y_train), (x_test, y_test) = module.load_data()
    assert x_train.shape == (12, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (12,) and y_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, arrays['train-images-idx3-ubyte.gz'])
    np.testing.assert_array_equal(y_train, arrays['train-labels-idx1-ubyte.gz'])
    np.testing.assert_array_equal(x_test, arrays['t10k-images-idx3-ubyte.gz'])
    np.testing.assert_array_equal(y_test, arrays['t10k-labels-idx1-ubyte.gz'])
    x_train[0, 0, 0] = 7  # the arrays are writable copies


def test_idx_loader_takes_an_explicit_directory(cache, tmp_path, rng):
    arrays = write_idx_set(tmp_path, 'elsewhere', rng, n_train=3, n_test=2)
    with pytest.warns(UserWarning):
        (x_train, _), _ = fashion_mnist.load_data(path=tmp_path / 'elsewhere')
    np.testing.assert_array_equal(x_train, arrays['train-images-idx3-ubyte.gz'])


@pytest.mark.parametrize('damage, message', [
    (lambda data: data[:len(data) // 2], 'truncated or corrupt'),
    (lambda data: gzip.compress(b'\x00\x00\x08\x03' + (5).to_bytes(4, 'big') + (28).to_bytes(4, 'big') * 2
                                + b'\x01' * 10), 'header announces'),
    (lambda data: gzip.compress(b'\x00\x00\x08\x03' + (5).to_bytes(4, 'big') * 3 + b'\x01' * 125), 'items of shape'),
    (lambda data: gzip.compress(b'\x12\x34\x56\x78' + b'\x00' * 40), 'not an IDX file'),
    (lambda data: idx_bytes(np.zeros((3, 28), np.uint8)), 'dimensions'),
])
def test_damaged_idx_file_is_a_clear_error(cache, rng, damage, message):
    write_idx_set(cache, 'fashion-mnist', rng)
    target = cache / 'fashion-mnist' / 'train-images-idx3-ubyte.gz'
    target.write_bytes(damage(target.read_bytes()))
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match=message) as info:
        fashion_mnist.load_data()
    assert 'train-images-idx3-ubyte.gz' in str(info.value)


def test_idx_files_that_do_not_match_are_refused(cache, rng):
    write_idx_set(cache, 'fashion-mnist', rng)
    put(cache, 'fashion-mnist', 'train-labels-idx1-ubyte.gz', idx_bytes(np.zeros(4)))
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match='do not belong together'):
        fashion_mnist.load_data()


def test_missing_dataset_offline_is_a_clear_error(cache):
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    for part in ('train-images-idx3-ubyte.gz', str(cache / 'fashion-mnist'), fashion_mnist.BASE_URL, 'MINIDL_DATA'):
        assert part in message


def test_mnist_falls_back_to_the_cached_sample(cache, capsys):
    labels = np.repeat(np.arange(10), 10)
    images = np.broadcast_to(np.arange(100)[:, None, None], (100, 28, 28))  # image i is all i
    put(cache, 'mnist', 'train-images-5k-idx3-ubyte.gz', idx_bytes(images))
    put(cache, 'mnist', 'train-labels-5k-idx1-ubyte.gz', idx_bytes(labels))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    notice = capsys.readouterr().err
    assert '100-image MNIST sample from ' + str(cache / 'mnist') in notice and '80 train / 20 test' in notice
    assert np.bincount(y_train).tolist() == [8] * 10 and np.bincount(y_test).tolist() == [2] * 10
    ids = np.concatenate([x_train, x_test])[:, 0, 0]
    assert sorted(ids.tolist()) == list(range(100))  # a partition of the sample
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), labels[ids])  # labels follow images
    (x_again, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x_again, x_train)  # deterministic


def test_mnist_falls_back_to_the_bundled_sample(cache, capsys):
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert 'bundled with minidl' in capsys.readouterr().err
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28) and x_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [400] * 10 and np.bincount(y_test).tolist() == [100] * 10


# ------------------------------------------------------------------------------ CIFAR pickles

def cifar_image_rows(first, n):
    """n images as CIFAR rows (red, green, blue planes), pixel value = f(image, channel, position)."""
    index = np.arange(first, first + n)[:, None, None]
    channel = np.arange(3)[None, :, None]
    position = np.arange(1024)[None, None, :]
    return ((index * 7 + channel * 50 + position) % 256).astype(np.uint8).reshape(n, 3072)


def py2_pickle(mapping):
    """A dict pickled like the official files: bytes keys, protocol 2."""
    return pickle.dumps({k.encode(): v for k, v in mapping.items()}, protocol=2)


def cifar10_members(folder='cifar-10-batches-py'):
    members = {}
    for i in range(1, 6):
        members[f'{folder}/data_batch_{i}'] = py2_pickle({
            'data': cifar_image_rows(2 * (i - 1), 2), 'labels': [(2 * i) % 10, (2 * i + 1) % 10],
            'batch_label': f'training batch {i} of 5'})
    members[f'{folder}/test_batch'] = py2_pickle({'data': cifar_image_rows(100, 3), 'labels': [3, 1, 4]})
    members[f'{folder}/batches.meta'] = py2_pickle({'label_names': [b'airplane'] * 10})
    return members


def check_cifar_images(x, first):
    n = len(x)
    expected = cifar_image_rows(first, n).reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(x, expected)
    # Spot check of the layout: image i, row r, column c, channel k = (7 i + 50 k + 32 r + c) mod 256.
    assert x[1, 2, 5, 2] == (7 * (first + 1) + 100 + 32 * 2 + 5) % 256


def test_cifar10_reads_the_python_tarball(cache):
    put(cache, 'cifar10', 'cifar-10-python.tar.gz', tar_gz(cifar10_members()))
    with pytest.warns(UserWarning, match='not the official file'):
        (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8 and x_train.flags['C_CONTIGUOUS']
    assert y_train.shape == (10, 1) and y_train.dtype == np.uint8
    check_cifar_images(x_train, 0)
    check_cifar_images(x_test, 100)
    assert y_train.ravel().tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert y_test.ravel().tolist() == [3, 1, 4]


def test_cifar10_reads_an_unpacked_folder(cache):
    for name, data in cifar10_members().items():
        (cache / 'cifar10' / os.path.dirname(name)).mkdir(parents=True, exist_ok=True)
        (cache / 'cifar10' / name).write_bytes(data)
    (x_train, _), (x_test, y_test) = cifar10.load_data()
    check_cifar_images(x_train, 0)
    assert y_test.ravel().tolist() == [3, 1, 4]


def test_cifar100_label_modes(cache):
    folder = 'cifar-100-python'
    members = {f'{folder}/train': py2_pickle({'data': cifar_image_rows(0, 4), 'fine_labels': [99, 0, 5, 42],
                                              'coarse_labels': [19, 0, 1, 8]}),
               f'{folder}/test': py2_pickle({'data': cifar_image_rows(50, 2), 'fine_labels': [7, 8],
                                             'coarse_labels': [2, 3]}),
               f'{folder}/meta': py2_pickle({'fine_label_names': [], 'coarse_label_names': []})}
    put(cache, 'cifar100', 'cifar-100-python.tar.gz', tar_gz(members))
    with pytest.warns(UserWarning):
        (x_train, y_fine), (x_test, y_test) = cifar100.load_data()
        (_, y_coarse), _ = cifar100.load_data(label_mode='coarse')
    check_cifar_images(x_train, 0)
    check_cifar_images(x_test, 50)
    assert y_fine.shape == (4, 1) and y_fine.ravel().tolist() == [99, 0, 5, 42]
    assert y_coarse.ravel().tolist() == [19, 0, 1, 8] and y_test.ravel().tolist() == [7, 8]
    with pytest.raises(ValueError, match='label_mode'):
        cifar100.load_data(label_mode='medium')


def test_truncated_cifar_archive_is_a_clear_error(cache):
    data = tar_gz(cifar10_members())
    put(cache, 'cifar10', 'cifar-10-python.tar.gz', data[:len(data) * 2 // 3])
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match='cifar-10-python.tar.gz'):
        cifar10.load_data()


def test_cifar_archive_with_missing_batches_is_a_clear_error(cache):
    members = cifar10_members()
    del members['cifar-10-batches-py/data_batch_3']
    put(cache, 'cifar10', 'cifar-10-python.tar.gz', tar_gz(members))
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match='data_batch_3'):
        cifar10.load_data()


def test_cifar_pickle_cannot_run_code(cache):
    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))

    members = cifar10_members()
    members['cifar-10-batches-py/data_batch_1'] = pickle.dumps({b'data': Evil(), b'labels': []}, protocol=2)
    put(cache, 'cifar10', 'cifar-10-python.tar.gz', tar_gz(members))
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match='refusing to load'):
        cifar10.load_data()


# ------------------------------------------------------------------------------------- IMDB

TRAIN_REVIEWS = {  # (polarity, id): text
    ('pos', 0): 'A great movie.<br /><br />Great!',
    ('pos', 1): 'Great great film',
    ('pos', 2): 'The film, the movie: great.',
    ('pos', 3): "Don't miss it",
    ('neg', 0): 'The worst movie.',
    ('neg', 1): 'Bad, bad film.',
    ('neg', 2): 'The movie is bad',
    ('neg', 3): "It's the worst",
}
TEST_REVIEWS = {
    ('pos', 0): 'Great movie, great fun',
    ('pos', 1): 'The best',
    ('neg', 0): 'Bad movie. Fun? No.',
    ('neg', 1): 'the worst the worst',
}
# Counted by hand: training frequencies great 5, the 5, movie 4, bad 3, film 3, worst 2, then
# once each (alphabetical ties); test-only words follow: fun 2, best 1, no 1.
WORD_RANK = {'great': 1, 'the': 2, 'movie': 3, 'bad': 4, 'film': 5, 'worst': 6, 'a': 7, "don't": 8, 'is': 9,
             'it': 10, "it's": 11, 'miss': 12, 'fun': 13, 'best': 14, 'no': 15}
TRAIN_WORDS = {  # the reviews as rank sequences, in (negatives, positives) x id order
    ('neg', 0): [2, 6, 3], ('neg', 1): [4, 4, 5], ('neg', 2): [2, 3, 9, 4], ('neg', 3): [11, 2, 6],
    ('pos', 0): [7, 1, 3, 1], ('pos', 1): [1, 1, 5], ('pos', 2): [2, 5, 2, 3, 1], ('pos', 3): [8, 12, 10],
}
TEST_WORDS = {('neg', 0): [4, 3, 13, 15], ('neg', 1): [2, 6, 2, 6], ('pos', 0): [1, 3, 1, 13], ('pos', 1): [2, 14]}


def imdb_archive():
    members = {'aclImdb/README': b'fixture', 'aclImdb/imdb.vocab': b'the\n'}
    for split, reviews in (('train', TRAIN_REVIEWS), ('test', TEST_REVIEWS)):
        for (polarity, review_id), text in reviews.items():
            rating = 9 if polarity == 'pos' else 2
            members[f'aclImdb/{split}/{polarity}/{review_id}_{rating}.txt'] = text.encode()
    return tar_gz(members)


@pytest.fixture
def imdb_cache(cache):
    put(cache, 'imdb', 'aclImdb_v1.tar.gz', imdb_archive())
    return cache


def keras_order(words, seed):
    """The reviews in file order (negatives, positives; by id), shuffled as Keras does."""
    keys = sorted(words, key=lambda k: (k[0] == 'pos', k[1]))
    order = np.arange(len(keys))
    np.random.RandomState(seed).shuffle(order)
    return [keys[i] for i in order]


@pytest.mark.filterwarnings('ignore:.*not the official file')
def test_imdb_word_index_ranks_by_training_frequency(imdb_cache):
    assert imdb.get_word_index() == WORD_RANK


@pytest.mark.filterwarnings('ignore:.*not the official file')
def test_imdb_default_conventions(imdb_cache):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(seed=113)
    assert x_train.dtype == object and x_train.shape == (8,) and y_train.dtype == np.int64
    rng = np.random.RandomState(113)  # Keras shuffles train, then test, with one generator
    for x, y, words in ((x_train, y_train, TRAIN_WORDS), (x_test, y_test, TEST_WORDS)):
        keys = sorted(words, key=lambda k: (k[0] == 'pos', k[1]))
        order = np.arange(len(keys))
        rng.shuffle(order)
        keys = [keys[i] for i in order]
        # start_char 1, ranks shifted by index_from 3; num_words defaults to the largest index
        # (15 + 3 = 18, 'no'), which Keras itself maps to the oov character 2.
        expected = [[1] + [r + 3 if r + 3 < 18 else 2 for r in words[k]] for k in keys]
        assert [list(s) for s in x] == expected
        assert y.tolist() == [int(k[0] == 'pos') for k in keys]
        assert all(type(w) is int for s in x for w in s)


@pytest.mark.filterwarnings('ignore:.*not the official file')
def test_imdb_num_words_skip_top_and_custom_chars(imdb_cache):
    (x_train, _), _ = imdb.load_data(num_words=8, skip_top=2, seed=1)
    keys = keras_order(TRAIN_WORDS, 1)
    # indices >= 8 and < 2 become 2 -- the start character 1 included, as in Keras
    expected = [[2] + [r + 3 if r + 3 < 8 else 2 for r in TRAIN_WORDS[k]] for k in keys]
    assert [list(s) for s in x_train] == expected
    (x_train, _), _ = imdb.load_data(num_words=8, oov_char=None, start_char=None, index_from=0, seed=1)
    assert [list(s) for s in x_train] == [[r for r in TRAIN_WORDS[k] if r < 8] for k in keys]


@pytest.mark.filterwarnings('ignore:.*not the official file')
def test_imdb_maxlen_drops_long_sequences(imdb_cache):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(maxlen=5, seed=7)
    keys = [k for k in keras_order(TRAIN_WORDS, 7) if len(TRAIN_WORDS[k]) + 1 < 5]
    assert len(x_train) == len(keys) == 5
    assert y_train.tolist() == [int(k[0] == 'pos') for k in keys]
    assert all(len(s) < 5 for s in x_test) and len(x_test) == sum(len(w) + 1 < 5 for w in TEST_WORDS.values())
    with pytest.raises(ValueError, match='maxlen'):
        imdb.load_data(maxlen=2)


@pytest.mark.filterwarnings('ignore:.*not the official file')
def test_imdb_corpus_cache_follows_the_archive(imdb_cache):
    first = imdb.load_data(seed=3)
    assert (imdb_cache / 'imdb' / imdb.CACHE).exists()
    again = imdb.load_data(seed=3)
    assert [list(s) for s in again[0][0]] == [list(s) for s in first[0][0]]
    # A different archive invalidates the cache.
    archive = imdb_cache / 'imdb' / 'aclImdb_v1.tar.gz'
    members = {'aclImdb/train/pos/0_9.txt': b'zebra zebra', 'aclImdb/test/neg/0_1.txt': b'zebra'}
    archive.write_bytes(tar_gz(members))
    assert imdb.get_word_index() == {'zebra': 1}


def test_truncated_imdb_archive_is_a_clear_error(cache):
    data = imdb_archive()
    put(cache, 'imdb', 'aclImdb_v1.tar.gz', data[:len(data) // 2])
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match='aclImdb_v1.tar.gz'):
        imdb.load_data()


# ------------------------------------------------------------------------------- CSV sets

def test_boston_housing_from_csv_with_keras_split(cache, rng):
    table = np.round(rng.uniform(0, 100, (20, 14)), 3)
    header = 'CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT,MEDV\n'
    rows = '\n'.join(','.join(f'{v:g}' for v in row) for row in table)
    put(cache, 'boston_housing', 'housing.csv', (header + rows + '\n').encode())
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(test_split=0.25, seed=5)
    order = np.arange(20)
    np.random.RandomState(5).shuffle(order)
    assert x_train.dtype == np.float64 and x_train.shape == (15, 13) and y_test.shape == (5,)
    np.testing.assert_array_equal(x_train, table[order[:15], :13])
    np.testing.assert_array_equal(y_test, table[order[15:], 13])
    with pytest.raises(ValueError, match='test_split'):
        boston_housing.load_data(test_split=1.0)


def test_boston_housing_from_keras_npz(cache, rng):
    x, y = rng.uniform(0, 1, (10, 13)), rng.uniform(5, 50, 10)
    buffer = io.BytesIO()
    np.savez(buffer, x=x, y=y)
    put(cache, 'boston_housing', 'boston_housing.npz', buffer.getvalue())
    with pytest.warns(UserWarning, match='not the official file'):
        (x_train, _), (x_test, y_test) = boston_housing.load_data()
    order = np.arange(10)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(x_train, x[order[:8]])
    np.testing.assert_array_equal(y_test, y[order[8:]])


def test_csv_with_wrong_columns_is_refused(cache):
    put(cache, 'boston_housing', 'housing.csv', b'1,2,3\n4,5,6\n')
    with pytest.raises(DatasetError, match='3 columns, expected 14'):
        boston_housing.load_data()


@pytest.mark.filterwarnings('ignore:.*not the official file')  # a synthetic table, not the official CSV
def test_pima_diabetes_all_rows_by_default_and_optional_split(cache, rng):
    table = np.column_stack([rng.integers(0, 200, (768, 8)), rng.integers(0, 2, 768)])
    put(cache, 'pima', 'pima-indians-diabetes.csv',
        ('\n'.join(','.join(str(v) for v in row) for row in table) + '\n').encode())
    (x, y), (x_test, y_test) = pima_diabetes.load_data()
    assert x.shape == (768, 8) and x.dtype == np.float64 and y.dtype == np.int64
    assert x_test.shape == (0, 8) and y_test.shape == (0,)
    np.testing.assert_array_equal(x, table[:, :8])
    np.testing.assert_array_equal(y, table[:, 8])
    (x_train, _), (x_test, _) = pima_diabetes.load_data(test_split=0.25)
    assert len(x_train) == 576 and len(x_test) == 192


@pytest.mark.filterwarnings('ignore:.*not the official file')
def test_pima_with_wrong_rows_is_refused(cache):
    put(cache, 'pima', 'pima-indians-diabetes.csv', b'1,2,3,4,5,6,7,8,1\n' * 10)
    with pytest.raises(DatasetError, match='768'):
        pima_diabetes.load_data()
