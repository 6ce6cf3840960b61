"""Where downloaded files live and how they get there: cache directories, checksums, downloads,
archives. ``get_file`` is Keras 3's ``keras.utils.get_file`` on minidl's cache.

Cache layout: ``~/.minidl/<cache_subdir>``: data sets in ``~/.minidl/datasets/<dataset>/``
(or ``$MINIDL_DATA/<dataset>/``, searched first), weights of ``minidl.applications`` in
``~/.minidl/models/``. Files a Keras user already has in ``~/.keras/<cache_subdir>`` (data sets:
``~/.keras/datasets/``) are used from there when they match the expected hash. A data set file
is also looked for in the ``path`` the user gives ``load_data``. ``MINIDL_OFFLINE=1`` turns
downloads off.

A download goes to a recognisable temporary name in the target directory
(``.<name>.<host>-<pid>-<random>.part``, removed by the next download of the same file if the
process was killed), must finish within an overall deadline, is checked against its sha256 or
md5 and only then renamed into place, so a partial or corrupt download never stays in the
cache. A file that is already in the cache is trusted as long as it parses: if its checksum is
not the official one (a rebuilt or sampled offline copy) it is used with a warning.
"""
import hashlib
import http.client
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

from .. import atomic
from ..atomic import atomic_path

ENV_DATA = 'MINIDL_DATA'
ENV_OFFLINE = 'MINIDL_OFFLINE'
DOWNLOAD_TIMEOUT_S = 30          # the longest wait for the server's next bytes
DOWNLOAD_DEADLINE_S = 4 * 3600   # the longest a whole download may take
RATE_GRACE_S = 60                # after this long a download must average MIN_RATE_BPS or stop
MIN_RATE_BPS = 1024
_CHUNK = 1 << 16


class DatasetError(RuntimeError):
    """A dataset file exists but is corrupt, truncated or not in the expected format."""


class ChecksumError(DatasetError):
    """A downloaded file does not have the expected checksum (it was removed)."""


class DownloadTimeout(TimeoutError):
    """A download passed its overall deadline, or the server sent too slowly."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is in no searched directory and could not be downloaded.

    Attributes: ``fname``, ``dirs`` (searched), ``origin`` (URL or None), ``reason``.
    """

    def __init__(self, fname, dirs, origin, reason, cache_subdir='datasets'):
        super().__init__(not_found_message(fname, dirs, origin, reason, cache_subdir))
        self.fname, self.dirs, self.origin, self.reason = fname, list(dirs), origin, reason
        self.cache_subdir = cache_subdir

    def __str__(self):
        return self.args[0]

    def __reduce__(self):
        return type(self), (self.fname, self.dirs, self.origin, self.reason, self.cache_subdir)


def cache_root():
    """The directory new downloads go to: ``$MINIDL_DATA`` or ``~/.minidl/datasets``."""
    return os.environ.get(ENV_DATA) or _home_root()


def _home_root():
    return os.path.join(os.path.expanduser('~'), '.minidl', 'datasets')


def cache_dirs(subdir=''):
    """The cache directories of one dataset, in search order (no duplicates)."""
    roots = [os.environ.get(ENV_DATA), _home_root()]
    return _unique(os.path.join(root, subdir) for root in roots if root)


def search_dirs(subdir='', path=None):
    """``path`` (if given) followed by the cache directories of ``subdir``."""
    first = [os.fspath(path)] if path is not None else []
    return _unique(first + cache_dirs(subdir))


def _unique(dirs):
    seen, result = set(), []
    for d in dirs:
        key = os.path.abspath(os.path.expanduser(d))
        if key not in seen:
            seen.add(key)
            result.append(key)
    return result


def offline():
    """True when ``MINIDL_OFFLINE`` asks for no downloads."""
    return os.environ.get(ENV_OFFLINE, '').strip().lower() in ('1', 'true', 'yes', 'on')


# ----------------------------------------------------------------------------------- checksums

_hash_memo = {}


