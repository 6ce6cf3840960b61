"""Weight regularizers with Keras names: calling one on a weight Tensor returns the scalar
penalty Tensor that training adds to the loss.

    L1(l1):      l1 * sum(|w|)
    L2(l2):      l2 * sum(w^2)          (Keras' convention: no factor 1/2)
    L1L2(l1, l2): the sum of both
"""
from . import functional as F


class Regularizer:
    """Base class: subclasses implement ``__call__(weight) -> scalar Tensor``."""

    def __call__(self, weight):
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in self.get_config().items())
        return f'{type(self).__name__}({args})'


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


_BY_NAME = {'l1': L1, 'l2': L2, 'l1_l2': lambda: L1L2(0.01, 0.01), 'l1l2': lambda: L1L2(0.01, 0.01)}


def get(identifier):
    """A regularizer from None, a name ('l2'), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"Unknown regularizer {identifier!r}: use 'l1', 'l2' or 'l1_l2'.")
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        cls = {'l1': L1, 'l2': L2, 'l1l2': L1L2}.get(str(identifier.get('class_name', '')).lower())
        if cls is None:
            raise ValueError(f'Unknown regularizer config {identifier!r}.')
        return cls(**identifier.get('config', {}))
    if callable(identifier):
        return identifier
    raise ValueError(f'Could not interpret regularizer {identifier!r}: pass a name, a Regularizer '
                     'or a callable weight -> scalar Tensor.')
