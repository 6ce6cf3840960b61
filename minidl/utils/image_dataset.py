"""``image_dataset_from_directory``: a folder of images, one sub-folder per class, as batches that
``fit`` takes, with Keras 3's arguments and file order.

    train, val = image_dataset_from_directory('flowers/', validation_split=0.2, subset='both',
                                              seed=1, image_size=(180, 180), batch_size=32)
    model.fit(train, validation_data=val, epochs=10)

The files are listed as Keras lists them (class folders in sorted order, files sorted within
each, recursively), shuffled once with ``np.random.RandomState(seed)`` as Keras does, and split
with the last ``validation_split`` of the files as the validation set, so the same ``seed``
gives the same two sets of files as Keras. The result is a batch sequence (``len()`` batches,
``ds[i]`` the i-th ``(images, labels)`` batch, new batch order each epoch when ``shuffle``),
not a ``tf.data.Dataset``: images are decoded by Pillow (imported when first needed) and resized
with TensorFlow's resize rules (``minidl.functional.image``), to float32 arrays.
"""
import math
import os

import numpy as np

from .. import backend
from ..functional.image import aspect_crop_box, interpolation_matrix
from .sequence import PyDataset

ALLOWLIST_FORMATS = ('.bmp', '.gif', '.jpeg', '.jpg', '.png')
_CHANNELS = {'rgb': 3, 'rgba': 4, 'grayscale': 1}
_INTERPOLATIONS = ('bilinear', 'nearest')


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """(file paths, labels, class names) of the images under ``directory``, in Keras' order."""
    # the folder walk is the one ImageDataGenerator.flow_from_directory uses (preprocessing, the
    # same floor: imported when called)
    from ..preprocessing.image import _class_folders, _iter_valid_files
    if labels == 'inferred':
        subdirs = _class_folders(directory, class_names, 'image_dataset_from_directory', skip_hidden=True)
    else:
        if not os.path.isdir(directory):
            raise ValueError(f'image_dataset_from_directory: {directory!r} is not a folder.')
        subdirs = ['']
    class_names = subdirs
    class_index = {name: i for i, name in enumerate(class_names)}
    filenames, found = [], []
    for subdir in subdirs:
        folder = os.path.join(directory, subdir)
        for root, name in _iter_valid_files(folder, formats, follow_links):
            relative = os.path.relpath(os.path.join(root, name), folder)
            filenames.append(os.path.join(subdir, relative) if subdir else relative)
            found.append(class_index[subdir])
    if labels == 'inferred':
        labels = np.asarray(found, dtype=np.int32)
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError(f'image_dataset_from_directory: {len(labels)} labels were given but {directory!r} holds '
                             f'{len(filenames)} image files; give one label per file, in the sorted order of the '
                             'file paths.')
        class_names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels)
    if verbose:
        if labels is None:
            print(f'Found {len(filenames)} files.')
        else:
            print(f'Found {len(filenames)} files belonging to {len(class_names)} classes.')
    paths = [os.path.join(directory, f) for f in filenames]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, class_names


def _split(paths, labels, validation_split, subset, verbose):
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    if subset == 'training':
        if verbose:
            print(f'Using {len(paths) - n_val} files for training.')
        return paths[:len(paths) - n_val], None if labels is None else labels[:len(labels) - n_val]
    if verbose:
        print(f'Using {n_val} files for validation.')
    return paths[len(paths) - n_val:], None if labels is None else labels[len(labels) - n_val:]


def load_image(path, image_size, num_channels, interpolation='bilinear', crop_to_aspect_ratio=False,
               pad_to_aspect_ratio=False):
    """One image file as a float32 array (height, width, channels), resized as Keras'
    ``image_dataset_from_directory`` does (TensorFlow's ``resize``, ``smart_resize`` for
    ``crop_to_aspect_ratio``, ``resize_with_pad`` for ``pad_to_aspect_ratio``)."""
    from ..preprocessing.image import pil_image
    image = pil_image()
    try:
        with image.open(path) as img:
            mode = {1: 'L', 3: 'RGB', 4: 'RGBA'}[num_channels]
            pixels = np.asarray(img.convert(mode) if img.mode != mode else img, dtype=np.float32)
    except OSError as exc:
        raise OSError(f'image_dataset_from_directory: could not decode {path!r}: {exc}') from None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width = pixels.shape[:2]
    out_h, out_w = image_size
    if crop_to_aspect_ratio:
        top, left, crop_h, crop_w = aspect_crop_box(height, width, out_h, out_w)
        pixels = pixels[top:top + crop_h, left:left + crop_w]
    elif pad_to_aspect_ratio:
        return _resize_with_pad(pixels, out_h, out_w, interpolation)
    return _resize(pixels, out_h, out_w, interpolation)