def _algorithm(expected, algorithm='auto'):
    """The hash algorithm of ``expected``: 'md5' for 32 hex digits, 'sha256' for 64 (Keras'
    'auto'), or the one named, checked against the digest's length."""
    lengths = {'md5': 32, 'sha256': 64}
    if not isinstance(expected, str) or any(c not in '0123456789abcdefABCDEF' for c in expected):
        raise ValueError(f'A file hash must be a hex digest (md5: 32 digits, sha256: 64), got {expected!r}.')
    if algorithm in (None, 'auto'):
        for name, length in lengths.items():
            if len(expected) == length:
                return name
        raise ValueError(f'A file hash must be an md5 (32 hex digits) or sha256 (64 hex digits), got {expected!r} '
                         f'({len(expected)} digits).')
    if algorithm not in lengths:
        raise ValueError(f"hash_algorithm must be 'auto', 'md5' or 'sha256', got {algorithm!r}.")
    if len(expected) != lengths[algorithm]:
        raise ValueError(f'{expected!r} has {len(expected)} hex digits; a {algorithm} digest has '
                         f'{lengths[algorithm]}.')
    return algorithm


def hash_file(path, algorithm='sha256'):
    """Hex digest of a file; remembered while the file's size and mtime stay the same."""
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, algorithm)
    if key not in _hash_memo:
        digest = hashlib.new(algorithm)
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                digest.update(chunk)
        _hash_memo[key] = digest.hexdigest()
    return _hash_memo[key]


def hash_matches(path, expected, algorithm='auto'):
    """Whether ``path`` has the md5 or sha256 ``expected``."""
    return hash_file(path, _algorithm(expected, algorithm)) == expected.lower()


def _warn_if_unofficial(path, expected, algorithm='auto'):
    if expected and not hash_matches(path, expected, algorithm):
        warnings.warn(f'{path} is not the official file (its {_algorithm(expected, algorithm)} differs from '
                      f'{expected}); it is used as it is because it is already in the cache. '
                      'Delete it to download the official file.', stacklevel=_user_stacklevel())


def _user_stacklevel():
    """The ``stacklevel`` that makes a warning point at the first caller outside minidl."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


# ------------------------------------------------------------------------------------ get_file

def find_file(fname, dirs):
    """The first ``<dir>/<fname>`` that exists among ``dirs``, or None."""
    for d in dirs:
        candidate = os.path.join(d, fname)
        if os.path.isfile(candidate):
            return candidate
    return None


def minidl_home():
    """The root of minidl's caches: ``~/.minidl`` (data sets in ``datasets/``, weights in ``models/``)."""
    return os.path.join(os.path.expanduser('~'), '.minidl')


def keras_home():
    """Keras' cache root (``$KERAS_HOME`` or ``~/.keras``): searched, never written."""
    return os.path.expanduser(os.environ.get('KERAS_HOME') or os.path.join('~', '.keras'))


def _subdir_dirs(cache_subdir):
    """(write targets, Keras' read-only folders) of a ``cache_subdir`` under the default roots.

    ``datasets`` and ``datasets/<name>`` live in ``$MINIDL_DATA[/<name>]`` (when set) and
    ``~/.minidl/datasets[/<name>]``; any other subfolder (``models``) in ``~/.minidl/<subdir>``.
    Keras' copies: ``~/.keras/<subdir>``, and for a data set also ``~/.keras/datasets`` (where
    Keras keeps every data set file, side by side)."""
    parts = [p for p in cache_subdir.replace('\\', '/').split('/') if p]
    targets, keras_dirs = [], [os.path.join(keras_home(), *parts)]
    if parts and parts[0] == 'datasets':
        if os.environ.get(ENV_DATA):
            targets.append(os.path.join(os.environ[ENV_DATA], *parts[1:]))
        if len(parts) > 1:
            keras_dirs.append(os.path.join(keras_home(), 'datasets'))
    targets.append(os.path.join(minidl_home(), *parts))
    return _unique(targets), _unique(keras_dirs)


