"""The dataset cache: search order, checksums, downloads (against a local HTTP server), offline
errors and safe archive extraction. Never touches the real cache: MINIDL_DATA and HOME point
into tmp_path."""
import gzip
import hashlib
import http.server
import io
import os
import pickle
import tarfile
import threading
import zipfile

import numpy as np
import pytest

from minidl.datasets import fashion_mnist, get_file, mnist, pima_diabetes
from minidl.datasets._files import (ChecksumError, DatasetError, DatasetNotFoundError, cache_dirs,
                                    extract_archive, search_dirs)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache root as MINIDL_DATA, a HOME without ~/.minidl, downloads allowed."""
    root = tmp_path / 'cache'
    monkeypatch.setenv('MINIDL_DATA', str(root))
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.delenv('MINIDL_OFFLINE', raising=False)
    return root


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the fixture folder; paths under /short/ announce more bytes than they send."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith('/short/'):
            body = b'only part of the file'
            self.send_response(200)
            self.send_header('Content-Length', str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """A threaded HTTP server on 127.0.0.1 serving tmp_path/served; yields (folder, base URL)."""
    folder = tmp_path / 'served'
    folder.mkdir()
    handler = lambda *args, **kwargs: _Handler(*args, directory=str(folder), **kwargs)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield folder, f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def idx_bytes(array):
    """An array in the IDX format (uint8), gzipped: magic 0x0800 + ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b''.join(int(d).to_bytes(4, 'big') for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_search_order_and_cache_layout(cache, tmp_path, monkeypatch):
    home_dir = tmp_path / 'home' / '.minidl' / 'datasets' / 'mnist'
    assert cache_dirs('mnist') == [str(cache / 'mnist'), str(home_dir)]
    assert search_dirs('mnist', tmp_path / 'mine')[0] == str(tmp_path / 'mine')
    home_dir.mkdir(parents=True)
    (home_dir / 'a.bin').write_bytes(b'home copy')
    assert get_file('a.bin', None, cache_subdir='datasets/mnist') == str(home_dir / 'a.bin')
    (cache / 'mnist').mkdir(parents=True)
    (cache / 'mnist' / 'a.bin').write_bytes(b'MINIDL_DATA copy')
    assert get_file('a.bin', None, cache_subdir='datasets/mnist') == str(cache / 'mnist' / 'a.bin')
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'a.bin').write_bytes(b'explicit copy')
    assert get_file('a.bin', None, cache_subdir='datasets/mnist', search=[tmp_path / 'mine']) == str(tmp_path / 'mine' / 'a.bin')


def test_download_verifies_and_renames_into_place(cache, server):
    folder, url = server
    payload = os.urandom(200_000)
    (folder / 'blob.bin').write_bytes(payload)
    path = get_file('blob.bin', url + 'blob.bin', sha256(payload), cache_subdir='datasets/things')
    assert path == str(cache / 'things' / 'blob.bin')
    assert open(path, 'rb').read() == payload
    assert os.listdir(cache / 'things') == ['blob.bin']  # no temporary file left behind
    assert os.stat(path).st_mode & 0o777 == 0o644
    (folder / 'blob.bin').unlink()
    assert get_file('blob.bin', url + 'blob.bin', sha256(payload), cache_subdir='datasets/things') == path  # cached


def test_download_with_md5(cache, server):
    folder, url = server
    (folder / 'm.bin').write_bytes(b'md5 checked')
    path = get_file('m.bin', url + 'm.bin', hashlib.md5(b'md5 checked').hexdigest(), cache_subdir='datasets/x')
    assert open(path, 'rb').read() == b'md5 checked'


def test_checksum_mismatch_rejects_and_removes_the_download(cache, server):
    folder, url = server
    (folder / 'bad.bin').write_bytes(b'not what was promised')
    with pytest.raises(ChecksumError, match='expected ' + '0' * 64):
        get_file('bad.bin', url + 'bad.bin', '0' * 64, cache_subdir='datasets/x')
    assert not os.path.exists(cache / 'x') or os.listdir(cache / 'x') == []


def test_truncated_download_leaves_nothing(cache, server):
    _, url = server
    with pytest.raises(DatasetNotFoundError) as info:
        get_file('cut.bin', url + 'short/cut.bin', None, cache_subdir='datasets/x')
    assert 'cut.bin' in str(info.value)
    assert os.listdir(cache / 'x') == []


