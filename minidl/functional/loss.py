"""Keras' losses as Functions of ``y_pred``, numerically stable where Keras' are.

Each Function returns the **per-sample** loss, Keras' unreduced value: the class axis (or the
feature axis, ``axis``) is reduced and every other axis is kept, so predictions of shape (N, C)
give N values and a sequence (N, T, C) gives (N, T). The reduction over the batch (with sample
weights and masks) is done by ``minidl.losses``. With ``mean=True`` the Function returns the mean
of its per-sample values at once: Keras' default reduction ('sum_over_batch_size') when there are
no weights and no mask, one op instead of two.

``y_true`` (``t`` below) is a constant array already shaped like ``y_pred`` (``p``), on its
device and in its dtype; ``prepare`` and ``one_hot`` below make it so, and ``minidl.losses``
checks labels and converts them once before it builds one of these ops.

Notation: ``e`` is the elementwise loss, ``l`` the per-sample loss (``sum`` or ``mean`` of ``e``
over the axis), ``g`` the upstream gradient of ``l`` broadcast back over the axis. Probabilities
are clipped to [1e-7, 1 - 1e-7] as Keras does, and clipped entries get no gradient (as the clip
of TensorFlow and PyTorch).

The functions at the end have the signatures of ``keras.ops``: ``categorical_crossentropy(target,
output, from_logits=False, axis=-1)`` and ``sparse_categorical_crossentropy`` return the
per-sample values, ``binary_crossentropy(target, output, from_logits=False)`` the elementwise
ones. The loss functions of ``keras.losses`` (mean over the last axis, label smoothing, ...) are
in ``minidl.losses``.
"""
import math

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from .activation import stable_log_softmax, stable_sigmoid, stable_softmax

EPSILON = 1e-7  # keras.backend.epsilon()


class LossFunction(Function):
    """Per-sample loss ``l = reduce(e, axis)`` of predictions ``p``. Subclasses define
    ``values(t, p)`` (the per-sample array) and ``dvalues(g)`` (d sum(g l) / dp for an upstream
    gradient ``g`` already broadcastable to ``p``); ``axis`` is the reduced axis (None: no axis is
    reduced, the loss is elementwise)."""
    axis = -1

    def __init__(self, y_true, mean=False):
        self.t = y_true
        self.mean = mean

    def forward(self, p):
        values = self.values(self.t, p)
        xp = backend.get_array_module(p)
        if self.mean:
            self.count = values.size
            return xp.asarray(values.sum() / self.count, dtype=p.dtype)
        return xp.asarray(values, dtype=p.dtype)

    def backward(self, gy):
        if self.mean:
            g = gy / self.count                      # d mean / d l_i = 1/n, for every sample
        elif self.axis is None:
            g = gy
        else:
            g = backend.get_array_module(gy).expand_dims(gy, self.axis)   # back over the reduced axis
        return self.dvalues(g)


def _clip(p):
    """Keras' clip of probabilities, and the mask of entries left unclipped (they get gradient)."""
    xp = backend.get_array_module(p)
    return xp.clip(p, EPSILON, 1 - EPSILON), (p >= EPSILON) & (p <= 1 - EPSILON)


class _MeanOverAxis(LossFunction):
    """l = mean(e) over ``axis`` (None: l = e); subclasses define ``elementwise(t, p)`` and
    ``derivative()`` (de/dp). With ``mean=True`` the mean of the per-sample means is the mean of
    all of e (every sample averages the same number of entries): one reduction."""

    def __init__(self, y_true, axis=-1, mean=False):
        super().__init__(y_true, mean)
        self.axis = axis

    def values(self, t, p):
        e = self.elementwise(t, p)
        if self.mean or self.axis is None or p.ndim == 0:
            self.n = 1
            return e
        self.n = p.shape[self.axis]
        return e.mean(axis=self.axis)

    def dvalues(self, g):
        return g * self.derivative() / self.n


