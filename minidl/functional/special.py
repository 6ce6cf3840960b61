"""Elementwise functions beyond arithmetic, and Einstein summation.

    log1p(x) = log(1 + x)      d/dx = 1 / (1 + x)        (accurate for small x)
    expm1(x) = e^x - 1         d/dx = e^x = y + 1
    sin, cos                   d/dx = cos x, -sin x
    erf(x)                     d/dx = 2 / sqrt(pi) e^(-x^2)
    einsum(spec, *ops)         d/d op_k = einsum of gy with the other operands, written to op_k's
                               subscripts (a sum over what op_k does not index)
"""
import math

from ..autograd import Function
from ..backend import get_array_module, is_cupy


class Log1p(Function):
    def forward(self, x):
        return get_array_module(x).log1p(x)

    def backward(self, gy):
        return gy / (1 + self.inputs[0].data)


class Expm1(Function):
    def forward(self, x):
        self.y = get_array_module(x).expm1(x)
        return self.y

    def backward(self, gy):
        return gy * (self.y + 1)


class Sin(Function):
    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, gy):
        return gy * get_array_module(gy).cos(self.inputs[0].data)


class Cos(Function):
    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, gy):
        return -gy * get_array_module(gy).sin(self.inputs[0].data)


def _erf_function(x):
    if is_cupy(x):
        import cupyx.scipy.special
        return cupyx.scipy.special.erf
    import scipy.special
    return scipy.special.erf


class Erf(Function):
    def forward(self, x):
        return _erf_function(x)(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * (2 / math.sqrt(math.pi)) * get_array_module(x).exp(-x * x)


class Cast(Function):
    """y = x in another floating dtype; the gradient is cast back to x's dtype."""
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.inputs[0].dtype)


class Einsum(Function):
    """Explicit-output Einstein summation over several operands."""
    def __init__(self, inputs_spec, output_spec):
        self.inputs_spec, self.output_spec = inputs_spec, output_spec

    def forward(self, *operands):
        spec = ','.join(self.inputs_spec) + '->' + self.output_spec
        return get_array_module(operands[0]).einsum(spec, *operands)

    def backward(self, gy):
        xp = get_array_module(gy)
        grads = []
        for k, x in enumerate(self.inputs):
            if not x.requires_grad:
                grads.append(None)
                continue
            others = [(s, t.data) for i, (s, t) in enumerate(zip(self.inputs_spec, self.inputs)) if i != k]
            target = self.inputs_spec[k]
            present = set(self.output_spec) | {c for s, _ in others for c in s}
            missing = [c for c in dict.fromkeys(target) if c not in present and c != '.']
            spec = ','.join([self.output_spec] + [s for s, _ in others])
            if missing or len(set(target.replace('...', ''))) != len(target.replace('...', '')):
                raise NotImplementedError(
                    f"einsum: the gradient for operand '{target}' (a subscript that is summed within one operand "
                    f'or repeated) is not supported; write the expression with explicit sums.')
            g = xp.einsum(spec + '->' + target, gy, *[d for _, d in others])
            grads.append(g)
        return tuple(grads)


def log1p(x): return Log1p()(x)
def expm1(x): return Expm1()(x)
def sin(x): return Sin()(x)
def cos(x): return Cos()(x)
def erf(x): return Erf()(x)
def cast(x, dtype): return Cast(dtype)(x)


def einsum(subscripts, *operands):
    """``np.einsum`` with gradients for every operand: 'ij,jk->ik', 'bqhd,bkhd->bhqk', ... An
    implicit output ('ij,jk') gets NumPy's (the letters that appear once, sorted)."""
    spec = subscripts.replace(' ', '')
    if '->' in spec:
        inputs, output = spec.split('->')
    else:
        inputs = spec
        letters = [c for c in inputs.replace(',', '').replace('.', '')]
        output = ('...' if '...' in inputs else '') + ''.join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = inputs.split(',')
    if len(inputs) != len(operands):
        raise ValueError(f'einsum: {subscripts!r} names {len(inputs)} operand(s), got {len(operands)}.')
    return Einsum(tuple(inputs), output)(*operands)



class Inv(Function):
    """y = A^-1;  dA = -y^T gy y^T (batched over leading axes)."""
    def forward(self, a):
        self.y = get_array_module(a).linalg.inv(a)
        return self.y

    def backward(self, gy):
        yt = self.y.swapaxes(-1, -2)
        return -(yt @ gy @ yt)


class Det(Function):
    """y = det(A);  dA = gy y A^-T."""
    def forward(self, a):
        self.y = get_array_module(a).linalg.det(a)
        return self.y

    def backward(self, gy):
        a = self.inputs[0].data
        inv_t = get_array_module(a).linalg.inv(a).swapaxes(-1, -2)
        return (gy * self.y)[..., None, None] * inv_t


class Solve(Function):
    """x = A^-1 b;  db = A^-T gy,  dA = -db x^T."""
    def forward(self, a, b):
        self.x = get_array_module(a).linalg.solve(a, b)
        return self.x

    def backward(self, gy):
        a = self.inputs[0].data
        xp = get_array_module(a)
        gb = xp.linalg.solve(a.swapaxes(-1, -2), gy)
        x = self.x if self.x.ndim == gb.ndim and self.x.ndim > 1 and self.inputs[1].ndim > 1 else self.x[..., None]
        g = gb if gb.ndim == x.ndim else gb[..., None]
        return -(g @ x.swapaxes(-1, -2)), gb


def inv(a): return Inv()(a)
def det(a): return Det()(a)
def solve(a, b): return Solve()(a, b)