def test_missing_file_offline_error_names_everything(cache, tmp_path, monkeypatch):
    monkeypatch.setenv('MINIDL_OFFLINE', '1')
    origin = 'https://example.invalid/data/file.gz'
    with pytest.raises(DatasetNotFoundError) as info:
        get_file('file.gz', origin, None, cache_subdir='datasets/mnist', search=[tmp_path / 'mine'])
    message = str(info.value)
    for part in ('file.gz', str(tmp_path / 'mine'), str(cache / 'mnist'), origin, 'MINIDL_DATA', 'MINIDL_OFFLINE'):
        assert part in message
    assert str(pickle.loads(pickle.dumps(info.value))) == message  # survives multiprocessing


def test_http_error_is_reported_as_not_found(cache, server):
    _, url = server
    with pytest.raises(DatasetNotFoundError, match='404'):
        get_file('absent.gz', url + 'absent.gz', None, cache_subdir='datasets/x')


def test_cached_file_with_unofficial_checksum_is_used_with_a_warning(cache):
    (cache / 'x').mkdir(parents=True)
    (cache / 'x' / 'local.bin').write_bytes(b'rebuilt offline copy')
    with pytest.warns(UserWarning, match='not the official file'):
        path = get_file('local.bin', 'https://example.invalid/local.bin', 'f' * 64, cache_subdir='datasets/x')
    assert open(path, 'rb').read() == b'rebuilt offline copy'


def test_loader_downloads_through_the_cache(cache, server, monkeypatch):
    folder, url = server
    rng = np.random.default_rng(0)
    arrays = {'train-images-idx3-ubyte.gz': rng.integers(0, 256, (6, 28, 28)),
              'train-labels-idx1-ubyte.gz': np.arange(6) % 10,
              't10k-images-idx3-ubyte.gz': rng.integers(0, 256, (3, 28, 28)),
              't10k-labels-idx1-ubyte.gz': np.array([9, 0, 4])}
    hashes = {}
    for name, array in arrays.items():
        (folder / name).write_bytes(idx_bytes(array))
        hashes[name] = sha256((folder / name).read_bytes())
    monkeypatch.setattr(fashion_mnist, 'BASE_URL', url)
    monkeypatch.setattr(fashion_mnist, 'SHA256', hashes)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays['train-images-idx3-ubyte.gz'])
    np.testing.assert_array_equal(y_test, arrays['t10k-labels-idx1-ubyte.gz'])
    assert sorted(os.listdir(cache / 'fashion-mnist')) == sorted(arrays)
    # A bad checksum on download is an error, not a fallback, and leaves nothing behind.
    monkeypatch.setattr(mnist, 'BASE_URL', url)
    with pytest.raises(ChecksumError):
        mnist.load_data()
    assert os.listdir(cache / 'mnist') == []


def test_download_without_checksum_is_validated_before_it_enters_the_cache(cache, server, monkeypatch):
    folder, url = server
    (folder / 'pima.csv').write_text('1,2,3\n')
    monkeypatch.setattr(pima_diabetes, 'ORIGIN', url + 'pima.csv')
    monkeypatch.setattr(pima_diabetes, 'SHA256', None)
    with pytest.raises(DatasetError, match='has 3 columns, expected 9'):
        pima_diabetes.load_data()
    assert os.listdir(cache / 'pima') == []


def test_pima_download_is_checked_against_its_pinned_sha256(cache, server, monkeypatch):
    """A CSV of the right shape but not the official file is refused on download."""
    folder, url = server
    rows = '\n'.join(','.join(['1'] * 8 + [str(i % 2)]) for i in range(768)) + '\n'
    (folder / 'pima.csv').write_text(rows)
    monkeypatch.setattr(pima_diabetes, 'ORIGIN', url + 'pima.csv')
    assert pima_diabetes.SHA256 == '06f5b7c2cd7bca686fda4f92eab5f61e7ff6426a9acefa2e3dda04fc54293cf5'
    with pytest.raises(ChecksumError, match='expected 06f5b7c2'):
        pima_diabetes.load_data()
    assert os.listdir(cache / 'pima') == []


def _tar_with(member_name, data=b'x', kind=tarfile.REGTYPE, linkname=''):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
        info = tarfile.TarInfo(member_name)
        info.type, info.linkname, info.size = kind, linkname, len(data) if kind == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


