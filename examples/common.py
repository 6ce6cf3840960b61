"""Shared command line, data loading, timing and reporting for the course examples.

Every example script does the same five things: parse the shared flags (``parser``), select
the backend and seed (``setup``), get its data set (``load_data``, real or ``--synthetic``),
train with ``timed_fit`` and close with ``finish``, which saves the history plot and the
weights and prints the one machine-readable line::

    RESULT model=<id> dataset=<name> metric=<name> value=<v> epochs=<n> seconds_per_epoch=<s> backend=<b>
"""
import argparse
import copy
import os
import sys
import time

import numpy as np

import minidl

DEFAULT_OUT_DIR = 'out'

# Shapes of the Keras loaders' outputs, used to make --synthetic data: (x shape, x dtype,
# y shape suffix, number of classes or None for regression).
_SYNTHETIC_IMAGES = {
    'mnist': ((28, 28), 'uint8', (), 10),
    'fashion_mnist': ((28, 28), 'uint8', (), 10),
    'cifar10': ((32, 32, 3), 'uint8', (1,), 10),
    'cifar100': ((32, 32, 3), 'uint8', (1,), 100),
}
_SYNTHETIC_SIZES = (256, 64)  # train, test rows when --synthetic is given without --limit


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the script's docstring as written and shows each option's real default."""

    def _get_help_string(self, action):
        text = action.help or ''
        if ('%(default)' not in text and 'default' not in text and action.option_strings
                and action.default is not None and action.default is not False
                and action.default is not argparse.SUPPRESS):
            text += ' (default: %(default)s)'
        return text


# Flags that choose what a script runs; their help lists the choices with the course's model ids.
_CHOICE_FLAGS = {'--arch': 'architecture', '--model': 'model', '--variant': 'variant', '--dataset': 'data set',
                 '--net': 'network', '--data': 'data preparation', '--loss': 'loss', '--muestra': 'Muestra',
                 '--task': 'task', '--augment': 'augmentation'}


def _model_id(value):
    """The course model id held in a VARIANTS entry ('tp4a.ej8_mnist_dense' or a tuple starting with one)."""
    first = value[0] if isinstance(value, tuple) and value else value
    return first if isinstance(first, str) and '.' in first else None


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose choice flags (``--model``, ``--arch``, ``--variant``,
    ``--dataset``, ...) always get a help text: the choices, with the course model id of each
    when the script's ``VARIANTS`` table names one, and the default."""

    def __init__(self, *args, variants=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._variants = variants or {}

    def add_argument(self, *names, **kwargs):
        flag = next((n for n in names if n in _CHOICE_FLAGS), None)
        choices = kwargs.get('choices')
        if flag and choices is not None:
            listed = []
            for choice in choices:
                model_id = _model_id(self._variants.get(choice)) if isinstance(choice, str) else None
                listed.append(f'{choice} ({model_id})' if model_id else str(choice))
            what = f'which {_CHOICE_FLAGS[flag]} to run: ' + ', '.join(listed)
            given = kwargs.get('help')
            if given:
                kwargs['help'] = f'{given}; {what}'
            else:
                kwargs['help'] = what + ('; the description above says what each is' if self.description else '')
            if kwargs.get('default') is None and 'default' not in kwargs['help']:
                kwargs['help'] += ' (default: the one the description names)'
            kwargs['help'] = kwargs['help'].replace('%', '%%').replace('%%(default)s', '%(default)s')
        elif not kwargs.get('help') and names and names[0].startswith('--'):
            kwargs['help'] = names[0][2:].replace('-', ' ')  # so that --help shows at least its default
        return super().add_argument(*names, **kwargs)


def _script_globals(description):
    """The globals of the calling script whose docstring starts with ``description`` (a script
    may build its parser through a helper of another script, as ej10_cifar_vgg16 does)."""
    frame = sys._getframe(2)
    first = frame.f_globals if frame is not None else {}
    while frame is not None:
        doc = frame.f_globals.get('__doc__') or ''
        if description and doc.strip().startswith(description.strip()):
            return frame.f_globals
        frame = frame.f_back
    return first


def parser(description, epochs, batch_size):
    """The shared argparse parser; scripts add their own variant flags to it.

    ``description`` is the script's docstring or its first line (then the whole docstring of
    the calling script is shown by ``--help``). ``epochs`` / ``batch_size`` of None mean "as the
    chosen variant's report", and ``--help`` says so."""
    caller = _script_globals(description)
    doc = caller.get('__doc__') or ''
    if description and doc.strip().startswith(description.strip()):
        description = doc.strip()
    variants = caller.get('VARIANTS') if isinstance(caller.get('VARIANTS'), dict) else None
    p = _Parser(description=description, formatter_class=_HelpFormatter, variants=variants)
    p.add_argument('--backend', choices=['numpy', 'cupy'], default='numpy',
                   help='array backend (cupy needs a CUDA GPU and CuPy: pip install cupy-cuda12x)')
    p.add_argument('--epochs', type=int, default=epochs,
                   help='training epochs' + ('' if epochs is not None else
                                             " (default: the chosen variant's, as in its course report)"))
    p.add_argument('--batch-size', type=int, default=batch_size,
                   help='batch size' + ('' if batch_size is not None else
                                        " (default: the chosen variant's, as in its course report)"))
    p.add_argument('--seed', type=int, default=0, help='random seed for weights, shuffling, data and --limit')
    p.add_argument('--limit', type=int, default=None, metavar='N',
                   help='smoke runs: train on N training samples and test on N test samples, each a '
                        'class-stratified random subset (seeded by --seed; regression data: the first N); '
                        'default: the whole data set')
    p.add_argument('--data-dir', default=None,
                   help='dataset cache root (default: $MINIDL_DATA or ~/.minidl/datasets)')
    p.add_argument('--plot', default=None, metavar='PATH',
                   help=f'where to save the history plot (default: {DEFAULT_OUT_DIR}/<model>.png); '
                        'other pictures go next to it')
    p.add_argument('--save-weights', default=None, metavar='PATH',
                   help="save the trained weights (HDF5; a name ending in '.weights.h5' gets Keras 3's layout; "
                        'default: not saved)')
    p.add_argument('--quiet', action='store_true', help='no summary and no progress bar')
    p.add_argument('--time-limit', type=float, default=None, metavar='MINUTES',
                   help='stop training before this wall-clock budget is spent (callbacks.TimeStopping; '
                        'default: no limit)')
    p.add_argument('--synthetic', action='store_true',
                   help='random data of the right shapes instead of the real data set (no downloads)')
    return p


def setup(args):
    """Apply the shared flags: data directory, backend, seed. Returns a NumPy generator for the
    script's own randomness (permutations, noise, splits), seeded like the framework."""
    if args.data_dir:
        os.environ['MINIDL_DATA'] = os.path.abspath(os.path.expanduser(args.data_dir))
    try:
        minidl.set_backend(args.backend)
    except minidl.BackendError as exc:
        sys.exit(f'error: {exc}')
    minidl.seed(args.seed)
    args.verbose = 0 if args.quiet else 1
    return np.random.default_rng(args.seed)


def summary(model, args):
    if not args.quiet:
        model.summary()


def stratified_indices(y, n, seed=0):
    """Indices (sorted) of a subset of ``n`` rows of labels ``y`` with each class in proportion:
    class ``k`` with ``c_k`` of ``m`` rows gets ``n c_k / m`` rows rounded by largest remainder,
    drawn at random (``seed``). Labels may be (m,), (m, 1) or one-hot (m, k). Test sets that are
    sorted by class (CIFAR-10's test batch) would otherwise give one or two classes only."""
    y = np.asarray(y)
    labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y))
    m = len(labels)
    if n >= m:
        return np.arange(m)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quotas = n * counts / m
    take = np.floor(quotas).astype(int)
    short = n - take.sum()
    if short:
        order = np.lexsort((-counts, -(quotas - take)))  # largest remainder first, then the larger class
        take[order[:short]] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(inverse == k), size=t, replace=False) for k, t in enumerate(take) if t]
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)