# --- cross-entropies -------------------------------------------------------------------------------
class CategoricalCrossentropy(LossFunction):
    """l = -sum(t log q) over ``axis``.
    Logits: q = softmax(z), computed as log q = z - logsumexp(z);  dl/dz = softmax(z) sum(t) - t
    (softmax - onehot for one-hot t).
    Probabilities: q = clip(p / sum(p)); with h = -t / q on unclipped entries,
    dl/dp = (h - sum(h q)) / sum(p)   (the Jacobian of p / sum(p))."""

    def __init__(self, y_true, from_logits=False, axis=-1, mean=False):
        super().__init__(y_true, mean)
        self.from_logits, self.axis = from_logits, axis

    def values(self, t, p):
        xp = backend.get_array_module(p)
        if self.from_logits:
            log_q = stable_log_softmax(p, self.axis)
            self.softmax = xp.exp(log_q)
            return -(t * log_q).sum(axis=self.axis)
        self.total = p.sum(axis=self.axis, keepdims=True)
        self.ratio = p / self.total
        self.q, self.unclipped = _clip(self.ratio)
        return -(t * xp.log(self.q)).sum(axis=self.axis)

    def dvalues(self, g):
        t = self.t
        if self.from_logits:
            return g * (self.softmax * t.sum(axis=self.axis, keepdims=True) - t)
        h = g * (-t / self.q) * self.unclipped
        return (h - (h * self.ratio).sum(axis=self.axis, keepdims=True)) / self.total


class BinaryCrossentropy(_MeanOverAxis):
    """e = -(t log p + (1 - t) log(1 - p)), l = mean(e) over ``axis`` (None: l = e).
    Logits, with log-sigmoid: e = max(x, 0) - x t + log1p(exp(-|x|)), de/dx = sigmoid(x) - t.
    Probabilities: p clipped, de/dp = (p - t) / (p (1 - p))."""

    def __init__(self, y_true, from_logits=False, axis=-1, mean=False):
        super().__init__(y_true, axis, mean)
        self.from_logits = from_logits

    def elementwise(self, t, p):
        xp = backend.get_array_module(p)
        if self.from_logits:
            self.x = p
            return xp.maximum(p, 0) - p * t + xp.log1p(xp.exp(-abs(p)))
        self.p, self.unclipped = _clip(p)
        return -(t * xp.log(self.p) + (1 - t) * xp.log1p(-self.p))

    def derivative(self):
        t = self.t
        if self.from_logits:
            return stable_sigmoid(self.x) - t
        return (self.p - t) / (self.p * (1 - self.p)) * self.unclipped


class BinaryFocalCrossentropy(_MeanOverAxis):
    """Focal loss (Lin et al. 2017) on binary labels, as Keras computes it:
    p = sigmoid(z) for logits; bce = -(t log pc + (1 - t) log(1 - pc)) with pc = clip(p);
    p_t = t p + (1 - t)(1 - p);  e = w (1 - p_t)^gamma bce, with w = t alpha + (1 - t)(1 - alpha)
    when ``apply_class_balancing`` (else 1); l = mean(e) over ``axis``.
    de/dp = w [-gamma (1 - p_t)^(gamma - 1) (2t - 1) bce + (1 - p_t)^gamma (pc - t) / (pc (1 - pc))]
    (the second term on unclipped entries only), times p (1 - p) for logits."""

    def __init__(self, y_true, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, axis=-1,
                 mean=False):
        super().__init__(y_true, axis, mean)
        self.balance, self.alpha, self.gamma, self.from_logits = apply_class_balancing, alpha, gamma, from_logits

    def elementwise(self, t, p):
        xp = backend.get_array_module(p)
        self.p = stable_sigmoid(p) if self.from_logits else p
        self.pc, self.unclipped = _clip(self.p)
        self.bce = -(t * xp.log(self.pc) + (1 - t) * xp.log1p(-self.pc))
        self.one_minus_pt = 1 - (t * self.p + (1 - t) * (1 - self.p))
        self.w = t * self.alpha + (1 - t) * (1 - self.alpha) if self.balance else 1
        return self.w * self.one_minus_pt ** self.gamma * self.bce

    def derivative(self):
        xp = backend.get_array_module(self.p)
        t, a, gamma = self.t, self.one_minus_pt, self.gamma
        with np.errstate(divide='ignore', invalid='ignore'):
            dfocal = -gamma * a ** (gamma - 1) * (2 * t - 1) if gamma != 0 else xp.zeros_like(a)
        dbce = (self.pc - t) / (self.pc * (1 - self.pc)) * self.unclipped
        de = self.w * (dfocal * self.bce + a ** gamma * dbce)
        return de * self.p * (1 - self.p) if self.from_logits else de


