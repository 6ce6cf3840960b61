"""Keras losses as fused, numerically stable Functions of ``y_pred``: ``loss(y_true, y_pred)``
returns the scalar mean over the batch (and over any other axis but the class axis).

``y_true`` is a constant (array or Tensor, no gradient). Probability inputs are clipped to
[1e-7, 1 - 1e-7] as Keras does, and the clipped entries get no gradient (as TF's clip).
Each Function divides the gradient of the summed per-element loss by the element count ``n``.
"""
import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from .activation import stable_log_softmax, stable_sigmoid

EPSILON = 1e-7


class _MeanLoss(Function):
    """y = mean(elementwise losses); backward scales ``self.dloss`` (d sum / d y_pred) by gy / n."""
    def __init__(self, y_true):
        self.y_true = y_true

    def forward(self, y_pred):
        losses = self.losses(self.y_true, y_pred)
        self.n = losses.size
        return backend.get_array_module(y_pred).asarray(losses.mean(), dtype=y_pred.dtype)

    def backward(self, gy):
        return self.dloss() * (gy / self.n)


def _clip(p):
    """Keras' clip of probabilities, and the mask of entries left unclipped (they get gradient)."""
    xp = backend.get_array_module(p)
    return xp.clip(p, EPSILON, 1 - EPSILON), (p >= EPSILON) & (p <= 1 - EPSILON)


class CategoricalCrossentropy(_MeanLoss):
    """Per sample -sum(t log q) over the last axis.
    Logits: q = softmax(z), d/dz = softmax(z) sum(t) - t  (= softmax - onehot for one-hot t).
    Probabilities: q = clip(p / sum(p)); with g = -t / q on unclipped entries,
    d/dp = (g - sum(g q)) / sum(p)."""
    def __init__(self, y_true, from_logits):
        super().__init__(y_true)
        self.from_logits = from_logits

    def losses(self, t, p):
        xp = backend.get_array_module(p)
        if self.from_logits:
            log_q = stable_log_softmax(p, -1)
            self.softmax = xp.exp(log_q)
            return -(t * log_q).sum(axis=-1)
        self.total = p.sum(axis=-1, keepdims=True)
        self.ratio = p / self.total
        self.q, self.unclipped = _clip(self.ratio)
        return -(t * xp.log(self.q)).sum(axis=-1)

    def dloss(self):
        t = self.y_true
        if self.from_logits:
            return self.softmax * t.sum(axis=-1, keepdims=True) - t
        g = -t / self.q * self.unclipped
        return (g - (g * self.ratio).sum(axis=-1, keepdims=True)) / self.total


class BinaryCrossentropy(_MeanLoss):
    """Logits: max(x, 0) - x t + log1p(exp(-|x|)), d/dx = sigmoid(x) - t.
    Probabilities: -(t log p + (1 - t) log(1 - p)) with p clipped, d/dp = (p - t) / (p (1 - p))."""
    def __init__(self, y_true, from_logits):
        super().__init__(y_true)
        self.from_logits = from_logits

    def losses(self, t, p):
        xp = backend.get_array_module(p)
        if self.from_logits:
            self.x = p
            return xp.maximum(p, 0) - p * t + xp.log1p(xp.exp(-abs(p)))
        self.p, self.unclipped = _clip(p)
        return -(t * xp.log(self.p) + (1 - t) * xp.log1p(-self.p))

    def dloss(self):
        t = self.y_true
        if self.from_logits:
            return stable_sigmoid(self.x) - t
        return (self.p - t) / (self.p * (1 - self.p)) * self.unclipped


class MeanSquaredError(_MeanLoss):
    """(p - t)^2, d/dp = 2 (p - t)."""
    def losses(self, t, p):
        self.diff = p - t
        return self.diff * self.diff

    def dloss(self):
        return 2 * self.diff


class MeanAbsoluteError(_MeanLoss):
    """|p - t|, d/dp = sign(p - t)."""
    def losses(self, t, p):
        self.diff = p - t
        return abs(self.diff)

    def dloss(self):
        return backend.get_array_module(self.diff).sign(self.diff)


class Hinge(_MeanLoss):
    """max(1 - t p, 0) (squared: its square), labels in {-1, 1}; d/dp = -t [margin > 0]
    (squared: -2 t max(1 - t p, 0))."""
    def __init__(self, y_true, squared):
        super().__init__(y_true)
        self.squared = squared

    def losses(self, t, p):
        self.margin = backend.get_array_module(p).maximum(1 - t * p, 0)
        return self.margin * self.margin if self.squared else self.margin

    def dloss(self):
        if self.squared:
            return -2 * self.y_true * self.margin
        return -self.y_true * (self.margin > 0)


class CategoricalHinge(_MeanLoss):
    """Per sample max(neg - pos + 1, 0) with pos = sum(t p), neg = max((1 - t) p);
    d/dp = [active] (onehot(argmax (1 - t) p) (1 - t) - t)."""
    def losses(self, t, p):
        xp = backend.get_array_module(p)
        wrong = (1 - t) * p
        self.argmax = wrong.argmax(axis=-1)[..., None]
        neg = xp.take_along_axis(wrong, self.argmax, axis=-1)[..., 0]
        margin = neg - (t * p).sum(axis=-1) + 1
        self.active = margin > 0
        return xp.maximum(margin, 0)

    def dloss(self):
        t = self.y_true
        xp = backend.get_array_module(t)
        picked = xp.arange(t.shape[-1]) == self.argmax
        return (picked * (1 - t) - t) * self.active[..., None]


