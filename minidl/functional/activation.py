"""Activations, written to be stable: no exp of a large positive number is ever taken.
(ReLU's GPU backward kernel is in ``minidl/kernels/activation.py``.)"""
from .. import kernels
from ..autograd import Function
from ..backend import get_array_module, is_cupy


class ReLU(Function):
    """y = max(x, 0);  dx = gy where y > 0 (the output is kept, not a mask)."""
    def forward(self, x):
        self.y = get_array_module(x).maximum(x, x.dtype.type(0))
        return self.y

    def backward(self, gy):
        return gy * (self.y > 0)


class LeakyReLU(Function):
    """y = x for x > 0, alpha x otherwise."""
    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        self.slope = get_array_module(x).where(x > 0, x.dtype.type(1), x.dtype.type(self.alpha))
        return x * self.slope

    def backward(self, gy):
        return gy * self.slope


class ELU(Function):
    """y = x for x > 0, alpha (e^x - 1) otherwise;  dy/dx = 1 or y + alpha."""
    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = get_array_module(x)
        self.positive = x > 0
        self.y = xp.where(self.positive, x, self.alpha * xp.expm1(xp.minimum(x, 0)))
        return self.y

    def backward(self, gy):
        return gy * get_array_module(gy).where(self.positive, 1, self.y + self.alpha)


def stable_sigmoid(x):
    """1 / (1 + e^-x) computed from e^-|x| so that neither branch overflows."""
    xp = get_array_module(x)
    e = xp.exp(-abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    """dy/dx = y (1 - y)."""
    def forward(self, x):
        self.y = stable_sigmoid(x)
        return self.y

    def backward(self, gy):
        return gy * self.y * (1 - self.y)


class Tanh(Function):
    """dy/dx = 1 - y^2."""
    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


class Softplus(Function):
    """y = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dy/dx = sigmoid(x)."""
    def forward(self, x):
        xp = get_array_module(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-abs(x)))

    def backward(self, gy):
        return gy * stable_sigmoid(self.inputs[0].data)