class CategoricalFocalCrossentropy(LossFunction):
    """Focal loss on one-hot labels, as Keras computes it: q = softmax(z) for logits, else
    q = p / sum(p); qc = clip(q);  e = alpha (1 - qc)^gamma (-t log qc);  l = sum(e) over ``axis``.
    de/dqc = alpha [gamma (1 - qc)^(gamma - 1) t log qc - (1 - qc)^gamma t / qc] on unclipped
    entries; then through q: (h - sum(h q)) / sum(p) for probabilities, q (h - sum(h q)) for
    logits (the softmax Jacobian)."""

    def __init__(self, y_true, alpha=0.25, gamma=2.0, from_logits=False, axis=-1, mean=False):
        super().__init__(y_true, mean)
        self.alpha, self.gamma, self.from_logits, self.axis = alpha, gamma, from_logits, axis

    def values(self, t, p):
        xp = backend.get_array_module(p)
        if self.from_logits:
            self.q = stable_softmax(p, self.axis)
        else:
            self.total = p.sum(axis=self.axis, keepdims=True)
            self.q = p / self.total
        self.qc, self.unclipped = _clip(self.q)
        self.log_qc = xp.log(self.qc)
        return (self.alpha * (1 - self.qc) ** self.gamma * (-t * self.log_qc)).sum(axis=self.axis)

    def dvalues(self, g):
        t, qc, gamma = self.t, self.qc, self.gamma
        with np.errstate(divide='ignore', invalid='ignore'):
            dmod = gamma * (1 - qc) ** (gamma - 1) * t * self.log_qc if gamma != 0 else 0
        h = g * self.alpha * (dmod - (1 - qc) ** gamma * t / qc) * self.unclipped
        inner = h - (h * self.q).sum(axis=self.axis, keepdims=True)
        return self.q * inner if self.from_logits else inner / self.total


# --- regression ------------------------------------------------------------------------------------
class MeanSquaredError(_MeanOverAxis):
    """e = (p - t)^2, de/dp = 2 (p - t)."""
    def elementwise(self, t, p):
        self.d = p - t
        return self.d * self.d

    def derivative(self):
        return 2 * self.d


class MeanAbsoluteError(_MeanOverAxis):
    """e = |p - t|, de/dp = sign(p - t)."""
    def elementwise(self, t, p):
        self.d = p - t
        return abs(self.d)

    def derivative(self):
        return backend.get_array_module(self.d).sign(self.d)


class MeanAbsolutePercentageError(_MeanOverAxis):
    """e = 100 |(t - p) / max(|t|, eps)|, de/dp = 100 sign(p - t) / max(|t|, eps)."""
    def elementwise(self, t, p):
        xp = backend.get_array_module(p)
        self.scale = 100 / xp.maximum(abs(t), EPSILON)
        self.d = p - t
        return abs(self.d) * self.scale

    def derivative(self):
        return backend.get_array_module(self.d).sign(self.d) * self.scale


class MeanSquaredLogarithmicError(_MeanOverAxis):
    """e = (log(max(p, eps) + 1) - log(max(t, eps) + 1))^2;
    de/dp = 2 d / (max(p, eps) + 1) where p > eps (else 0), d the difference of logs."""
    def elementwise(self, t, p):
        xp = backend.get_array_module(p)
        self.pp = xp.maximum(p, EPSILON) + 1
        self.above = p > EPSILON
        self.d = xp.log(self.pp) - xp.log(xp.maximum(t, EPSILON) + 1)
        return self.d * self.d

    def derivative(self):
        return 2 * self.d / self.pp * self.above


class Huber(_MeanOverAxis):
    """e = d^2 / 2 where |d| <= delta, else delta |d| - delta^2 / 2 (d = p - t);
    de/dp = clip(d, -delta, delta)."""
    def __init__(self, y_true, delta=1.0, axis=-1, mean=False):
        super().__init__(y_true, axis, mean)
        self.delta = delta

    def elementwise(self, t, p):
        xp = backend.get_array_module(p)
        self.d = p - t
        a = abs(self.d)
        return xp.where(a <= self.delta, 0.5 * self.d * self.d, self.delta * a - 0.5 * self.delta * self.delta)

    def derivative(self):
        return backend.get_array_module(self.d).clip(self.d, -self.delta, self.delta)


