"""Lay out the offline CIFAR-10 JPEGs as class folders, the layout ``image_dataset_from_directory``
reads: ``<out>/train/<class>/NNNN.jpg`` (50,000 images) and ``<out>/test/<class>/NNNN.jpg`` (10,000).

The source is ``cifar10-jpeg.tar.gz`` (``../shared/datasets/cifar10/`` beside the repository by
default). Members are checked before extraction (plain files under train/ or test/, a known class,
a .jpg name: nothing is written outside ``<out>``), written to a temporary folder beside ``<out>``
and renamed into place at the end, so an interrupted run leaves no half-made layout (at most a
hidden ``.<name>.*`` temporary folder, after a hard kill). ``<out>/.layout.json`` records what was
laid out (the per-class cap and the counts); a rerun with the same cap does nothing, a rerun
with another cap stops with an error instead of reusing the wrong subset, and two runs at once
both end with the one complete layout.

    python examples/cifar10_to_folders.py                    # -> ~/.minidl/datasets/cifar10-folders
    python examples/cifar10_to_folders.py --out /tmp/cifar --per-class 100
"""
import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile

CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, '..', '..', 'shared', 'datasets', 'cifar10', 'cifar10-jpeg.tar.gz')


def default_out():
    root = os.environ.get('MINIDL_DATA') or os.path.join(os.path.expanduser('~'), '.minidl', 'datasets')
    return os.path.join(root, 'cifar10-folders')


def _wanted(member, per_class, taken):
    """The member's relative path if it is one of the images to lay out, else None."""
    parts = member.name.split('/')
    if not member.isfile() or len(parts) != 3 or parts[0] not in ('train', 'test') or parts[1] not in CLASSES \
            or not parts[2].endswith('.jpg') or parts[2].startswith('.'):
        return None
    key = (parts[0], parts[1])
    if per_class is not None and taken.get(key, 0) >= per_class:
        return None
    taken[key] = taken.get(key, 0) + 1
    return os.path.join(*parts)


MARKER = '.layout.json'


def _existing(out, per_class):
    """True if ``out`` already holds the layout asked for; raises if it holds a different one."""
    if not (os.path.isdir(os.path.join(out, 'train')) and os.path.isdir(os.path.join(out, 'test'))):
        return False
    marker = os.path.join(out, MARKER)
    if not os.path.isfile(marker):  # laid out by an older version of this script (no record): trust it
        return True
    with open(marker) as f:
        made = json.load(f)
    if made.get('per_class') != per_class:
        raise ValueError(f'{out} holds a layout made with --per-class {made.get("per_class")}, not '
                         f'{per_class}; pass another --out, or remove {out} to lay it out again.')
    return True


def layout(src=DEFAULT_SRC, out=None, per_class=None, verbose=True):
    """Extract the JPEGs of ``src`` into ``out``/{train,test}/<class>/ (at most ``per_class`` images
    per class and split); returns ``out``. An existing layout made with the same ``per_class`` is
    left as it is (one made with another raises ValueError)."""
    out = os.path.abspath(out or default_out())
    if _existing(out, per_class):
        if verbose:
            print(f'{out} already holds the class folders')
        return out
    if not os.path.isfile(src):
        raise FileNotFoundError(f'CIFAR-10 JPEG archive not found at {os.path.abspath(src)}; pass --src '
                                '(the file is cifar10-jpeg.tar.gz of the offline datasets).')
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{os.path.basename(out)}.', dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the layout is an ordinary folder
    taken = {}
    try:
        with tarfile.open(src, 'r:gz') as archive:
            for member in archive:
                relative = _wanted(member, per_class, taken)
                if relative is None:
                    continue
                target = os.path.join(tmp, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.extractfile(member) as data, open(target, 'wb') as f:
                    shutil.copyfileobj(data, f)
        if not taken:
            raise ValueError(f'{src} holds no train/<class>/*.jpg or test/<class>/*.jpg images.')
        counts = {split: sum(n for (s, _), n in taken.items() if s == split) for split in ('train', 'test')}
        with open(os.path.join(tmp, MARKER), 'w') as f:
            json.dump({'source': os.path.basename(src), 'per_class': per_class, 'images': counts}, f)
        if os.path.exists(out):
            _merge_into(tmp, out)
        else:
            try:
                os.replace(tmp, out)
            except OSError:  # another run renamed its complete layout into place first
                if not _existing(out, per_class):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if verbose:
        print(f'laid out {counts["train"]} training and {counts["test"]} test images in {out}')
    return out


def _merge_into(tmp, out):
    """``out`` exists but lacks a split (or is an empty folder): move each missing split in (one
    rename each), then the record, then drop the temporary folder."""
    for split in ('train', 'test'):
        if not os.path.exists(os.path.join(out, split)) and os.path.exists(os.path.join(tmp, split)):
            os.replace(os.path.join(tmp, split), os.path.join(out, split))
    os.replace(os.path.join(tmp, MARKER), os.path.join(out, MARKER))
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--src', default=DEFAULT_SRC, help='cifar10-jpeg.tar.gz (default: the offline copy)')
    p.add_argument('--out', default=None, help='where to lay the folders out (default $MINIDL_DATA or '
                                               '~/.minidl/datasets, then cifar10-folders)')
    p.add_argument('--per-class', type=int, default=None, help='at most this many images per class and split')
    args = p.parse_args()
    try:
        layout(args.src, args.out, args.per_class)
    except (FileNotFoundError, ValueError) as exc:
        sys.exit(f'error: {exc}')


if __name__ == '__main__':
    main()