def test_extract_archive_unpacks_tar_and_zip(tmp_path):
    (tmp_path / 'ok.tar.gz').write_bytes(_tar_with('top/inner/file.txt', b'hello'))
    extract_archive(tmp_path / 'ok.tar.gz', tmp_path / 'out')
    assert (tmp_path / 'out' / 'top' / 'inner' / 'file.txt').read_bytes() == b'hello'
    with zipfile.ZipFile(tmp_path / 'ok.zip', 'w') as zf:
        zf.writestr('z/file.txt', 'zipped')
    extract_archive(tmp_path / 'ok.zip', tmp_path / 'out')
    assert (tmp_path / 'out' / 'z' / 'file.txt').read_text() == 'zipped'
    assert sorted(os.listdir(tmp_path / 'out')) == ['top', 'z']  # no temporary folder left


@pytest.mark.parametrize('name, kind, link', [('../escape.txt', tarfile.REGTYPE, ''),
                                              ('/abs/escape.txt', tarfile.REGTYPE, ''),
                                              ('top/link', tarfile.SYMTYPE, '/etc/passwd')])
def test_extract_archive_refuses_unsafe_members(tmp_path, name, kind, link):
    (tmp_path / 'evil.tar.gz').write_bytes(_tar_with(name, kind=kind, linkname=link))
    with pytest.raises(DatasetError, match='refusing'):
        extract_archive(tmp_path / 'evil.tar.gz', tmp_path / 'out')
    assert not (tmp_path / 'escape.txt').exists()
    assert not (tmp_path / 'out').exists()  # nothing created, no temporary folder left
    assert sorted(os.listdir(tmp_path)) == ['evil.tar.gz']


