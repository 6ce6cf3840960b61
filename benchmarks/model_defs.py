"""The benchmarked course models (see MODELS.md), written twice: once as Keras code that runs
unchanged on Keras and on minidl (the library is a parameter: ``build_keras_style(name, api)``
with ``api = keras_api('keras')`` or ``keras_api('minidl')``), once in PyTorch.

Same layers, widths, kernels, padding, dropout rates, BatchNormalization (momentum 0.99,
epsilon 1e-3), losses and optimizers in all three; weight initializations differ in PyTorch
(speed does not depend on them). Images are channels-last for Keras/minidl and NCHW for PyTorch.
L2 kernel penalties are Keras ``l2(lam)`` terms; PyTorch gets the same gradient through
``weight_decay = 2 * lam`` on the kernels only.
"""
import importlib
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    """What a benchmark needs to know about one model."""
    name: str
    course_id: str           # id in MODELS.md
    input_shape: tuple       # one sample, channels-last
    labels: str              # 'onehot10' (binary CE on 10 outputs), 'sparse10' or 'binary1'
    batch_size: int
    epoch_size: int          # samples in the real data set's training epoch
    cpu_samples: int         # default samples per measured epoch on the CPU (then extrapolated)
    total_params: int        # Keras' total (trainable + BN moving statistics)
    trainable_params: int
    gpu_only: bool = False
    note: str = ''
    gpu_samples: int = 0     # samples per measured epoch on the GPU (0: the whole epoch)
    vocabulary: int = 0      # > 0: inputs are token ids in [1, vocabulary) (the sequence models)
    torch_extra_params: int = 0  # PyTorch's LSTM has two bias vectors where Keras has one


SPECS = {s.name: s for s in [
    ModelSpec('ej8_conv', 'tp4a.ej8_mnist_conv', (28, 28, 1), 'onehot10', 128, 60000, 2560,
              39790, 39790, note='L2 1e-4 on every kernel (factor n/s in the report)'),
    ModelSpec('ej8_dense', 'tp4a.ej8_mnist_dense', (784,), 'onehot10', 128, 60000, 60000,
              698486, 696718, note='L2 1e-4 on every kernel (factor n/s in the report)'),
    ModelSpec('cifar10_k.arch2', 'cifar10_k.arch2', (32, 32, 3), 'sparse10', 512, 50000, 3072,
              802506, 801034),
    ModelSpec('imdb_bow', 'tp4a.ej3_imdb_bow_l2', (10000,), 'binary1', 512, 25000, 25000,
              1011121, 1011121, note='L2 1e-4 on every kernel (factor n/s); inputs are word counts'),
    ModelSpec('cifar10_m.muestra12', 'cifar10_m.muestra12', (32, 32, 3), 'sparse10', 128, 50000, 1280,
              16052554, 16042058, gpu_only=True, gpu_samples=10000,
              note='batch size n/s in the report (128 used); conv dropout rates n/s (0.2/0.3/0.4/0.4 used)'),
    ModelSpec('imdb_lstm', 'issue16.imdb_lstm', (200,), 'binary1', 128, 25000, 1280, 2691713, 2691713,
              vocabulary=20000, torch_extra_params=512, note='Embedding(20000, 128) -> LSTM(128) -> Dense(1), reviews cut/padded to 200 ids'),
]}

L2 = 1e-4                       # kernel penalty of the tp4a models (the report does not give it)
MUESTRA12_L2 = 5e-4
# (filters, convs, max-pool after the block, dropout rate after the block or None); rates n/s
MUESTRA12_BLOCKS = [(64, 2, True, 0.2), (128, 2, True, 0.3), (256, 3, True, 0.4), (512, 4, True, None),
                    (512, 2, False, 0.4)]


def get_spec(name):
    """The ModelSpec called ``name``, or a ValueError listing the known names."""
    if name not in SPECS:
        raise ValueError(f"Unknown benchmark model '{name}'. Known models: {', '.join(SPECS)}.")
    return SPECS[name]


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
DATA_CHUNK = 1024