def _resize(pixels, out_h, out_w, interpolation):
    height, width = pixels.shape[:2]
    if (height, width) == (out_h, out_w):
        return pixels
    a_h = interpolation_matrix(height, out_h, interpolation).astype(np.float32)
    a_w = interpolation_matrix(width, out_w, interpolation).astype(np.float32)
    return np.einsum('oh,hwc,pw->opc', a_h, pixels, a_w, optimize=True).astype(np.float32)


def _resize_with_pad(pixels, out_h, out_w, interpolation):
    """TensorFlow's ``resize_with_pad``: scale to fit inside (out_h, out_w), keeping the aspect
    ratio, then pad with zeros; sizes and offsets computed in float32 as TensorFlow does (the
    offsets from the unrounded size, so the image may sit one pixel off centre)."""
    height, width = pixels.shape[:2]
    f32 = np.float32
    ratio = max(f32(width) / f32(out_w), f32(height) / f32(out_h))
    new_h_f, new_w_f = f32(height) / ratio, f32(width) / ratio
    new_h, new_w = int(math.floor(new_h_f)), int(math.floor(new_w_f))
    inner = _resize(pixels, max(new_h, 1), max(new_w, 1), interpolation)
    top = max(0, int(math.floor((f32(out_h) - new_h_f) / f32(2))))
    left = max(0, int(math.floor((f32(out_w) - new_w_f) / f32(2))))
    out = np.zeros((out_h, out_w, pixels.shape[2]), np.float32)
    out[top:top + inner.shape[0], left:left + inner.shape[1]] = inner
    return out


