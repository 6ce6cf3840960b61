"""Weight regularizers with Keras names: calling one on a weight Tensor returns the scalar
penalty Tensor that training adds to the loss.

    L1(l1):      l1 * sum(|w|)
    L2(l2):      l2 * sum(w^2)          (Keras' convention: no factor 1/2)
    L1L2(l1, l2): the sum of both
"""
import numpy as np

from . import functional as F
from .saving.serialization_lib import Configurable


class Regularizer(Configurable):
    """Base class: subclasses implement ``__call__(weight) -> scalar Tensor``."""

    def __call__(self, weight):
        raise NotImplementedError


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        for label, value in (('l1', l1), ('l2', l2)):
            if value is None or float(value) < 0:
                raise ValueError(f'Regularization factor {label} must be a number >= 0, got {value!r}.')
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight):
        penalty = None
        if self.l1:
            penalty = F.sum(F.abs(weight)) * self.l1
        if self.l2:
            term = F.sum_squares(weight) * self.l2
            penalty = term if penalty is None else penalty + term
        return penalty if penalty is not None else F.sum(weight) * 0.0

    def get_config(self):
        return {'l1': self.l1, 'l2': self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {'l1': self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {'l2': self.l2}


def l1(l1=0.01):  # noqa: E743  (Keras' name)
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


class OrthogonalRegularizer(Regularizer):
    """factor * mean(|offdiag(W_n W_n^T)|) where W_n are the rows (mode='rows') or columns
    (mode='columns') of the 2-D weight, each scaled to unit L2 norm (Keras 3's definition)."""

    def __init__(self, factor=0.01, mode='rows'):
        if mode not in ('rows', 'columns'):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {mode!r}.")
        self.factor, self.mode = float(factor), mode

    def __call__(self, weight):
        if len(weight.shape) != 2:
            raise ValueError(f'OrthogonalRegularizer needs a 2-D weight, got shape {tuple(weight.shape)}.')
        w = weight if self.mode == 'rows' else F.transpose(weight)
        norms = F.sqrt(F.sum(w * w, axis=1, keepdims=True))
        w = w / F.maximum(norms, 1e-12)
        product = F.matmul(w, F.transpose(w))
        n = product.shape[0]
        offdiag = F.abs(product) * (1 - np.eye(n, dtype=product.dtype))
        return F.sum(offdiag) * (self.factor / max(n * (n - 1), 1))

    def get_config(self):
        return {'factor': self.factor, 'mode': self.mode}


orthogonal_regularizer = OrthogonalRegularizer
_BY_NAME = {'l1': L1, 'l2': L2, 'l1_l2': lambda: L1L2(0.01, 0.01), 'l1l2': lambda: L1L2(0.01, 0.01),
            'orthogonal_regularizer': OrthogonalRegularizer}
_CLASSES = {'L1': L1, 'L2': L2, 'L1L2': L1L2, 'OrthogonalRegularizer': OrthogonalRegularizer}


def serialize(regularizer):
    from .saving.serialization_lib import serialize_keras_object
    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    from .saving.serialization_lib import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects, module_objects={**_BY_NAME, **_CLASSES},
                                    printable_module_name='regularizer')


def get(identifier):
    """A regularizer from None, a name ('l2'), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"Unknown regularizer {identifier!r}: use 'l1', 'l2' or 'l1_l2'.")
        return _BY_NAME[key]()
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f'Could not interpret regularizer {identifier!r}: pass a name, a Regularizer '
                     'or a callable weight -> scalar Tensor.')