def _extraction_paths(datadir, fname, provided):
    """(archive path, extraction folder) as Keras 3 names them: 'pack.tar.gz' -> 'pack.tar.gz' and
    'pack_extracted/'; a name without a dot 'pack' -> 'pack_archive' and 'pack/'."""
    if provided and '.' in fname:
        return os.path.join(datadir, fname), os.path.join(datadir, f"{fname[:fname.find('.')]}_extracted")
    return os.path.join(datadir, f'{fname}_archive'), os.path.join(datadir, fname)


def get_file(fname=None, origin=None, file_hash=None, cache_subdir='datasets', hash_algorithm='auto',
             extract=False, archive_format='auto', cache_dir=None, force_download=False, *, untar=False,
             md5_hash=None, search=None, validate=None):
    """Path of ``fname``, taken from the cache or downloaded from ``origin`` into it (Keras 3's
    ``keras.utils.get_file``, with minidl's cache).

    Where: ``<cache_dir>/<cache_subdir>`` when ``cache_dir`` is given; otherwise
    ``~/.minidl/<cache_subdir>`` (``cache_subdir='datasets'`` and ``'datasets/<name>'`` also
    ``$MINIDL_DATA[/<name>]``, first). An absolute ``cache_subdir`` is used as it is. A file that
    a Keras user already has in ``~/.keras/<cache_subdir>`` (``$KERAS_HOME``) is used from there
    when it matches ``file_hash`` (or when no hash is given). ``search`` lists folders looked in
    first (minidl's loaders pass the user's ``path``). When the cache folder cannot be written
    (a read-only home), downloads go to ``<tmp>/.minidl/<cache_subdir>`` as Keras does.

    Checks: ``file_hash`` is an md5 or sha256 hex digest (``hash_algorithm='auto'`` tells them
    apart by length, or give 'md5' / 'sha256'). A download must match it, or it is deleted and
    ``ChecksumError`` is raised; a file already in minidl's cache that does not match is used
    with a warning (an offline copy). ``validate(path)`` may check a download before it enters
    the cache. ``MINIDL_OFFLINE=1`` forbids downloads. Missing and undownloadable files raise
    ``DatasetNotFoundError`` naming every folder searched and the URL.

    ``extract=True`` (or Keras' ``untar=True``) unpacks a tar or zip archive into a folder of its
    own (Keras' names: 'pack.tar.gz' into 'pack_extracted/', a name without a dot 'pack' from
    'pack_archive' into 'pack/') and returns that folder. Members must stay inside it (no
    absolute names, '..', links or devices); nothing that the extraction did not create is
    removed, and an unchanged archive is not unpacked twice.
    """
    if isinstance(file_hash, bool):
        raise TypeError('get_file(): the third argument is file_hash (a hex digest), got a bool. Keras 2 '
                        'code that passes untar positionally should use get_file(fname, origin, untar=True).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, 'md5'
    if file_hash is not None:
        _algorithm(file_hash, hash_algorithm)
    extract = extract or untar
    if untar:
        archive_format = 'tar'
    provided = fname is not None and os.fspath(fname) != ''
    if provided:
        fname = os.fspath(fname)
        if os.sep in fname or (os.altsep and os.altsep in fname) or fname in ('.', '..'):
            raise ValueError(f'get_file(): fname must be a file name, got the path {fname!r}. To choose the '
                             'folder, use cache_dir (and cache_subdir).')
    else:
        if not origin:
            raise ValueError('get_file() needs fname or origin (the URL of the file) to name the file.')
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't derive a file name from the origin {origin!r}; pass fname.")
    cache_subdir = os.fspath(cache_subdir or '')
    if cache_dir is not None:
        targets, keras_dirs = [os.path.join(os.path.expanduser(os.fspath(cache_dir)), cache_subdir)], []
    elif os.path.isabs(cache_subdir):
        targets, keras_dirs = [cache_subdir], []
    else:
        targets, keras_dirs = _subdir_dirs(cache_subdir)
    targets = _unique(targets)
    fallback = _writable_fallback(targets[0], cache_subdir)
    if fallback:
        targets.append(fallback)
    own_dirs = _unique([os.fspath(d) for d in (search or [])] + targets)
    name = fname
    if extract:
        name, folder = (os.path.basename(p) for p in _extraction_paths('', fname, provided))
    found = None if force_download else find_file(name, own_dirs)
    if found:
        _warn_if_unofficial(found, file_hash, hash_algorithm)
    elif not force_download:
        found = _find_keras_copy(name, keras_dirs, file_hash, hash_algorithm)
    if not found:
        found = os.path.join(fallback or targets[0], name)
        _download_or_explain(name, origin, found, file_hash, _unique(own_dirs + keras_dirs), validate,
                             hash_algorithm, cache_subdir)
    if extract:
        destination = os.path.join(os.path.dirname(found), folder)
        extract_archive(found, destination, archive_format=archive_format)
        return destination
    return found


def _writable_fallback(target, cache_subdir):
    """Keras' rule: when the cache cannot be written (a read-only home), download to
    ``<tmp>/.minidl/<cache_subdir>`` instead. None when ``target`` is writable."""
    probe = os.path.abspath(target)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.access(probe, os.W_OK):
        return None
    return os.path.join(tempfile.gettempdir(), '.minidl', cache_subdir.lstrip('/\\'))


def fetch(fname, origin, file_hash, dataset, path=None, validate=None):
    """A data set file of ``dataset``: ``get_file`` with the user's ``path`` searched first."""
    return get_file(fname, origin, file_hash, cache_subdir=f'datasets/{dataset}',
                    search=[path] if path is not None else None, validate=validate)


def _find_keras_copy(name, dirs, file_hash, hash_algorithm):
    """A file Keras already downloaded, used only when it is the expected file."""
    found = find_file(name, dirs)
    if found and (file_hash is None or hash_matches(found, file_hash, hash_algorithm)):
        return found
    return None


def _download_or_explain(fname, origin, target, file_hash, dirs, validate, hash_algorithm='auto',
                         cache_subdir='datasets'):
    reason = None
    if not origin:
        reason = 'no download address is known for it'
    elif offline():
        reason = f'downloads are turned off ({ENV_OFFLINE} is set)'
    else:
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            download(origin, target, file_hash, validate=validate, hash_algorithm=hash_algorithm)
        except _NETWORK_ERRORS as exc:
            reason = f'downloading {origin} failed: {_describe(exc)}'
    if reason:
        raise DatasetNotFoundError(fname, dirs, origin, reason, cache_subdir)


def not_found_message(fname, dirs, origin, reason, cache_subdir='datasets'):
    """The error text for a file that is nowhere: what, where we looked, where it comes from."""
    looked = '\n'.join(f'  {d}' for d in dirs)
    source = f' from {origin}' if origin else ''
    parts = [p for p in str(cache_subdir).replace('\\', '/').split('/') if p]
    if parts and parts[0] == 'datasets':
        layout = '/'.join(['<' + ENV_DATA + '>'] + parts[1:] + [fname])
        hint = f', or set {ENV_DATA} to a folder whose layout is {layout}'
    else:
        hint = ''
    return (f'{fname!r} was not found in any of these directories:\n{looked}\nand {reason}.\n'
            f'Download it{source} into one of them{hint}.')


_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, socket.timeout, ConnectionError,
                   TimeoutError, DownloadTimeout)


