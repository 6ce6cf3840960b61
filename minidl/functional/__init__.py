"""Differentiable functions on Tensors, imported as ``import minidl.functional as F``."""
from .math import (add, sub, mul, div, neg, pow, exp, log, sqrt, abs, maximum, minimum,  # noqa: F401
                   clip, where, matmul)
from .shape import (reshape, transpose, broadcast_to, sum_to, concatenate, stack, split,  # noqa: F401
                    pad, getitem, flatten, expand_dims, squeeze)
from .reduce import sum, mean, max, min, var  # noqa: F401
from .activation import (relu, leaky_relu, elu, sigmoid, tanh, softplus, softmax,  # noqa: F401
                         log_softmax, linear)