def _labels(op, y_true, y_pred):
    """``y_true`` as a raw array on ``y_pred``'s device and dtype, at ``y_pred``'s rank
    (a trailing size-1 axis is added or dropped, as Keras does); shapes must then match."""
    raw = y_true.data if isinstance(y_true, Tensor) else y_true
    xp = backend.get_array_module(y_pred)
    t = xp.asarray(backend.to_numpy(raw) if xp is np else raw).astype(y_pred.dtype, copy=False)
    if t.ndim == y_pred.ndim + 1 and t.shape[-1] == 1:
        t = t[..., 0]
    elif y_pred.ndim == t.ndim + 1 and y_pred.shape[-1] == 1:
        t = t[..., None]
    if t.shape != y_pred.shape:
        raise ValueError(f'{op}: y_true has shape {tuple(t.shape)} but y_pred has shape {tuple(y_pred.shape)}; '
                         'they must match (for integer class labels use sparse_categorical_crossentropy).')
    return t


def _one_hot_labels(op, y_true, y_pred):
    """Integer labels (N,) or (N, 1) as a one-hot array shaped like ``y_pred`` (N, C)."""
    raw = y_true.data if isinstance(y_true, Tensor) else y_true
    xp = backend.get_array_module(y_pred)
    labels = raw if backend.is_cupy(raw) else np.asarray(raw)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    classes = y_pred.shape[-1]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f'{op}: integer labels must have shape {tuple(y_pred.shape[:-1])} (or with a trailing 1) '
                         f'for y_pred of shape {tuple(y_pred.shape)}, got {tuple(labels.shape)}.')
    if not backend.is_cupy(labels):  # values are checked on the host: on the GPU it would cost a sync per step
        integral = labels.dtype.kind in 'iu' or bool(np.all(labels == np.round(labels)))
        if not integral or (labels.size and (int(labels.min()) < 0 or int(labels.max()) >= classes)):
            raise ValueError(f'{op}: labels must be integers in [0, {classes - 1}] for {classes} classes, '
                             f'got values in [{labels.min()}, {labels.max()}].')
    labels = xp.asarray(labels)
    return (labels.astype('int64')[..., None] == xp.arange(classes)).astype(y_pred.dtype)


def _to_hinge_labels(t):
    """Keras: labels that are all 0 or 1 become -1 or 1."""
    xp = backend.get_array_module(t)
    return 2 * t - 1 if bool(xp.all((t == 0) | (t == 1))) else t


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Mean over the batch of -sum(y_true log softmax(y_pred)) (logits) or of -sum(y_true log p) with
    p = y_pred / sum(y_pred) clipped to [1e-7, 1 - 1e-7]."""
    y_pred = as_tensor(y_pred)
    t = _labels('categorical_crossentropy', y_true, y_pred.data)
    return CategoricalCrossentropy(t, bool(from_logits))(y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """categorical_crossentropy with integer labels (N,) or (N, 1)."""
    y_pred = as_tensor(y_pred)
    t = _one_hot_labels('sparse_categorical_crossentropy', y_true, y_pred.data)
    return CategoricalCrossentropy(t, bool(from_logits))(y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Mean of -(t log p + (1 - t) log(1 - p)), p = sigmoid(y_pred) (logits, computed stably) or
    y_pred clipped to [1e-7, 1 - 1e-7]."""
    y_pred = as_tensor(y_pred)
    return BinaryCrossentropy(_labels('binary_crossentropy', y_true, y_pred.data), bool(from_logits))(y_pred)


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)^2)."""
    y_pred = as_tensor(y_pred)
    return MeanSquaredError(_labels('mean_squared_error', y_true, y_pred.data))(y_pred)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|)."""
    y_pred = as_tensor(y_pred)
    return MeanAbsoluteError(_labels('mean_absolute_error', y_true, y_pred.data))(y_pred)


def hinge(y_true, y_pred):
    """mean(max(1 - y_true y_pred, 0)); 0/1 labels are converted to -1/1 (Keras)."""
    y_pred = as_tensor(y_pred)
    return Hinge(_to_hinge_labels(_labels('hinge', y_true, y_pred.data)), squared=False)(y_pred)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true y_pred, 0)^2); 0/1 labels are converted to -1/1 (Keras)."""
    y_pred = as_tensor(y_pred)
    return Hinge(_to_hinge_labels(_labels('squared_hinge', y_true, y_pred.data)), squared=True)(y_pred)


def categorical_hinge(y_true, y_pred):
    """Mean over the batch of max(max((1 - y_true) y_pred) - sum(y_true y_pred) + 1, 0)."""
    y_pred = as_tensor(y_pred)
    return CategoricalHinge(_labels('categorical_hinge', y_true, y_pred.data))(y_pred)