def _describe(exc):
    if isinstance(exc, urllib.error.HTTPError):
        return f'the server answered {exc.code} {exc.reason}'
    if isinstance(exc, urllib.error.URLError):
        return f'{exc.reason}'
    return f'{type(exc).__name__}: {exc}'


def download(origin, target, file_hash=None, timeout=None, validate=None, hash_algorithm='auto', deadline=None):
    """Download ``origin`` to ``target`` through a temporary file, check it, rename it into place.

    ``timeout`` bounds each wait for the server (default ``DOWNLOAD_TIMEOUT_S``); ``deadline``
    bounds the whole download (default ``DOWNLOAD_DEADLINE_S``), and after ``RATE_GRACE_S``
    seconds a server sending less than ``MIN_RATE_BPS`` bytes per second on average is given
    up, so a trickling server cannot hold a program forever (``DownloadTimeout``). Network
    failures and short bodies propagate as urllib/http errors; a hash mismatch raises
    ``ChecksumError``, and ``validate(temporary_path)`` may raise ``DatasetError``. Nothing is
    left at ``target`` or next to it on failure; temporaries of killed downloads
    (``.<name>.<host>-<pid>-<random>.part``) are removed by the next download of the same file.
    """
    timeout = DOWNLOAD_TIMEOUT_S if timeout is None else timeout
    deadline = DOWNLOAD_DEADLINE_S if deadline is None else deadline
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    digest = hashlib.new(_algorithm(file_hash, hash_algorithm)) if file_hash else None
    start = time.monotonic()
    with atomic_path(target, suffix='.part', what='Downloading to') as tmp:
        request = urllib.request.Request(origin, headers={'User-Agent': 'minidl'})
        with open(tmp, 'wb') as out, urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get('Content-Length') or 0)
            progress = _Progress(origin, total)
            received = 0
            read = getattr(response, 'read1', response.read)  # one socket read at a time: the clock is checked
            while True:
                chunk = read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                if digest:
                    digest.update(chunk)
                received += len(chunk)
                progress.update(received)
                _check_pace(origin, start, received, total, deadline)
            progress.close()
        if total and received != total:
            raise http.client.IncompleteRead(b'', total - received)
        if digest and digest.hexdigest() != file_hash.lower():
            raise ChecksumError(f'The file downloaded from {origin} has {digest.name} {digest.hexdigest()}, '
                                f'expected {file_hash.lower()}; it was deleted. The server may have sent an '
                                'error page or a different version: try again, or get the file by hand.')
        if validate is not None:
            validate(tmp)
    return target


