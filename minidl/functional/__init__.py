"""Differentiable functions on Tensors, imported as ``import minidl.functional as F``."""
from .math import (add, sub, mul, div, neg, pow, exp, log, sqrt, abs, maximum, minimum,  # noqa: F401
                   clip, where, matmul)
from .shape import (reshape, transpose, broadcast_to, sum_to, concatenate, stack, split,  # noqa: F401
                    pad, getitem, flatten, expand_dims, squeeze)
from .reduce import sum, mean, max, min, var, sum_squares  # noqa: F401
from .activation import (relu, leaky_relu, elu, sigmoid, tanh, softplus, softmax,  # noqa: F401
                         log_softmax, linear)
from .activation import (general_relu, relu6, selu, celu, gelu, silu, hard_sigmoid, hard_silu,  # noqa: F401
                         softsign, mish, log_sigmoid, hard_tanh, hard_shrink, soft_shrink, tanh_shrink,
                         threshold, sparse_sigmoid, sparse_plus, squareplus, glu, sparsemax)
from .conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,  # noqa: F401
                   depthwise_conv1d, depthwise_conv2d, separable_conv1d, separable_conv2d)
from .pool import (max_pool1d, max_pool2d, max_pool3d, avg_pool1d, avg_pool2d, avg_pool3d,  # noqa: F401
                   global_avg_pool1d, global_avg_pool2d, global_avg_pool3d, global_max_pool1d,
                   global_max_pool2d, global_max_pool3d, upsample1d, upsample2d, upsample3d)
from .norm import batch_norm, dropout  # noqa: F401
from .embedding import embedding  # noqa: F401
from .loss import (categorical_crossentropy, sparse_categorical_crossentropy,  # noqa: F401
                   binary_crossentropy)
from . import image  # noqa: F401  (resize and affine_transform of image batches)
from .rnn import simple_rnn, lstm, gru, rnn_loop  # noqa: F401
from .attention import masked_softmax, dot_product_attention, additive_scores, causal_mask  # noqa: F401
from .normalization_ops import layer_norm, group_norm, unit_norm  # noqa: F401