class ImageDataset(PyDataset):
    """Batches of ``(images, labels)`` (or images alone) read from files; what
    ``image_dataset_from_directory`` returns. ``len(ds)`` batches; ``ds[i]`` decodes batch i;
    iterating gives one pass; ``on_epoch_end()`` (called by ``fit``) reshuffles the batch order
    when ``shuffle``. ``class_names`` and ``file_paths`` are Keras' attributes."""

    def __init__(self, file_paths, labels, label_mode, class_names, image_size, num_channels, batch_size,
                 shuffle, seed, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, data_format):
        super().__init__()
        self.file_paths = list(file_paths)
        self.labels = labels
        self.label_mode = label_mode
        self.class_names = class_names
        self.image_size = tuple(image_size)
        self.num_channels = num_channels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.interpolation = interpolation
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = crop_to_aspect_ratio, pad_to_aspect_ratio
        self.data_format = data_format
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(self.file_paths)) if shuffle else np.arange(len(self.file_paths))

    def __len__(self):
        if self.batch_size is None:
            return len(self.file_paths)
        return -(-len(self.file_paths) // self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f'This image dataset has {len(self)} batches; batch {index} does not exist.')
        index %= len(self)
        size = self.batch_size or 1
        pick = self._order[index * size:(index + 1) * size]
        x = np.stack([load_image(self.file_paths[i], self.image_size, self.num_channels, self.interpolation,
                                 self.crop_to_aspect_ratio, self.pad_to_aspect_ratio) for i in pick])
        if self.data_format == 'channels_first':
            x = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
        if self.batch_size is None:
            x = x[0]
        x = backend.as_array(x)
        if self.label_mode is None:
            return x
        y = self._labels(pick)
        return x, backend.as_array(y[0] if self.batch_size is None else y)

    def _labels(self, pick):
        raw = self.labels[pick]
        if self.label_mode == 'int':
            return raw.astype(np.int32)
        if self.label_mode == 'binary':
            return raw.astype(np.float32).reshape(-1, 1)
        one_hot = np.zeros((len(pick), len(self.class_names)), np.float32)
        one_hot[np.arange(len(pick)), raw] = 1
        return one_hot

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(len(self.file_paths))

    def __repr__(self):
        what = 'images' if self.label_mode is None else f'(images, {self.label_mode} labels)'
        return (f'<ImageDataset of {len(self.file_paths)} files, {len(self)} batches of {what}, image_size='
                f'{self.image_size}, class_names={self.class_names}>')


def image_dataset_from_directory(directory, labels='inferred', label_mode='int', class_names=None, color_mode='rgb',
                                 batch_size=32, image_size=(256, 256), shuffle=True, seed=None, validation_split=None,
                                 subset=None, interpolation='bilinear', follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 format='tf', verbose=True):
    """Batches of images from ``directory/<class>/<images>`` (Keras 3's arguments).

    ``labels``: 'inferred' (from the sub-folders, ``class_names`` choosing and ordering them), a
    list (one label per file, in sorted path order) or None (images only). ``label_mode``: 'int'
    (int32 class indices), 'categorical' (one-hot float32), 'binary' (float32, shape (n, 1), two
    classes) or None. ``color_mode``: 'rgb', 'rgba' or 'grayscale'. ``image_size``: every image
    is resized to it (``interpolation`` 'bilinear' or 'nearest'; ``crop_to_aspect_ratio`` /
    ``pad_to_aspect_ratio`` keep the aspect ratio). ``validation_split`` with ``subset``
    'training', 'validation' or 'both' (a list [train, val]); the split is reproducible only with
    ``seed`` when shuffling, as Keras requires. ``batch_size=None`` yields single images.
    ``format`` is accepted for Keras compatibility; minidl always returns an ``ImageDataset`` (a
    ``minidl.utils.PyDataset``).
    """
    where = 'image_dataset_from_directory'
    if labels not in ('inferred', None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(f"{where}: labels must be 'inferred', None, or a list with one label per image file; got "
                             f'{labels!r}.')
        if class_names:
            raise ValueError(f"{where}: class_names can only be given with labels='inferred'.")
    if label_mode not in ('int', 'categorical', 'binary', None):
        raise ValueError(f"{where}: label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}.")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if color_mode not in _CHANNELS:
        raise ValueError(f"{where}: color_mode must be 'rgb', 'rgba' or 'grayscale', got {color_mode!r}.")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError(f'{where}: image_size must be (height, width), got {image_size!r}.')
    interpolation = str(interpolation).lower()
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f'{where}: interpolation must be one of {_INTERPOLATIONS} in minidl, got {interpolation!r}.')
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(f'{where}: give crop_to_aspect_ratio or pad_to_aspect_ratio, not both.')
    if format not in ('tf', 'grain'):
        raise ValueError(f"{where}: format must be 'tf' or 'grain', got {format!r}.")
    if data_format not in (None, 'channels_last', 'channels_first'):
        raise ValueError(f"{where}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f'{where}: validation_split must be between 0 and 1, got {validation_split}.')
    if bool(validation_split) != bool(subset):
        raise ValueError(f'{where}: give validation_split and subset together (subset is {subset!r}, '
                         f'validation_split is {validation_split!r}).')
    if subset not in ('training', 'validation', 'both', None):
        raise ValueError(f"{where}: subset must be 'training', 'validation' or 'both', got {subset!r}.")
    if validation_split and shuffle and seed is None:
        raise ValueError(f'{where}: with validation_split and shuffle=True give a seed, so that the training and '
                         'validation files do not overlap.')
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = index_directory(directory, labels, ALLOWLIST_FORMATS, class_names, shuffle, seed,
                                                 follow_links, verbose)
    if label_mode == 'binary' and len(class_names) != 2:
        raise ValueError(f"{where}: label_mode='binary' needs exactly 2 classes, found {len(class_names)}: "
                         f'{class_names}.')
    common = dict(label_mode=label_mode, class_names=class_names, image_size=image_size,
                  num_channels=_CHANNELS[color_mode], batch_size=batch_size, seed=seed, interpolation=interpolation,
                  crop_to_aspect_ratio=crop_to_aspect_ratio, pad_to_aspect_ratio=pad_to_aspect_ratio,
                  data_format=data_format or 'channels_last')
    subsets = ['training', 'validation'] if subset == 'both' else [subset]
    datasets = []
    for part in subsets:
        part_paths, part_labels = _split(paths, labels, validation_split, part, verbose)
        if not part_paths:
            raise ValueError(f'{where}: no {part + " " if part else ""}images found in {directory!r} (formats: '
                             f'{", ".join(ALLOWLIST_FORMATS)}).')
        datasets.append(ImageDataset(part_paths, part_labels, shuffle=shuffle and part != 'validation'
                                     if subset == 'both' else shuffle, **common))
    return datasets if subset == 'both' else datasets[0]