def _is_classification(y):
    y = np.asarray(y)
    if y.dtype.kind in 'iub':
        return True
    return y.dtype.kind == 'f' and y.size > 0 and np.array_equal(y, np.round(y)) and len(np.unique(y)) <= 1000


def _limit(arrays, n, seed=0):
    """The first ``n`` rows of regression data; a class-stratified ``n`` of classification data."""
    if n is None:
        return tuple(arrays)
    x, y = arrays
    if len(y) > n and _is_classification(y):
        index = stratified_indices(y, n, seed)
        return x[index], np.asarray(y)[index]
    return x[:n], y[:n]


def _synthetic(name, args, **kwargs):
    """Random data with the shapes, dtypes and label ranges of ``name``'s loader."""
    rng = np.random.default_rng(args.seed)
    n_train, n_test = (args.limit, args.limit) if args.limit else _SYNTHETIC_SIZES
    if name in _SYNTHETIC_IMAGES:
        shape, dtype, y_suffix, classes = _SYNTHETIC_IMAGES[name]
        if name == 'cifar100' and kwargs.get('label_mode') == 'coarse':
            classes = 20

        def part(n):
            return (rng.integers(0, 256, (n,) + shape).astype(dtype),
                    rng.integers(0, classes, (n,) + y_suffix).astype('uint8'))
        return part(n_train), part(n_test)
    if name == 'imdb':
        num_words = kwargs.get('num_words') or 10000

        def part(n):
            seqs = np.empty(n, dtype=object)
            for i in range(n):
                seqs[i] = [1] + rng.integers(2, num_words, rng.integers(5, 120)).tolist()
            return seqs, rng.integers(0, 2, n).astype('int64')
        return part(n_train), part(n_test)
    if name == 'boston_housing':
        def part(n):
            x = rng.uniform(0, 100, (n, 13))
            return x, x @ rng.uniform(-0.2, 0.3, 13) + rng.normal(0, 3, n)
        return part(n_train), part(n_test)
    if name == 'pima_diabetes':
        n = n_train + n_test
        x = np.abs(rng.normal(50, 30, (n, 8))).round(1)
        x[rng.random((n, 8)) < 0.1] = 0.0  # zero-coded missing values, as in the real file
        return (x, rng.integers(0, 2, n).astype('int64')), (x[:0], np.zeros(0, 'int64'))
    raise ValueError(f'no synthetic data for data set {name!r}')


