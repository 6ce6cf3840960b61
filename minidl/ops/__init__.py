"""``minidl.ops``: Keras 3's ``keras.ops`` namespace on minidl tensors (``from minidl import ops``
where Keras code has ``from keras import ops``).

The NumPy-style and math functions live in ``ops.core``, the neural-network ones in ``ops.nn``
(also at the top level, as in Keras), ``ops.linalg`` and ``ops.image``. All are thin wrappers
over the reference ops of ``minidl.functional``, differentiable wherever Keras' are, and they
record graph nodes when called on symbolic tensors.
"""
from .core import *  # noqa: F401,F403
from .core import OpLayer, symbolic  # noqa: F401
from .nn import *  # noqa: F401,F403
from . import core, nn, linalg, image  # noqa: F401
from .linalg import norm  # noqa: F401