def make_data(spec, n, seed=0):
    """Random inputs and labels with the real shapes and dtypes: images uniform in [0, 1),
    IMDB rows Poisson word counts (about 200 words per review), labels uniform over classes.
    Returns (x channels-last float32, y) with y one-hot float32, int64 class ids or float32 0/1;
    no temporary larger than a chunk, so that peak RSS measures the framework, not this."""
    rng = np.random.default_rng(seed)
    if spec.vocabulary:
        x = rng.integers(1, spec.vocabulary, (n,) + spec.input_shape).astype(np.int32)
    elif spec.labels == 'binary1':  # in chunks: Poisson draws are int64, 2x the float32 data set
        x = np.empty((n,) + spec.input_shape, np.float32)
        for start in range(0, n, DATA_CHUNK):
            stop = min(n, start + DATA_CHUNK)
            x[start:stop] = rng.poisson(0.02, size=(stop - start,) + spec.input_shape)
    else:
        x = rng.random((n,) + spec.input_shape, dtype=np.float32)
    if spec.labels == 'onehot10':
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    elif spec.labels == 'sparse10':
        y = rng.integers(0, 10, n).astype(np.int64)
    else:
        y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    return x, y


# ------------------------------------------------------------------------------------------------
# Keras code, for Keras and minidl alike
# ------------------------------------------------------------------------------------------------
def keras_api(package):
    """The Keras vocabulary of ``package`` ('keras' or 'minidl') as one namespace."""
    parts = ('layers', 'models', 'optimizers', 'regularizers', 'losses', 'callbacks')
    return SimpleNamespace(name=package, **{p: importlib.import_module(f'{package}.{p}') for p in parts})


def build_keras_style(name, api):
    """Build and compile model ``name`` with the Keras-compatible library ``api``."""
    builder = {'ej8_conv': _k_ej8_conv, 'ej8_dense': _k_ej8_dense, 'cifar10_k.arch2': _k_arch2,
               'imdb_bow': _k_imdb_bow, 'cifar10_m.muestra12': _k_muestra12,
               'imdb_lstm': _k_imdb_lstm}[get_spec(name).name]
    model, loss, metric, optimizer = builder(api)
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])
    return model


def _k_ej8_conv(k):
    L, reg = k.layers, k.regularizers.l2
    inp = L.Input(shape=(28, 28, 1))
    x = L.Conv2D(10, (24, 24), padding='same', activation='relu', kernel_regularizer=reg(L2))(inp)
    x = L.MaxPooling2D((2, 2))(x)
    x = L.Conv2D(10, (12, 12), padding='same', activation='relu', kernel_regularizer=reg(L2))(x)
    x = L.Flatten()(x)
    out = L.Dense(10, kernel_regularizer=reg(L2))(x)
    return (k.models.Model(inp, out), k.losses.BinaryCrossentropy(from_logits=True), 'binary_accuracy',
            k.optimizers.Adam())


def _k_ej8_dense(k):
    L, reg = k.layers, k.regularizers.l2
    inp = L.Input(shape=(784,))
    x = L.Dense(784, activation='relu', kernel_regularizer=reg(L2))(inp)
    x = L.BatchNormalization()(x)
    x = L.Dense(100, activation='relu', kernel_regularizer=reg(L2))(x)
    x = L.BatchNormalization()(x)
    out = L.Dense(10, kernel_regularizer=reg(L2))(x)
    return (k.models.Model(inp, out), k.losses.BinaryCrossentropy(from_logits=True), 'binary_accuracy',
            k.optimizers.Adam())