def stable_softmax(x, axis):
    e = get_array_module(x).exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def stable_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - get_array_module(x).log(get_array_module(x).exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    """y = e^x / sum(e^x);  dx = y (gy - sum(gy y))."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = stable_softmax(x, self.axis)
        return self.y

    def backward(self, gy):
        gyy = gy * self.y
        return gyy - self.y * gyy.sum(axis=self.axis, keepdims=True)


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dx = gy - softmax(x) sum(gy)."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = stable_log_softmax(x, self.axis)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def relu(x): return kernels.make('relu', ReLU, x)(x)
def leaky_relu(x, alpha=0.3): return LeakyReLU(alpha)(x)
def elu(x, alpha=1.0): return ELU(alpha)(x)
def sigmoid(x): return Sigmoid()(x)
def tanh(x): return Tanh()(x)
def softplus(x): return Softplus()(x)
def softmax(x, axis=-1): return Softmax(axis)(x)
def log_softmax(x, axis=-1): return LogSoftmax(axis)(x)
def linear(x): return x


# --- Keras 3's other activations (keras.activations), each a Function with its derivative --------
# At a kink (relu6 at 0 and 6, hard_sigmoid at -3 and 3, ...) the masks' strict inequalities give the
# derivative of the flat side; gradient checks sample away from the kinks.
import math  # noqa: E402


class GeneralReLU(Function):
    """Keras' ``relu(x, negative_slope, max_value, threshold)`` with t = threshold, a = negative_slope:
      y = (x if x > t else 0), clipped to [0, max_value] when max_value is given, minus a relu(t - x);
    so y = x between t and max_value, y = max_value above it and y = a (x - t) below t.
      dy/dx = 1 where x passes (x > t, and 0 < x < max_value when capped), a where x < t, else 0."""
    def __init__(self, negative_slope=0.0, max_value=None, threshold=0.0):
        self.slope, self.max_value, self.threshold = negative_slope, max_value, threshold

    def forward(self, x):
        xp = get_array_module(x)
        t = x.dtype.type(self.threshold)
        passes = x > t
        y = xp.where(passes, x, x.dtype.type(0))
        if self.max_value is not None:
            passes &= (x > 0) & (x < self.max_value)
            y = xp.clip(y, x.dtype.type(0), x.dtype.type(self.max_value))
        below = x < t
        if self.slope:
            y = y - x.dtype.type(self.slope) * xp.where(below, t - x, x.dtype.type(0))
        self.slope_mask = passes.astype(x.dtype) + x.dtype.type(self.slope) * below
        return y

    def backward(self, gy):
        return gy * self.slope_mask


class ReLU6(Function):
    """y = min(max(x, 0), 6);  dy/dx = 1 for 0 < x < 6, else 0."""
    def forward(self, x):
        self.inside = (x > 0) & (x < 6)
        return get_array_module(x).clip(x, x.dtype.type(0), x.dtype.type(6))

    def backward(self, gy):
        return gy * self.inside


class SELU(Function):
    """y = scale x for x > 0, scale alpha (e^x - 1) otherwise (alpha = 1.6732632..., scale = 1.0507009...);
      dy/dx = scale, or y + scale alpha."""
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def forward(self, x):
        xp = get_array_module(x)
        self.positive = x > 0
        self.y = self.scale * xp.where(self.positive, x, self.alpha * xp.expm1(xp.minimum(x, 0)))
        return self.y.astype(x.dtype, copy=False)

    def backward(self, gy):
        xp = get_array_module(gy)
        return gy * xp.where(self.positive, self.scale, self.y + self.scale * self.alpha)


class CELU(Function):
    """y = max(x, 0) + alpha (e^(min(x, 0) / alpha) - 1);  dy/dx = 1 for x > 0, e^(x / alpha) otherwise."""
    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        xp = get_array_module(x)
        self.e = xp.exp(xp.minimum(x, 0) / self.alpha)
        self.positive = x > 0
        return (xp.maximum(x, 0) + self.alpha * (self.e - 1)).astype(x.dtype, copy=False)

    def backward(self, gy):
        return gy * get_array_module(gy).where(self.positive, 1, self.e)


def erf(x):
    """The error function, elementwise, from SciPy (CuPy's cupyx.scipy.special on the GPU)."""
    if is_cupy(x):
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(x)
    import scipy.special
    return scipy.special.erf(x)


class GELU(Function):
    """Exact: y = x Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2;  dy/dx = Phi(x) + x phi(x),
    phi(x) = e^(-x^2 / 2) / sqrt(2 pi).
    Approximate: y = x (1 + tanh u) / 2 with u = sqrt(2 / pi) (x + 0.044715 x^3);
      dy/dx = (1 + tanh u) / 2 + x (1 - tanh^2 u) sqrt(2 / pi) (1 + 3 * 0.044715 x^2) / 2."""
    def __init__(self, approximate=False):
        self.approximate = approximate

    def forward(self, x):
        xp = get_array_module(x)
        if self.approximate:
            self.t = xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))
            return (0.5 * x * (1 + self.t)).astype(x.dtype, copy=False)
        self.cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
        return (x * self.cdf).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0].data
        xp = get_array_module(x)
        if self.approximate:
            du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return gy * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t * self.t) * du)
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return gy * (self.cdf + x * pdf)


class SiLU(Function):
    """Swish: y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)) with s = sigmoid(x)."""
    def forward(self, x):
        self.s = stable_sigmoid(x)
        return x * self.s

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * self.s * (1 + x * (1 - self.s))


class HardSigmoid(Function):
    """y = clip(x / 6 + 1/2, 0, 1);  dy/dx = 1/6 for -3 < x < 3, else 0."""
    def forward(self, x):
        self.inside = (x > -3) & (x < 3)
        return get_array_module(x).clip(x / x.dtype.type(6) + x.dtype.type(0.5), x.dtype.type(0), x.dtype.type(1))

    def backward(self, gy):
        return gy * self.inside / 6