def load_data(name, args, **kwargs):
    """``(x_train, y_train), (x_test, y_test)`` of a minidl data set (``kwargs`` go to its
    ``load_data``), or synthetic data under ``--synthetic``; cut to ``--limit`` rows (a
    class-stratified subset for labelled data, see ``stratified_indices``).

    Also sets ``args.dataset_name``: the name that goes into the RESULT line (``mnist-sample``
    when the MNIST loader fell back to its bundled 5,000-image sample, ``<name>-synthetic``)."""
    if args.synthetic:
        (x_train, y_train), (x_test, y_test) = _synthetic(name, args, **kwargs)
        args.dataset_name = f'{name}-synthetic'
    else:
        import importlib
        module = importlib.import_module(f'minidl.datasets.{name}')
        try:
            (x_train, y_train), (x_test, y_test) = _split_pair(module.load_data(**kwargs))
        except (minidl.datasets.DatasetNotFoundError, minidl.datasets.DatasetError) as exc:
            print(f'error: {exc}\n(--synthetic runs this script on random data of the right shapes.)', file=sys.stderr)
            sys.exit(2)
        args.dataset_name = name
        if name == 'mnist' and len(x_train) + len(x_test) < 70000:
            args.dataset_name = 'mnist-sample'
    train = _limit((x_train, y_train), args.limit, args.seed)
    test = _limit((x_test, y_test), args.limit, args.seed + 1)
    if args.limit:
        args.dataset_name += f'[:{args.limit}]'
    return train, test


def _split_pair(loaded):
    """Accept both Keras' ``((x, y), (x_t, y_t))`` and a single ``(x, y)`` (whole data set)."""
    first = loaded[0]
    if isinstance(first, tuple):
        return loaded
    x, y = loaded
    return (x, y), (x[:0], y[:0])


def load_digits(args, dataset='mnist', flat=False, standardize=False):
    """MNIST-style images as float32 in [0, 1] (or standardized with the training mean and
    std), shaped (n, 784) if ``flat`` else (n, 28, 28, 1), plus one-hot labels.

    Returns ``x_train, y_train, x_test, y_test`` (one-hot) and the integer test labels."""
    from minidl.utils import to_categorical
    (x_train, y_train), (x_test, y_test) = load_data(dataset, args)
    x_train = x_train.astype('float32') / 255.0
    x_test = x_test.astype('float32') / 255.0
    if standardize:
        mean, std = x_train.mean(), x_train.std()
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    shape = (-1, 784) if flat else (-1, 28, 28, 1)
    return (x_train.reshape(shape), to_categorical(y_train, 10),
            x_test.reshape(shape), to_categorical(y_test, 10), np.asarray(y_test))


def load_cifar(args, dataset='cifar10', scale=True, **kwargs):
    """CIFAR images as float32 (divided by 255 when ``scale``) and integer labels of shape (n,)."""
    (x_train, y_train), (x_test, y_test) = load_data(dataset, args, **kwargs)
    factor = 1.0 / 255.0 if scale else 1.0
    return ((x_train.astype('float32') * factor, np.asarray(y_train).reshape(-1).astype('int64')),
            (x_test.astype('float32') * factor, np.asarray(y_test).reshape(-1).astype('int64')))