def _k_arch2(k):
    L = k.layers
    model = k.models.Sequential([L.Input(shape=(32, 32, 3))])
    for filters, pool, rate in [(32, True, 0.25), (64, True, 0.3), (128, True, 0.3), (128, False, 0.4)]:
        model.add(L.Conv2D(filters, (3, 3), padding='same', kernel_initializer='he_normal'))
        model.add(L.BatchNormalization())
        model.add(L.ReLU())
        if pool:
            model.add(L.MaxPooling2D((2, 2)))
        model.add(L.Dropout(rate))
    model.add(L.Flatten())
    for units in (256, 128):
        model.add(L.Dense(units, kernel_initializer='he_normal'))
        model.add(L.BatchNormalization())
        model.add(L.ReLU())
        model.add(L.Dropout(0.4))
    model.add(L.Dense(10, activation='softmax'))
    return model, 'sparse_categorical_crossentropy', 'accuracy', k.optimizers.Adam()


def _k_imdb_bow(k):
    L, reg = k.layers, k.regularizers.l2
    inp = L.Input(shape=(10000,))
    x = L.Dense(100, activation='relu', kernel_regularizer=reg(L2))(inp)
    x = L.Dense(10, activation='relu', kernel_regularizer=reg(L2))(x)
    x = L.Concatenate()([inp, x])
    out = L.Dense(1, kernel_regularizer=reg(L2))(x)
    return (k.models.Model(inp, out), k.losses.BinaryCrossentropy(from_logits=True), 'binary_accuracy',
            k.optimizers.Adam())


def _k_imdb_lstm(k):
    L = k.layers
    inp = L.Input(shape=(200,), dtype='int32')
    x = L.Embedding(20000, 128)(inp)
    x = L.LSTM(128)(x)
    out = L.Dense(1)(x)
    return (k.models.Model(inp, out), k.losses.BinaryCrossentropy(from_logits=True), 'binary_accuracy',
            k.optimizers.Adam())


def _k_muestra12(k):
    L, reg = k.layers, k.regularizers.l2
    model = k.models.Sequential([L.Input(shape=(32, 32, 3))])
    for filters, convs, pool, rate in MUESTRA12_BLOCKS:
        for _ in range(convs):
            model.add(L.Conv2D(filters, (3, 3), padding='same', activation='relu',
                               kernel_initializer='he_uniform', kernel_regularizer=reg(MUESTRA12_L2)))
            model.add(L.BatchNormalization())
        if pool:
            model.add(L.MaxPooling2D((2, 2)))
        if rate:
            model.add(L.Dropout(rate))
    model.add(L.Flatten())
    for _ in range(2):
        model.add(L.Dense(512, activation='relu', kernel_initializer='he_uniform'))
        model.add(L.BatchNormalization())
        model.add(L.Dropout(0.5))
    model.add(L.Dense(10, activation='softmax'))
    return (model, 'sparse_categorical_crossentropy', 'accuracy',
            k.optimizers.SGD(learning_rate=0.001, momentum=0.9))