class HardSiLU(Function):
    """Hard swish: y = x hard_sigmoid(x) (0 below -3, x above 3, x (x + 3) / 6 between);
      dy/dx = hard_sigmoid(x) + x / 6 for -3 < x < 3."""
    def forward(self, x):
        xp = get_array_module(x)
        self.inside = (x > -3) & (x < 3)
        self.h = xp.clip(x / x.dtype.type(6) + x.dtype.type(0.5), x.dtype.type(0), x.dtype.type(1))
        return x * self.h

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * (self.h + self.inside * x / 6)


class Softsign(Function):
    """y = x / (1 + |x|);  dy/dx = 1 / (1 + |x|)^2."""
    def forward(self, x):
        self.d = 1 + get_array_module(x).abs(x)
        return x / self.d

    def backward(self, gy):
        return gy / (self.d * self.d)


class Mish(Function):
    """y = x tanh(softplus(x));  dy/dx = t + x (1 - t^2) sigmoid(x) with t = tanh(softplus(x))."""
    def forward(self, x):
        xp = get_array_module(x)
        self.t = xp.tanh(xp.maximum(x, 0) + xp.log1p(xp.exp(-abs(x))))
        return x * self.t

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * (self.t + x * (1 - self.t * self.t) * stable_sigmoid(x))


class LogSigmoid(Function):
    """y = log sigmoid(x) = -softplus(-x);  dy/dx = sigmoid(-x)."""
    def forward(self, x):
        xp = get_array_module(x)
        return -(xp.maximum(-x, 0) + xp.log1p(xp.exp(-abs(x))))

    def backward(self, gy):
        return gy * stable_sigmoid(-self.inputs[0].data)


class HardTanh(Function):
    """y = clip(x, -1, 1);  dy/dx = 1 for -1 < x < 1, else 0."""
    def forward(self, x):
        self.inside = (x > -1) & (x < 1)
        return get_array_module(x).clip(x, x.dtype.type(-1), x.dtype.type(1))

    def backward(self, gy):
        return gy * self.inside


class HardShrink(Function):
    """y = x where |x| > threshold, else 0;  dy/dx = 1 there, else 0."""
    def __init__(self, threshold=0.5):
        self.threshold = threshold

    def forward(self, x):
        self.keep = get_array_module(x).abs(x) > self.threshold
        return x * self.keep

    def backward(self, gy):
        return gy * self.keep


class SoftShrink(Function):
    """y = x - t for x > t, x + t for x < -t, else 0;  dy/dx = 1 outside [-t, t], else 0."""
    def __init__(self, threshold=0.5):
        self.threshold = threshold

    def forward(self, x):
        xp = get_array_module(x)
        t = x.dtype.type(self.threshold)
        self.keep = xp.abs(x) > t
        return xp.where(x > t, x - t, xp.where(x < -t, x + t, x.dtype.type(0)))

    def backward(self, gy):
        return gy * self.keep


class TanhShrink(Function):
    """y = x - tanh(x);  dy/dx = tanh(x)^2."""
    def forward(self, x):
        self.t = get_array_module(x).tanh(x)
        return x - self.t

    def backward(self, gy):
        return gy * self.t * self.t


class Threshold(Function):
    """y = x where x > threshold, else default_value;  dy/dx = 1 where x > threshold, else 0."""
    def __init__(self, threshold, default_value):
        self.threshold, self.default_value = threshold, default_value

    def forward(self, x):
        self.keep = x > self.threshold
        return get_array_module(x).where(self.keep, x, x.dtype.type(self.default_value))

    def backward(self, gy):
        return gy * self.keep


class SparseSigmoid(Function):
    """y = 0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1;  dy/dx = 1/2 inside, else 0."""
    def forward(self, x):
        self.inside = (x > -1) & (x < 1)
        return get_array_module(x).clip((x + 1) / x.dtype.type(2), x.dtype.type(0), x.dtype.type(1))

    def backward(self, gy):
        return gy * self.inside / 2


class SparsePlus(Function):
    """y = 0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1;
      dy/dx = 0, (x + 1) / 2, 1 on those pieces."""
    def forward(self, x):
        xp = get_array_module(x)
        self.slope = xp.where(x <= -1, x.dtype.type(0), xp.where(x < 1, (x + 1) / x.dtype.type(2), x.dtype.type(1)))
        return xp.where(x <= -1, x.dtype.type(0), xp.where(x < 1, (x + 1) ** 2 / x.dtype.type(4), x))

    def backward(self, gy):
        return gy * self.slope


