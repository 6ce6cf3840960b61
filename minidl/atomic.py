"""Files that are either the old version or the complete new one, never half written.

Every file minidl writes (weights, downloads, caches) goes through ``atomic_path`` or
``write_bytes``:

1. The bytes go to a temporary file in the target's own folder, named so that it is
   recognisable as minidl's: ``.<name>.<host>-<pid>-<random><suffix>`` (suffix ``.tmp`` for
   saves, ``.part`` for downloads).
2. The temporary file is flushed to the disk (``fsync``), given the mode of the file it
   replaces (a new file: ``0666`` less the umask, as ``open()`` would), and renamed onto the
   target in one step (``os.replace``); then the folder is ``fsync``-ed so the rename itself
   survives a power cut.
3. A symlink is written through: its target file is replaced, the link stays a link.
4. On any failure the temporary file is removed and the target is untouched. A process
   killed mid-write cannot clean up, so every write first removes the stale temporaries of
   the same target: those whose process (on this host) is gone, and any older than a day.
"""
import contextlib
import errno
import os
import re
import secrets
import shutil
import socket
import time

STALE_AGE_S = 24 * 3600  # temporaries of another host (or of an old minidl) older than this are removed
# Failures of the file system itself (as opposed to, say, a network error inside the block).
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}


def _host():
    name = re.sub(r'[^A-Za-z0-9]', '_', socket.gethostname() or 'host')
    return name[:32] or 'host'


def resolve(path):
    """The file a write to ``path`` must replace: ``path`` itself, or the file its symlink chain
    points to (a link to a missing file resolves to the missing file's path)."""
    path = os.path.abspath(os.fspath(path))
    return os.path.realpath(path) if os.path.islink(path) else path


def _temp_pattern(target, suffix):
    base = re.escape(os.path.basename(target))
    return re.compile(rf'^\.{base}\.(?:([A-Za-z0-9_]{{1,32}})-(\d+)-[0-9a-f]{{8}}|([a-z0-9_]{{8}})){re.escape(suffix)}$')


def temp_name(target, suffix='.tmp'):
    """A fresh temporary path for ``target`` in its folder (see the module docstring)."""
    folder, base = os.path.split(target)
    return os.path.join(folder, f'.{base}.{_host()}-{os.getpid()}-{secrets.token_hex(4)}{suffix}')


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (owned by someone else), or we cannot tell: keep its file
    return True


def remove_stale_temporaries(target, suffix='.tmp', directories=False):
    """Delete leftovers of earlier, interrupted writes of ``target``; returns their paths.

    A temporary named by this host is stale when its process no longer runs; one from another
    host, or an unnamed one from an older minidl (``.<name>.XXXXXXXX<suffix>``), when it is
    older than ``STALE_AGE_S``. A temporary of a write still in progress is never touched.
    With ``directories=True`` the temporaries are folders (an archive being unpacked)."""
    folder = os.path.dirname(target)
    pattern = _temp_pattern(target, suffix)
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    host, now = _host(), time.time()
    for entry in entries:
        match = pattern.match(entry)
        if not match:
            continue
        path = os.path.join(folder, entry)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if os.path.islink(path) or not (os.path.isdir(path) if directories else os.path.isfile(path)):
            continue
        owner_host, pid = match.group(1), match.group(2)
        if owner_host == host:
            stale = not _process_alive(int(pid))
        else:
            stale = now - info.st_mtime > STALE_AGE_S
        if stale:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(path) if directories else os.remove(path)
                removed.append(path)
    return removed


def _umask():
    """The process umask, read without changing it where Linux allows."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _final_mode(target):
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _fsync_path(path, directory=False):
    flags = os.O_RDONLY | (getattr(os, 'O_DIRECTORY', 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:
            return  # some platforms cannot open folders; the rename is then as durable as they allow
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def _with_user_path(exc, path, what):
    """An OSError of the same errno whose message names the user's ``path``."""
    reason = exc.strerror or str(exc)
    kind = type(exc) if type(exc).__init__ is OSError.__init__ else OSError
    return kind(exc.errno, f'{what} {path} failed: {reason}. The previous file (if any) is unchanged and no '
                           'temporary file was left.', path)


def _check_folder(path, target):
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f'Cannot write {path}: the folder {folder} does not exist. '
                                              'Create it first (os.makedirs(folder, exist_ok=True)).', path)


@contextlib.contextmanager
def atomic_path(path, suffix='.tmp', what='Writing'):
    """Yield a temporary path next to ``path``'s real target to write to. When the block
    succeeds the file is synced, given the right mode and renamed onto the target; when it
    raises, it is deleted and the target is untouched. OSErrors name ``path``, not the
    temporary file. ``what`` starts those messages ('Saving weights to', 'Downloading')."""
    user_path = os.fspath(path)
    target = resolve(user_path)
    _check_folder(user_path, target)
    remove_stale_temporaries(target, suffix)
    tmp = temp_name(target, suffix)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise FileNotFoundError(errno.ENOENT, f'{what} {user_path}: nothing was written to the temporary file.',
                                    user_path)
        _fsync_path(tmp)
        os.chmod(tmp, _final_mode(target))
        os.replace(tmp, target)
        _fsync_path(os.path.dirname(target), directory=True)
    except OSError as exc:
        _discard(tmp)
        if exc.filename == tmp or (exc.errno in _DISK_ERRNOS and exc.filename != user_path):
            raise _with_user_path(exc, user_path, what) from exc
        raise  # a network error, or one that already names the user's file
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp):
    with contextlib.suppress(FileNotFoundError):
        os.remove(tmp)


def write_bytes(path, data, suffix='.tmp', what='Writing'):
    """Write ``data`` (bytes, or an iterable of bytes chunks) to ``path`` atomically (see
    ``atomic_path``). A full disk is a clean ``OSError`` naming ``path``; nothing is left behind."""
    chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    with atomic_path(path, suffix=suffix, what=what) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for chunk in chunks:
                view = memoryview(chunk).cast('B')
                while view:
                    written = os.write(fd, view[:1 << 24])
                    view = view[written:]
        finally:
            os.close(fd)
    return os.fspath(path)