def _check_pace(origin, start, received, total, deadline):
    elapsed = time.monotonic() - start
    if elapsed > deadline:
        raise DownloadTimeout(f'{origin} was not complete after {elapsed:.0f} s ({received:,} of '
                              f'{total or "?"} bytes); the download deadline is {deadline:.0f} s')
    if elapsed > RATE_GRACE_S and received / elapsed < MIN_RATE_BPS:
        raise DownloadTimeout(f'{origin} sends {received / elapsed:.0f} bytes/s on average after {elapsed:.0f} s '
                              f'(fewer than {MIN_RATE_BPS}); giving up')


class _Progress:
    """A one-line download progress bar on stderr."""

    def __init__(self, origin, total):
        self.origin, self.total, self.last = origin, total, 0.0
        sys.stderr.write(f'Downloading {origin}\n')

    def update(self, received):
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last = now
            self._draw(received)
        self.received = received

    def _draw(self, received):
        mb = received / 1e6
        if self.total:
            done = received / self.total
            bar = '#' * int(30 * done)
            line = f'\r  [{bar:<30}] {100 * done:5.1f}%  {mb:.1f}/{self.total / 1e6:.1f} MB'
        else:
            line = f'\r  {mb:.1f} MB'
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self):
        self._draw(getattr(self, 'received', 0))
        sys.stderr.write('\n')


# ---------------------------------------------------------------------------------- archives

def _check_member_name(archive, name):
    """Reject absolute names and names that climb out of the target folder."""
    parts = name.replace('\\', '/').split('/')
    if name.startswith(('/', '\\')) or os.path.isabs(name) or '..' in parts or (parts and ':' in parts[0]):
        raise DatasetError(f'{archive} holds the unsafe member {name!r} (absolute or outside the '
                           'archive folder); refusing to extract it.')


_FORMATS = {'tar': tarfile.is_tarfile, 'zip': zipfile.is_zipfile}
_EXTRACT_SUFFIX = '.extract'


def _marker(folder):
    """The record, beside ``folder``, of the archive last extracted into it."""
    parent, base = os.path.split(os.path.abspath(folder))
    return os.path.join(parent, f'.{base}.minidl-extracted')


def _archive_stamp(archive):
    info = os.stat(archive)
    return f'{os.path.abspath(archive)}\n{info.st_size}\n{info.st_mtime_ns}\n'


