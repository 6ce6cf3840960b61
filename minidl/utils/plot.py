"""Training curves and image grids, drawn with matplotlib (imported only when called).

The figures are built with matplotlib's object API on the Agg canvas, so they work without a
display and never change the global pyplot backend. Each function returns the ``Figure``
(notebooks show it) and, given a ``path``, saves it there atomically.
"""
import math
import os

import numpy as np

from ..atomic import atomic_path
from ..backend import to_numpy


def _new_figure(figsize):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # matplotlib is an optional dependency
        raise ImportError(f'minidl.utils.plot needs matplotlib ({exc}): pip install matplotlib') from None
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path):
    """Write the figure to ``path`` through a temporary file in the same folder."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    extension = os.path.splitext(path)[1].lstrip('.').lower() or 'png'
    with atomic_path(path, suffix=f'.{extension}') as tmp:
        figure.savefig(tmp, format=extension, dpi=100, bbox_inches='tight')


def plot_history(history, path=None, metrics=None, title=None):
    """One panel per quantity of a training history: ``loss`` and each metric, with the
    training curve and, when present, the ``val_`` curve, against the epoch number.

    ``history`` is a ``History`` (its ``.history`` dict) or a plain ``{name: [values]}`` dict;
    ``metrics`` restricts the panels to these names.
    """
    logs = getattr(history, 'history', history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError('plot_history needs a History object or a non-empty dict of {name: [values per epoch]}.')
    names = [k for k in logs if not k.startswith('val_')]
    names += [k[4:] for k in logs if k.startswith('val_') and k[4:] not in logs]
    if metrics is not None:
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f'plot_history: {unknown} not in the history, which has {names}.')
        names = list(metrics)
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    figure = _new_figure((5 * cols, 3.6 * rows))
    for i, name in enumerate(names):
        ax = figure.add_subplot(rows, cols, i + 1)
        for key, label in ((name, 'train'), (f'val_{name}', 'validation')):
            if key in logs:
                values = np.asarray([float(to_numpy(v)) for v in logs[key]])
                ax.plot(np.arange(1, len(values) + 1), values, marker='o' if len(values) < 30 else None,
                        markersize=3, label=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel('epoch')
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        _save(figure, path)
    return figure


def _as_images(batch):
    """(n, h, w) or (n, h, w, c) images from a batch; flat square images are reshaped."""
    batch = to_numpy(batch)
    if batch.ndim == 2:
        side = math.isqrt(batch.shape[1])
        if side * side != batch.shape[1]:
            raise ValueError(f'image_grid: flat images of length {batch.shape[1]} are not square; '
                             'pass them shaped (n, height, width[, channels]).')
        batch = batch.reshape(len(batch), side, side)
    if batch.ndim == 4 and batch.shape[-1] == 1:
        batch = batch[..., 0]
    if batch.ndim not in (3, 4) or (batch.ndim == 4 and batch.shape[-1] not in (3, 4)):
        raise ValueError(f'image_grid: images must be shaped (n, h, w), (n, h, w, 1), (n, h, w, 3) or '
                         f'(n, h*w), got {batch.shape}.')
    return batch


def _display_range(image):
    """Values as matplotlib should show them: uint8 as is, [0, 1] floats as is, else min-max scaled."""
    if image.dtype == np.uint8:
        return image, 0, 255
    image = image.astype(np.float64)
    low, high = float(image.min()), float(image.max())
    if low >= 0 and high <= 1:
        return image, 0, 1
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return scaled, 0, 1


def image_grid(images, path=None, titles=None, ncols=None, cmap='gray'):
    """A grid of images (autoencoder outputs, augmentation previews).

    ``images`` is one array of images shaped ``(n, h, w)``, ``(n, h, w, 1|3)`` or ``(n, h*w)``
    (square), drawn ``ncols`` per row (default up to 10); or a list/tuple of such arrays of
    equal length, drawn one array per row (e.g. originals, noisy, denoised). ``titles`` has one
    entry per image, or one per row when a list is given.
    """
    if isinstance(images, (list, tuple)):
        rows = [_as_images(b) for b in images]
        if len({len(r) for r in rows}) != 1:
            raise ValueError(f'image_grid: the batches have different lengths {[len(r) for r in rows]}.')
        ncols = len(rows[0])
        grid = [img for row in rows for img in row]
        row_titles = titles if titles is not None and len(titles) == len(rows) else None
        image_titles = titles if row_titles is None else None
    else:
        grid = list(_as_images(images))
        ncols = ncols or min(len(grid), 10)
        row_titles, image_titles = None, titles
    if image_titles is not None and len(image_titles) != len(grid):
        raise ValueError(f'image_grid: {len(image_titles)} titles for {len(grid)} images.')
    nrows = math.ceil(len(grid) / ncols)
    figure = _new_figure((1.4 * ncols, 1.5 * nrows))
    for i, image in enumerate(grid):
        ax = figure.add_subplot(nrows, ncols, i + 1)
        shown, vmin, vmax = _display_range(image)
        ax.imshow(shown, cmap=cmap if shown.ndim == 2 else None, vmin=vmin, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        if image_titles is not None:
            ax.set_title(str(image_titles[i]), fontsize=8)
        if row_titles is not None and i % ncols == 0:
            ax.set_ylabel(str(row_titles[i // ncols]), fontsize=8)
    figure.tight_layout()
    if path is not None:
        _save(figure, path)
    return figure
