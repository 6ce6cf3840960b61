"""Files that are either the old version or the complete new one, never half written."""
import contextlib
import os
import tempfile

READABLE = 0o644  # mkstemp creates private files; what minidl writes is readable like any file


@contextlib.contextmanager
def atomic_path(path, suffix='.tmp'):
    """Yield a temporary path in ``path``'s folder to write to. When the block succeeds it is made
    readable (0644) and renamed onto ``path`` in one step; when it raises, it is deleted and
    ``path`` is untouched."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{os.path.basename(path)}.', suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, READABLE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