# ------------------------------------------------------------------------------------------------
# PyTorch
# ------------------------------------------------------------------------------------------------
def build_torch(name):
    """(module, loss_fn, metric_fn, optimizer) for model ``name``; loss on logits (the softmax of
    the Keras models is folded into CrossEntropyLoss), metric_fn(out, y) = number of hits."""
    import torch
    from torch import nn

    spec = get_spec(name)
    module = {'ej8_conv': _t_ej8_conv, 'ej8_dense': _t_ej8_dense, 'cifar10_k.arch2': _t_arch2,
              'imdb_bow': _t_imdb_bow, 'cifar10_m.muestra12': _t_muestra12,
              'imdb_lstm': _t_imdb_lstm}[spec.name](nn)
    if spec.labels == 'sparse10':
        loss_fn = nn.CrossEntropyLoss()

        def hits(out, y):
            return (out.argmax(1) == y).sum()
    else:
        loss_fn = nn.BCEWithLogitsLoss()

        def hits(out, y):
            return ((out > 0).to(y.dtype) == y).sum()
    l2 = {'cifar10_k.arch2': 0.0, 'cifar10_m.muestra12': MUESTRA12_L2, 'imdb_lstm': 0.0}.get(spec.name, L2)
    penalized = set(id(m.weight) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    if spec.name == 'cifar10_m.muestra12':  # only its convolutions carry L2
        penalized = set(id(m.weight) for m in module.modules() if isinstance(m, nn.Conv2d))
    kernels = [p for p in module.parameters() if id(p) in penalized]
    others = [p for p in module.parameters() if id(p) not in penalized]
    groups = [{'params': kernels, 'weight_decay': 2 * l2}, {'params': others, 'weight_decay': 0.0}]
    if spec.name == 'cifar10_m.muestra12':
        optimizer = torch.optim.SGD(groups, lr=0.001, momentum=0.9)
    else:  # Keras' Adam defaults
        optimizer = torch.optim.Adam(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    return module, loss_fn, hits, optimizer


def _bn(nn, channels, dims):
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(channels, eps=1e-3, momentum=0.01)


def _t_ej8_conv(nn):
    return nn.Sequential(
        nn.Conv2d(1, 10, 24, padding='same'), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(10, 10, 12, padding='same'), nn.ReLU(), nn.Flatten(), nn.Linear(1960, 10))


def _t_ej8_dense(nn):
    return nn.Sequential(
        nn.Linear(784, 784), nn.ReLU(), _bn(nn, 784, 1),
        nn.Linear(784, 100), nn.ReLU(), _bn(nn, 100, 1), nn.Linear(100, 10))


def _t_arch2(nn):
    seq, c_in = [], 3
    for filters, pool, rate in [(32, True, 0.25), (64, True, 0.3), (128, True, 0.3), (128, False, 0.4)]:
        seq += [nn.Conv2d(c_in, filters, 3, padding=1), _bn(nn, filters, 2), nn.ReLU()]
        seq += [nn.MaxPool2d(2)] if pool else []
        seq += [nn.Dropout(rate)]
        c_in = filters
    seq += [nn.Flatten()]
    for f_in, units in [(2048, 256), (256, 128)]:
        seq += [nn.Linear(f_in, units), _bn(nn, units, 1), nn.ReLU(), nn.Dropout(0.4)]
    seq += [nn.Linear(128, 10)]
    return nn.Sequential(*seq)


def _t_imdb_bow(nn):
    import torch

    class BowConcat(nn.Module):
        """Dense(100, relu) -> Dense(10, relu) -> concat([input, hidden]) -> Dense(1)."""

        def __init__(self):
            super().__init__()
            self.hidden1 = nn.Linear(10000, 100)
            self.hidden2 = nn.Linear(100, 10)
            self.out = nn.Linear(10010, 1)

        def forward(self, x):
            h = torch.relu(self.hidden2(torch.relu(self.hidden1(x))))
            return self.out(torch.cat([x, h], dim=1))

    return BowConcat()


def _t_imdb_lstm(nn):
    import torch
    # minidl's LSTM flushes gradients below 2e-31 to zero (kernels/rnn.py); without the same, PyTorch's
    # backward through 200 steps runs on subnormal numbers, many times slower: compare like with like
    torch.set_flush_denormal(True)

    class EmbeddingLSTM(nn.Module):
        """Embedding(20000, 128) -> LSTM(128) (torch's fused CPU LSTM) -> Linear(128, 1) on the last h."""

        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(20000, 128)
            self.lstm = nn.LSTM(128, 128, batch_first=True)
            self.out = nn.Linear(128, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(self.embedding(x))
            return self.out(h[0])

    return EmbeddingLSTM()


def _t_muestra12(nn):
    seq, c_in = [], 3
    for filters, convs, pool, rate in MUESTRA12_BLOCKS:
        for _ in range(convs):
            seq += [nn.Conv2d(c_in, filters, 3, padding=1), nn.ReLU(), _bn(nn, filters, 2)]
            c_in = filters
        seq += [nn.MaxPool2d(2)] if pool else []
        seq += [nn.Dropout(rate)] if rate else []
    seq += [nn.Flatten()]
    for f_in in (2048, 512):
        seq += [nn.Linear(f_in, 512), nn.ReLU(), _bn(nn, 512, 1), nn.Dropout(0.5)]
    seq += [nn.Linear(512, 10)]
    return nn.Sequential(*seq)
