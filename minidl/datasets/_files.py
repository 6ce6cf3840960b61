"""Where dataset files live and how they get there: cache directories, checksums, downloads.

A dataset file is looked for, in this order, in a directory the caller names (the ``path``
argument of every ``load_data``), in ``$MINIDL_DATA/<dataset>/`` and in
``~/.minidl/datasets/<dataset>/``; if it is in none of them it is downloaded from its official
URL into the first cache directory. ``MINIDL_OFFLINE=1`` turns downloads off.

A download goes to a temporary name in the target directory, is checked against its sha256
(or md5) and only then renamed into place, so a partial or corrupt download never stays in the
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
import urllib.request
import warnings
import zipfile

from ..atomic import atomic_path

ENV_DATA = 'MINIDL_DATA'
ENV_OFFLINE = 'MINIDL_OFFLINE'
DOWNLOAD_TIMEOUT_S = 30
_CHUNK = 1 << 16


class DatasetError(RuntimeError):
    """A dataset file exists but is corrupt, truncated or not in the expected format."""


class ChecksumError(DatasetError):
    """A downloaded file does not have the expected checksum (it was removed)."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is in no searched directory and could not be downloaded.

    Attributes: ``fname``, ``dirs`` (searched), ``origin`` (URL or None), ``reason``.
    """

    def __init__(self, fname, dirs, origin, reason):
        super().__init__(not_found_message(fname, dirs, origin, reason))
        self.fname, self.dirs, self.origin, self.reason = fname, list(dirs), origin, reason

    def __str__(self):
        return self.args[0]

    def __reduce__(self):
        return type(self), (self.fname, self.dirs, self.origin, self.reason)


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


def _algorithm(expected):
    """'md5' for a 32-digit hash, 'sha256' for a 64-digit one (Keras' 'auto')."""
    if len(expected) == 32:
        return 'md5'
    if len(expected) == 64:
        return 'sha256'
    raise ValueError(f'A file hash must be an md5 (32 hex digits) or sha256 (64 hex digits), got {expected!r}.')


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


def hash_matches(path, expected):
    """Whether ``path`` has the md5 or sha256 ``expected``."""
    return hash_file(path, _algorithm(expected)) == expected.lower()


def _warn_if_unofficial(path, expected):
    if expected and not hash_matches(path, expected):
        warnings.warn(f'{path} is not the official file (its {_algorithm(expected)} differs from '
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


def get_file(fname, origin=None, file_hash=None, cache_subdir='', cache_dir=None,
             extract=False, force_download=False, search=None, validate=None):
    """Path of ``fname``, taken from the cache or downloaded from ``origin`` into it.

    Looks in the directories ``search`` (extra, first), then ``<cache_dir>/<cache_subdir>`` if
    ``cache_dir`` is given, else ``$MINIDL_DATA/<cache_subdir>`` and
    ``~/.minidl/datasets/<cache_subdir>``. A cached file whose checksum differs from
    ``file_hash`` (md5 or sha256) is used with a warning; a download must match it or it is
    deleted and ``ChecksumError`` is raised. With ``extract=True`` a tar or zip archive is
    unpacked (safely: no member may leave the target folder) next to itself and the folder
    is returned instead. Raises ``DatasetNotFoundError`` when the file is nowhere and cannot
    be downloaded.
    """
    targets = [os.path.join(cache_dir, cache_subdir)] if cache_dir else cache_dirs(cache_subdir)
    dirs = _unique(list(search or []) + targets)
    found = None if force_download else find_file(fname, dirs)
    if found:
        _warn_if_unofficial(found, file_hash)
    else:
        found = os.path.join(targets[0], fname)
        _download_or_explain(fname, origin, found, file_hash, dirs, validate)
    if extract:
        folder = os.path.dirname(found)
        extract_archive(found, folder)
        return folder
    return found


def _download_or_explain(fname, origin, target, file_hash, dirs, validate):
    reason = None
    if not origin:
        reason = 'no download address is known for it'
    elif offline():
        reason = f'downloads are turned off ({ENV_OFFLINE} is set)'
    else:
        try:
            download(origin, target, file_hash, validate=validate)
        except _NETWORK_ERRORS as exc:
            reason = f'downloading {origin} failed: {_describe(exc)}'
    if reason:
        raise DatasetNotFoundError(fname, dirs, origin, reason)


def not_found_message(fname, dirs, origin, reason):
    """The error text for a file that is nowhere: what, where we looked, where it comes from."""
    looked = '\n'.join(f'  {d}' for d in dirs)
    source = f' from {origin}' if origin else ''
    return (f'{fname!r} was not found in any of these directories:\n{looked}\nand {reason}.\n'
            f'Download it{source} into one of them, or set {ENV_DATA} to a folder whose layout is '
            f'<{ENV_DATA}>/<dataset>/{fname}.')


_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, socket.timeout, ConnectionError,
                   TimeoutError)


def _describe(exc):
    if isinstance(exc, urllib.error.HTTPError):
        return f'the server answered {exc.code} {exc.reason}'
    if isinstance(exc, urllib.error.URLError):
        return f'{exc.reason}'
    return f'{type(exc).__name__}: {exc}'


def download(origin, target, file_hash=None, timeout=DOWNLOAD_TIMEOUT_S, validate=None):
    """Download ``origin`` to ``target`` through a temporary file, check it, rename it into place.

    Network failures and short bodies propagate as urllib/http errors; a hash mismatch raises
    ``ChecksumError``, and ``validate(temporary_path)`` may raise ``DatasetError``. Nothing is
    left at ``target`` or next to it on failure.
    """
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    digest = hashlib.new(_algorithm(file_hash)) if file_hash else None
    with atomic_path(target, suffix='.part') as tmp:
        request = urllib.request.Request(origin, headers={'User-Agent': 'minidl'})
        with open(tmp, 'wb') as out, urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get('Content-Length') or 0)
            progress = _Progress(origin, total)
            received = 0
            for chunk in iter(lambda: response.read(_CHUNK), b''):
                out.write(chunk)
                if digest:
                    digest.update(chunk)
                received += len(chunk)
                progress.update(received)
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


def extract_archive(archive, folder):
    """Unpack a tar (any compression) or zip archive into ``folder``, safely.

    Members must be plain files or directories with relative names that stay inside
    ``folder``; links, devices and ``..`` are refused. Unpacking happens in a temporary folder
    next to the target; finished top-level entries are then moved into place.
    """
    os.makedirs(folder, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.extract-', dir=folder)
    try:
        if tarfile.is_tarfile(archive):
            _extract_tar(archive, tmp)
        elif zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp)
        else:
            raise DatasetError(f'{archive} is neither a tar nor a zip archive (or it is truncated).')
        for entry in os.listdir(tmp):
            destination = os.path.join(folder, entry)
            if os.path.isdir(destination) and not os.path.islink(destination):
                shutil.rmtree(destination)
            elif os.path.lexists(destination):
                os.remove(destination)
            os.replace(os.path.join(tmp, entry), destination)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DatasetError(f'{archive} could not be extracted ({type(exc).__name__}: {exc}); it is probably '
                           'truncated or corrupt. Delete it and load again to download a fresh copy.') from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


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