class LogCosh(_MeanOverAxis):
    """e = log(cosh(d)), d = p - t, computed as d + softplus(-2d) - log 2 (no overflow);
    de/dp = tanh(d)."""
    def elementwise(self, t, p):
        xp = backend.get_array_module(p)
        self.d = p - t
        y = -2 * self.d
        return self.d + (xp.maximum(y, 0) + xp.log1p(xp.exp(-abs(y)))) - math.log(2.0)

    def derivative(self):
        return backend.get_array_module(self.d).tanh(self.d)


class Poisson(_MeanOverAxis):
    """e = p - t log(p + eps), de/dp = 1 - t / (p + eps)."""
    def elementwise(self, t, p):
        self.pe = p + EPSILON
        return p - t * backend.get_array_module(p).log(self.pe)

    def derivative(self):
        return 1 - self.t / self.pe


class Hinge(_MeanOverAxis):
    """e = max(1 - t p, 0) (squared: its square), labels in {-1, 1};
    de/dp = -t [1 - t p > 0] (squared: -2 t max(1 - t p, 0))."""
    def __init__(self, y_true, squared=False, axis=-1, mean=False):
        super().__init__(y_true, axis, mean)
        self.squared = squared

    def elementwise(self, t, p):
        self.margin = backend.get_array_module(p).maximum(1 - t * p, 0)
        return self.margin * self.margin if self.squared else self.margin

    def derivative(self):
        if self.squared:
            return -2 * self.t * self.margin
        return -self.t * (self.margin > 0)


# --- sums over the class axis -----------------------------------------------------------------------
class CategoricalHinge(LossFunction):
    """l = max(neg - pos + 1, 0) with pos = sum(t p), neg = max((1 - t) p);
    dl/dp = [l > 0] (onehot(argmax (1 - t) p) (1 - t) - t)."""

    def values(self, t, p):
        xp = backend.get_array_module(p)
        wrong = (1 - t) * p
        self.argmax = wrong.argmax(axis=-1)[..., None]
        neg = xp.take_along_axis(wrong, self.argmax, axis=-1)[..., 0]
        margin = neg - (t * p).sum(axis=-1) + 1
        self.active = margin > 0
        return xp.maximum(margin, 0)

    def dvalues(self, g):
        t = self.t
        xp = backend.get_array_module(t)
        picked = xp.arange(t.shape[-1]) == self.argmax
        return g * (picked * (1 - t) - t) * self.active[..., None]


class KLDivergence(LossFunction):
    """l = sum(tc log(tc / pc)) with tc = clip(t, eps, 1), pc = clip(p, eps, 1);
    dl/dp = -tc / pc where eps <= p <= 1 (else 0)."""

    def values(self, t, p):
        xp = backend.get_array_module(p)
        self.tc = xp.clip(t, EPSILON, 1)
        self.pc = xp.clip(p, EPSILON, 1)
        self.inside = (p >= EPSILON) & (p <= 1)
        return (self.tc * xp.log(self.tc / self.pc)).sum(axis=-1)

    def dvalues(self, g):
        return g * (-self.tc / self.pc) * self.inside


class CosineSimilarity(LossFunction):
    """l = -sum(n(t) n(p)) over ``axis``, n(x) = x / max(|x|, eps) (Keras' l2 normalize).
    dl/dp = -(n(t) - u (u . n(t))) / |p| with u = n(p) where |p| > eps; -n(t) / eps otherwise."""

    def __init__(self, y_true, axis=-1, mean=False):
        super().__init__(y_true, mean)
        self.axis = axis

    def values(self, t, p):
        xp = backend.get_array_module(p)
        self.nt = t / xp.maximum(xp.sqrt((t * t).sum(axis=self.axis, keepdims=True)), EPSILON)
        norm = xp.sqrt((p * p).sum(axis=self.axis, keepdims=True))
        self.big = norm > EPSILON
        self.norm = xp.maximum(norm, EPSILON)
        self.u = p / self.norm
        return -(self.nt * self.u).sum(axis=self.axis)

    def dvalues(self, g):
        xp = backend.get_array_module(self.u)
        projected = self.nt - self.u * (self.u * self.nt).sum(axis=self.axis, keepdims=True)
        return -g * xp.where(self.big, projected, self.nt) / self.norm


