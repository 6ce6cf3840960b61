"""What the CUDA kernels of this package share: the memoized ``ElementwiseKernel`` factory and
the window geometry they take as arguments.

A kernel is one fused GPU launch instead of a chain of elementwise calls (each a launch and a
pass over memory). The index kernels (im2col, max pooling) give each thread one element of
channels-last data, ``i = ((n H + h) W + w) C + c``; 1-D data ``(N, W, C)`` is handled as 2-D
with ``H = 1``. Only the CuPy backend reaches this code.
"""
from ..backend import elementwise_kernel  # noqa: F401  (re-exported for the kernel modules)

GEOMETRY_PARAMS = ('int32 H, int32 W, int32 C, int32 OH, int32 OW, int32 KH, int32 KW, '
                   'int32 SH, int32 SW, int32 PH, int32 PW')


def kernel_geometry(shape, kernel, strides, pads, out_spatial):
    """The values of ``GEOMETRY_PARAMS`` for 1-D or 2-D channels-last data of ``shape``."""
    def as_2d(values, fill):
        return (fill,) * (2 - len(values)) + tuple(values)
    (h, w), (oh, ow) = as_2d(shape[1:-1], 1), as_2d(out_spatial, 1)
    (kh, kw), (sh, sw) = as_2d(kernel, 1), as_2d(strides, 1)
    ph, pw = as_2d([before for before, _ in pads], 0)
    return h, w, shape[-1], oh, ow, kh, kw, sh, sw, ph, pw