def extract_archive(archive, folder, archive_format='auto'):
    """Unpack a tar (any compression) or zip archive into ``folder``, safely; returns ``folder``.

    Members must be plain files or directories with relative names that stay inside
    ``folder``; links, devices and ``..`` are refused. Unpacking happens in a temporary folder
    beside ``folder`` (``.<folder>.<host>-<pid>-<random>.extract``, removed on failure, and by
    the next extraction if the process was killed). Then a new ``folder`` is renamed into
    place; into an existing one the archive's entries are merged: files and folders the archive
    does not hold are never removed (an archive member replaces the file of the same name).
    An archive already extracted into ``folder`` and unchanged since is not unpacked again.
    ``archive_format`` is 'auto' (tar, then zip), 'tar', 'zip' or a list of these.
    """
    archive, folder = os.fspath(archive), os.path.abspath(os.fspath(folder))
    formats = ['tar', 'zip'] if archive_format == 'auto' else [archive_format] if isinstance(archive_format, str) \
        else list(archive_format or [])
    unknown = [f for f in formats if f not in _FORMATS]
    if unknown:
        raise ValueError(f"archive_format must be 'auto', 'tar', 'zip' or a list of these, got {archive_format!r}.")
    marker = _marker(folder)
    try:
        if os.path.isdir(folder) and open(marker).read() == _archive_stamp(archive):
            return folder
    except OSError:
        pass
    kind = next((f for f in formats if _FORMATS[f](archive)), None)
    if kind is None:
        raise DatasetError(f'{archive} is not a {" or ".join(formats) or "known"} archive (or it is truncated); '
                           'it was not extracted. Delete it and load again to download a fresh copy.')
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise DatasetError(f'Cannot extract {archive} into {folder}: a file of that name is in the way. Move it '
                           'away and try again.')
    atomic.remove_stale_temporaries(folder, _EXTRACT_SUFFIX, directories=True)
    tmp = atomic.temp_name(folder, _EXTRACT_SUFFIX)
    os.mkdir(tmp)
    try:
        (_extract_tar if kind == 'tar' else _extract_zip)(archive, tmp)
        if os.path.isdir(folder):
            _merge(tmp, folder, archive)
        else:
            os.replace(tmp, folder)
        atomic.write_bytes(marker, _archive_stamp(archive).encode())
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DatasetError(f'{archive} could not be extracted ({type(exc).__name__}: {exc}); it is probably '
                           'truncated or corrupt. Delete it and load again to download a fresh copy.') from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _merge(source, destination, archive):
    """Move the entries of ``source`` into ``destination``, folder by folder, removing nothing."""
    for entry in os.listdir(source):
        src, dst = os.path.join(source, entry), os.path.join(destination, entry)
        if os.path.isdir(src) and os.path.isdir(dst) and not os.path.islink(dst):
            _merge(src, dst, archive)
        elif not os.path.lexists(dst):
            os.replace(src, dst)
        elif os.path.isfile(src) and os.path.isfile(dst) and not os.path.islink(dst):
            os.replace(src, dst)
        else:
            raise DatasetError(f'{archive} holds {entry!r} as a {"folder" if os.path.isdir(src) else "file"}, but '
                               f'{dst} is {"a link" if os.path.islink(dst) else "of another kind"}; nothing was '
                               'removed. Move it away and extract again.')


def _extract_tar(archive, into):
    with tarfile.open(archive, 'r:*') as tar:
        for member in tar:
            _check_member_name(archive, member.name)
            if not (member.isfile() or member.isdir()):
                raise DatasetError(f'{archive} holds {member.name!r}, which is a link or special file; '
                                   'refusing to extract it.')
            _write_member(into, member.name, member.isdir(), lambda: tar.extractfile(member))


def _extract_zip(archive, into):
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            _check_member_name(archive, info.filename)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DatasetError(f'{archive} holds {info.filename!r}, which is a symbolic link; refusing to '
                                   'extract it.')
        for info in zf.infolist():
            _write_member(into, info.filename, info.is_dir(), lambda: zf.open(info))


def _write_member(into, name, is_dir, open_source):
    """Create the directory ``name`` under ``into``, or copy the member ``open_source()`` there."""
    target = os.path.join(into, name)
    if is_dir:
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open_source() as src, open(target, 'wb') as dst:
        shutil.copyfileobj(src, dst)