# --- labels --------------------------------------------------------------------------------------------
def prepare(y_true, y_pred, op='loss'):
    """``y_true`` as a raw array on ``y_pred``'s device, in its dtype and at its rank (a trailing
    size-1 axis is added or dropped, as Keras' ``squeeze_or_expand_to_same_rank``); a label array
    already in that form is returned as it is. ``y_pred`` is an array or a Tensor."""
    pred = y_pred.data if isinstance(y_pred, Tensor) else y_pred
    raw = y_true.data if isinstance(y_true, Tensor) else y_true
    xp = backend.get_array_module(pred)
    if type(raw) is not type(pred):
        raw = xp.asarray(backend.to_numpy(raw) if xp is np else raw)
    t = raw if raw.dtype == pred.dtype else raw.astype(pred.dtype)
    if t.ndim == pred.ndim + 1 and t.shape[-1] == 1:
        t = t[..., 0]
    elif pred.ndim == t.ndim + 1 and pred.shape[-1] == 1:
        t = t[..., None]
    if t.shape != pred.shape:
        raise ValueError(f'{op}: y_true has shape {tuple(t.shape)} but y_pred has shape {tuple(pred.shape)}; '
                         'they must match (for integer class labels use sparse_categorical_crossentropy).')
    return t


def one_hot(labels, y_pred, axis=-1, ignore_class=None):
    """Integer class labels (``y_pred``'s shape without ``axis``) as a one-hot array shaped like
    ``y_pred``, on its device and in its dtype. Labels equal to ``ignore_class`` get an all-zero
    row: their loss and its gradient are 0. Returns the one-hot array and the mask of valid labels
    (None without ``ignore_class``)."""
    pred = y_pred.data if isinstance(y_pred, Tensor) else y_pred
    xp = backend.get_array_module(pred)
    raw = labels.data if isinstance(labels, Tensor) else labels
    labels = xp.asarray(raw if backend.is_cupy(raw) or xp is np else backend.to_numpy(raw))
    axis = axis % pred.ndim
    classes = xp.arange(pred.shape[axis]).reshape((-1,) + (1,) * (pred.ndim - 1 - axis))
    labels = labels.astype(np.int64) if labels.dtype.kind != 'i' else labels
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = xp.where(valid, labels, -1)       # -1 matches no class: an all-zero row
    target = (xp.expand_dims(labels, axis) == classes).astype(pred.dtype)
    return target, valid


# --- keras.ops signatures ----------------------------------------------------------------------------------
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample -sum(target log softmax(output)) (logits) or -sum(target log q) with
    q = clip(output / sum(output)), over ``axis`` (``keras.ops.categorical_crossentropy``)."""
    output = as_tensor(output)
    t = prepare(target, output, 'categorical_crossentropy')
    return CategoricalCrossentropy(t, bool(from_logits), axis)(output)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """categorical_crossentropy with integer class labels (``output``'s shape without ``axis``, or
    with a trailing 1) (``keras.ops.sparse_categorical_crossentropy``)."""
    output = as_tensor(output)
    raw = target.data if isinstance(target, Tensor) else target
    raw = raw if hasattr(raw, 'ndim') else np.asarray(raw)
    if raw.ndim == output.ndim and raw.shape[-1] == 1:
        raw = raw[..., 0]
    expected = output.shape[:axis % output.ndim] + output.shape[axis % output.ndim + 1:]
    if tuple(raw.shape) != tuple(expected):
        raise ValueError(f'sparse_categorical_crossentropy: integer labels must have shape {tuple(expected)} '
                         f'(or with a trailing 1) for output of shape {tuple(output.shape)}, got {tuple(raw.shape)}.')
    t, _ = one_hot(raw, output, axis)
    return CategoricalCrossentropy(t, bool(from_logits), axis)(output)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise -(t log p + (1 - t) log(1 - p)), p = sigmoid(output) (logits, computed with
    log-sigmoid) or output clipped to [1e-7, 1 - 1e-7] (``keras.ops.binary_crossentropy``)."""
    output = as_tensor(output)
    t = prepare(target, output, 'binary_crossentropy')
    return BinaryCrossentropy(t, bool(from_logits), axis=None)(output)