def timed_fit(model, *fit_args, time_limit=None, **fit_kwargs):
    """``model.fit`` that also returns the wall-clock seconds per epoch actually run; with
    ``time_limit`` (minutes) a TimeStopping callback ends training within that budget."""
    if time_limit:
        stopper = minidl.callbacks.TimeStopping(60 * time_limit, verbose=1)
        fit_kwargs['callbacks'] = list(fit_kwargs.get('callbacks') or []) + [stopper]
    start = time.perf_counter()
    history = model.fit(*fit_args, **fit_kwargs)
    epochs_run = len(history.history.get('loss', [])) or 1
    return history, (time.perf_counter() - start) / epochs_run


def output_path(args, filename):
    """A path for an extra picture: next to ``--plot`` if given, else under ``out/``."""
    folder = os.path.dirname(args.plot) if args.plot else DEFAULT_OUT_DIR
    os.makedirs(folder or '.', exist_ok=True)
    return os.path.join(folder, filename)


def save_plot(history, args, model_id):
    """Save the loss/metric curves; returns the path (None if matplotlib is missing)."""
    suffix = getattr(args, 'run_suffix', None)
    path = args.plot or output_path(args, f'{model_id}_{suffix}.png' if suffix else f'{model_id}.png')
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    try:
        from minidl.utils import plot_history
        plot_history(history, path)
    except ImportError as exc:
        print(f'note: history plot not saved ({exc}); pip install matplotlib to get it')
        return None
    print(f'history plot saved to {path}')
    return path


def save_image_grid(images, args, filename, titles=None):
    """Save a grid of images (e.g. original / noisy / denoised) next to the history plot."""
    path = output_path(args, filename)
    try:
        from minidl.utils import image_grid
        image_grid(images, path, titles=titles)
    except ImportError as exc:
        print(f'note: image grid not saved ({exc}); pip install matplotlib to get it')
        return None
    print(f'image grid saved to {path}')
    return path


def report(model_id, dataset, metric, value, epochs, seconds_per_epoch, backend):
    """Print the final machine-readable result line."""
    print(f'RESULT model={model_id} dataset={dataset} metric={metric} value={value:.4f} '
          f'epochs={epochs} seconds_per_epoch={seconds_per_epoch:.3g} backend={backend}', flush=True)


def finish(args, model, history, model_id, metric, value, seconds_per_epoch, plot=True):
    """Save plot and weights, then print the RESULT line."""
    if plot and history is not None:
        save_plot(history, args, model_id)
    if args.save_weights:
        os.makedirs(os.path.dirname(os.path.abspath(args.save_weights)), exist_ok=True)
        model.save_weights(args.save_weights)
        print(f'weights saved to {args.save_weights}')
    epochs_run = len(history.history.get('loss', [])) if history is not None else 0
    report(model_id, args.dataset_name, metric, value, epochs_run, seconds_per_epoch, args.backend)


def evaluate(model, x, y, args):
    """``model.evaluate`` as a dict {'loss': ..., <metric>: ...}."""
    return model.evaluate(x, y, batch_size=args.batch_size, verbose=0, return_dict=True)


def fit_and_report(args, model, model_id, fit_data, test, metric='accuracy', label=None, **fit_kwargs):
    """Print the summary, train (validating on ``test`` unless ``validation_data`` is given),
    evaluate on ``test`` and finish with the RESULT line ``test_<label or metric>``.

    ``fit_data`` is ``(x, y)`` or ``(iterator,)`` (e.g. ``ImageDataGenerator.flow``)."""
    summary(model, args)
    fit_kwargs.setdefault('validation_data', test)
    if len(fit_data) == 2:
        fit_kwargs.setdefault('batch_size', args.batch_size)
    history, seconds = timed_fit(model, *fit_data, epochs=args.epochs, verbose=args.verbose,
                                 time_limit=args.time_limit, **fit_kwargs)
    results = evaluate(model, *test, args)
    print('test ' + ', '.join(f'{k}={v:.4f}' for k, v in results.items()))
    finish(args, model, history, model_id, f'test_{label or metric}', results[metric], seconds)
    return history, results


def for_run(args, suffix):
    """A copy of ``args`` for one of several runs of a script: its ``--plot`` and
    ``--save-weights`` paths get ``_<suffix>`` before the extension so runs do not overwrite."""
    run = copy.copy(args)
    run.run_suffix = suffix
    for name in ('plot', 'save_weights'):
        path = getattr(args, name)
        if path:
            base, ext = os.path.splitext(path)
            setattr(run, name, f'{base}_{suffix}{ext}')
    return run