def test_extract_truncated_archive_is_a_clear_error(tmp_path):
    data = _tar_with('top/big.bin', os.urandom(50_000))
    (tmp_path / 'cut.tar.gz').write_bytes(data[:len(data) // 2])
    with pytest.raises(DatasetError, match='cut.tar.gz'):
        extract_archive(tmp_path / 'cut.tar.gz', tmp_path / 'out')


def test_get_file_extract_returns_the_folder(cache, server):
    folder, url = server
    (folder / 'pack.tar.gz').write_bytes(_tar_with('pack/data.txt', b'inside'))
    where = get_file('pack.tar.gz', url + 'pack.tar.gz', None, cache_subdir='datasets/packs', extract=True)
    assert where == str(cache / 'packs' / 'pack_extracted')  # Keras 3's name: a folder of the archive's own
    assert (cache / 'packs' / 'pack_extracted' / 'pack' / 'data.txt').read_bytes() == b'inside'


# --- get_file with Keras 3's semantics (what minidl.applications needs) ---------------------------

def test_get_file_models_subdir_downloads_into_minidl_models(cache, server, tmp_path):
    folder, url = server
    (folder / 'w_notop.h5').write_bytes(b'weights')
    md5 = hashlib.md5(b'weights').hexdigest()
    path = get_file('w_notop.h5', url + 'w_notop.h5', cache_subdir='models', file_hash=md5)
    assert path == str(tmp_path / 'home' / '.minidl' / 'models' / 'w_notop.h5')
    assert open(path, 'rb').read() == b'weights'
    assert get_file('w_notop.h5', url + 'w_notop.h5', md5, cache_subdir='models', hash_algorithm='md5') == path
    with pytest.raises(ValueError, match='64'):
        get_file('w_notop.h5', url + 'w_notop.h5', md5, cache_subdir='models', hash_algorithm='sha256')


def test_get_file_uses_a_matching_copy_in_the_keras_cache(cache, tmp_path, monkeypatch):
    monkeypatch.setenv('MINIDL_OFFLINE', '1')
    keras_models = tmp_path / 'home' / '.keras' / 'models'
    keras_models.mkdir(parents=True)
    (keras_models / 'vgg.h5').write_bytes(b'keras copy')
    good = hashlib.md5(b'keras copy').hexdigest()
    assert get_file('vgg.h5', 'https://example.invalid/vgg.h5', good, cache_subdir='models') == \
        str(keras_models / 'vgg.h5')
    with pytest.raises(DatasetNotFoundError) as info:  # a Keras copy that is not the expected file is not used
        get_file('vgg.h5', 'https://example.invalid/vgg.h5', '0' * 32, cache_subdir='models')
    message = str(info.value)
    assert str(keras_models) in message and str(tmp_path / 'home' / '.minidl' / 'models') in message
    assert 'MINIDL_OFFLINE' in message and 'https://example.invalid/vgg.h5' in message
    keras_datasets = tmp_path / 'home' / '.keras' / 'datasets'
    keras_datasets.mkdir()
    (keras_datasets / 'boston_housing.npz').write_bytes(b'npz')  # Keras keeps data set files side by side
    assert get_file('boston_housing.npz', None, None, cache_subdir='datasets/boston_housing') == \
        str(keras_datasets / 'boston_housing.npz')


def test_get_file_names_like_keras(cache, server, tmp_path):
    folder, url = server
    (folder / 'file.txt').write_bytes(b'named by its URL')
    assert get_file(origin=url + 'file.txt') == str(cache / 'file.txt')
    with pytest.raises(ValueError, match='cache_dir'):
        get_file('sub/file.txt', url + 'file.txt')
    with pytest.raises(TypeError, match='untar=True'):
        get_file('file.txt', url + 'file.txt', True)
    mine = tmp_path / 'mine'
    assert get_file('file.txt', url + 'file.txt', cache_dir=mine, cache_subdir='things') == \
        str(mine / 'things' / 'file.txt')


def test_get_file_extracts_into_a_folder_of_the_archive_own(cache, server):
    """Issue 13: an archive whose member is 'mnist/README' once replaced $MINIDL_DATA/mnist/."""
    folder, url = server
    (cache / 'mnist').mkdir(parents=True)
    (cache / 'mnist' / 'precious.gz').write_bytes(b'user data')
    (folder / 'extra.tar.gz').write_bytes(_tar_with('mnist/README', b'readme'))
    where = get_file('extra.tar.gz', url + 'extra.tar.gz', extract=True)
    assert where == str(cache / 'extra_extracted')
    assert (cache / 'extra_extracted' / 'mnist' / 'README').read_bytes() == b'readme'
    assert (cache / 'mnist' / 'precious.gz').read_bytes() == b'user data'
    assert sorted(os.listdir(cache / 'mnist')) == ['precious.gz']
    # Without a dot in fname, Keras keeps the archive as '<fname>_archive' and extracts into '<fname>/'.
    (folder / 'pack.tar.gz').write_bytes(_tar_with('inner/a.txt', b'a'))
    where = get_file('pack', url + 'pack.tar.gz', extract=True)
    assert where == str(cache / 'pack') and (cache / 'pack_archive').is_file()
    assert (cache / 'pack' / 'inner' / 'a.txt').read_bytes() == b'a'


def test_extraction_into_an_existing_folder_removes_nothing(tmp_path):
    out = tmp_path / 'out'
    (out / 'top').mkdir(parents=True)
    (out / 'top' / 'mine.txt').write_bytes(b'keep me')
    (out / 'other').mkdir()
    (tmp_path / 'a.tar.gz').write_bytes(_tar_with('top/new.txt', b'new'))
    extract_archive(tmp_path / 'a.tar.gz', out)
    assert (out / 'top' / 'mine.txt').read_bytes() == b'keep me' and (out / 'other').is_dir()
    assert (out / 'top' / 'new.txt').read_bytes() == b'new'
    (out / 'top' / 'new.txt').write_bytes(b'edited')
    extract_archive(tmp_path / 'a.tar.gz', out)  # unchanged archive: not unpacked again
    assert (out / 'top' / 'new.txt').read_bytes() == b'edited'
    assert [n for n in os.listdir(tmp_path) if n.endswith('.extract')] == []


def test_get_file_falls_back_to_tmp_when_the_cache_cannot_be_written(cache, server, tmp_path, monkeypatch):
    """Keras' rule for a read-only home: download into <tmp>/.minidl/<cache_subdir>."""
    import minidl.datasets._files as files
    folder, url = server
    (folder / 'ro.bin').write_bytes(b'fallback')
    home = str(tmp_path / 'home')
    os.makedirs(home)  # a home that exists but cannot be written
    real_access = os.access
    monkeypatch.setattr(files.os, 'access', lambda p, mode: False if str(p).startswith(home) else real_access(p, mode))
    monkeypatch.setattr(files.tempfile, 'gettempdir', lambda: str(tmp_path / 'tmp'))
    path = get_file('ro.bin', url + 'ro.bin', cache_subdir='models')
    assert path == str(tmp_path / 'tmp' / '.minidl' / 'models' / 'ro.bin')
    assert open(path, 'rb').read() == b'fallback'