class Squareplus(Function):
    """y = (x + sqrt(x^2 + b)) / 2;  dy/dx = (1 + x / sqrt(x^2 + b)) / 2."""
    def __init__(self, b=4):
        self.b = b

    def forward(self, x):
        self.root = get_array_module(x).sqrt(x * x + x.dtype.type(self.b))
        return (x + self.root) / x.dtype.type(2)

    def backward(self, gy):
        return gy * (1 + self.inputs[0].data / self.root) / 2


class GLU(Function):
    """Gated linear unit: x = [a, b] split in halves along ``axis``; y = a sigmoid(b);
      da = gy sigmoid(b),  db = gy a s (1 - s) with s = sigmoid(b)."""
    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        if x.shape[self.axis] % 2:
            raise ValueError(f'glu: the size of axis {self.axis} must be even to split it in halves, got shape '
                             f'{tuple(x.shape)}.')
        self.a, b = xp.split(x, 2, axis=self.axis)
        self.s = stable_sigmoid(b)
        return self.a * self.s

    def backward(self, gy):
        xp = get_array_module(gy)
        return xp.concatenate([gy * self.s, gy * self.a * self.s * (1 - self.s)], axis=self.axis)


class Sparsemax(Function):
    """Euclidean projection of x onto the probability simplex along ``axis`` (Martins & Astudillo
    2016): y = max(x - tau, 0) with tau = (z_1 + ... + z_k - 1) / k, where z is x sorted in
    decreasing order and k the largest index with z_k > (z_1 + ... + z_k - 1) / k, so that y sums to 1.
      dx = gy - mean(gy over S) on the support S = {y > 0}, 0 elsewhere.
    (Keras 3.15's sparsemax sums the cumulative sums over the support instead of taking the k-th
    one, so its output does not sum to 1 once two or more entries are positive; minidl computes
    the projection itself.)"""
    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        axis = self.axis % x.ndim
        z = -xp.sort(-x, axis=axis)
        cumsum = xp.cumsum(z, axis=axis)
        shape = [1] * x.ndim
        shape[axis] = -1
        k = xp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
        in_support = z - (cumsum - 1) / k > 0
        count = in_support.sum(axis=axis, keepdims=True)
        tau = (xp.take_along_axis(cumsum, count - 1, axis=axis) - 1) / count
        y = xp.maximum(x - tau, 0).astype(x.dtype, copy=False)
        self.support = y > 0
        return y

    def backward(self, gy):
        axis = self.axis % gy.ndim
        s = self.support
        mean = (gy * s).sum(axis=axis, keepdims=True) / s.sum(axis=axis, keepdims=True)
        return (gy - mean) * s


def general_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    return GeneralReLU(negative_slope, max_value, threshold)(x)


def relu6(x): return ReLU6()(x)
def selu(x): return SELU()(x)
def celu(x, alpha=1.0): return CELU(alpha)(x)
def gelu(x, approximate=False): return GELU(approximate)(x)
def silu(x): return SiLU()(x)
def hard_sigmoid(x): return HardSigmoid()(x)
def hard_silu(x): return HardSiLU()(x)
def softsign(x): return Softsign()(x)
def mish(x): return Mish()(x)
def log_sigmoid(x): return LogSigmoid()(x)
def hard_tanh(x): return HardTanh()(x)
def hard_shrink(x, threshold=0.5): return HardShrink(threshold)(x)
def soft_shrink(x, threshold=0.5): return SoftShrink(threshold)(x)
def tanh_shrink(x): return TanhShrink()(x)
def threshold(x, threshold, default_value): return Threshold(threshold, default_value)(x)
def sparse_sigmoid(x): return SparseSigmoid()(x)
def sparse_plus(x): return SparsePlus()(x)
def squareplus(x, b=4): return Squareplus(b)(x)
def glu(x, axis=-1): return GLU(axis)(x)
def sparsemax(x, axis=-1): return Sparsemax(axis)(x)
