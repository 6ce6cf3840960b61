"""Fused elementwise steps: written once in plain NumPy and once as a single CuPy kernel.

On the CPU each function below is the few NumPy calls that state its math. On the GPU the same
math is one ``ElementwiseKernel``: one launch and one pass over memory instead of a chain of them,
which is where an eager GPU step loses its time (arch2's step had ~60 elementwise launches beside
its GEMMs). The tests compare the two paths. Arrays are channels-last and contiguous, so an
element's index is ``i = ((n H + h) W + w) C + c``; per-channel vectors broadcast over the last axis.
"""
import math

from ..backend import elementwise_kernel, get_array_module, is_cupy, random_unit


# --- batch normalisation -------------------------------------------------------------------

def center(x2d, total, inv_m):
    """c = x - total / m and c^2 (the centred input and its square), for the variance."""
    if is_cupy(x2d):
        kernel = elementwise_kernel('minidl_center', 'T x, T total, T inv_m', 'T c, T c2',
                                    'c = x - total * inv_m; c2 = c * c')
        return kernel(x2d, total, x2d.dtype.type(inv_m))
    c = x2d - total * inv_m
    return c, get_array_module(x2d).multiply(c, c)


def update_moving(moving_mean, moving_var, total, total_sq, inv_m, momentum):
    """In place: moving = momentum moving + (1 - momentum) statistic, for the batch mean
    total / m and the biased variance total_sq / m (Keras' rule), in the moving arrays' dtype."""
    if is_cupy(total):
        kernel = elementwise_kernel(
            'minidl_bn_update_moving', 'T total, T total_sq, T inv_m, M momentum', 'M mean, M var',
            'mean = momentum * mean + ((M)1 - momentum) * (M)(total * inv_m);'
            'var = momentum * var + ((M)1 - momentum) * (M)(total_sq * inv_m)')
        kernel(total, total_sq, total.dtype.type(inv_m), moving_mean.dtype.type(momentum), moving_mean, moving_var)
        return
    for moving, stat in ((moving_mean, total * inv_m), (moving_var, total_sq * inv_m)):
        moving *= momentum
        moving += (1 - momentum) * stat.astype(moving.dtype)


def normalizer(total_sq, gamma, inv_m, epsilon):
    """inv_std = 1 / sqrt(var + eps) with var = total_sq / m, and scale = gamma inv_std
    (gamma may be None: scale = inv_std)."""
    xp = get_array_module(total_sq)
    if gamma is None:
        gamma = xp.ones_like(total_sq)
    if is_cupy(total_sq):
        kernel = elementwise_kernel('minidl_bn_normalizer', 'T s2, T gamma, T inv_m, T eps', 'T inv_std, T scale',
                                    'inv_std = (T)1 / sqrt(s2 * inv_m + eps); scale = gamma * inv_std')
        t = total_sq.dtype.type
        return kernel(total_sq, gamma.astype(total_sq.dtype, copy=False), t(inv_m), t(epsilon))
    inv_std = 1 / xp.sqrt(total_sq * inv_m + epsilon)
    return inv_std, inv_std * gamma


def affine(x, scale, shift, out=None):
    """y = x scale + shift (scale, shift per channel; shift may be None)."""
    xp = get_array_module(x)
    if shift is None:
        return xp.multiply(x, scale, out=out)
    if is_cupy(x):
        kernel = elementwise_kernel('minidl_affine', 'T x, T scale, T shift', 'T y', 'y = x * scale + shift')
        args = (x, scale.astype(x.dtype, copy=False), shift.astype(x.dtype, copy=False))
        return kernel(*args) if out is None else kernel(*args, out)
    y = xp.multiply(x, scale, out=out)
    y += shift
    return y


def batch_norm_input_grad(gy, c, gbeta, ggamma, inv_std, scale, inv_m, out=None):
    """dx = scale (gy - (gbeta + c inv_std ggamma) / m): batch norm's input gradient, with c the
    centred input, gbeta = sum(gy), ggamma = sum(gy c) inv_std and scale = gamma inv_std."""
    if is_cupy(gy):
        kernel = elementwise_kernel(
            'minidl_bn_input_grad', 'T gy, T c, T gbeta, T ggamma, T inv_std, T scale, T inv_m', 'T gx',
            'gx = scale * (gy - (gbeta + c * inv_std * ggamma) * inv_m)')
        args = [a.astype(gy.dtype, copy=False) for a in (gy, c, gbeta, ggamma, inv_std, scale)] + [gy.dtype.type(inv_m)]
        return kernel(*args) if out is None else kernel(*args, out)
    gx = get_array_module(gy).multiply(c, -ggamma * inv_std * inv_m, out=out)
    gx += gy
    gx -= gbeta * inv_m
    gx *= scale
    return gx


# --- dropout and ReLU ------------------------------------------------------------------------

def dropout_mask(x, rate):
    """(y, mask) with mask = (u >= rate) / (1 - rate), u ~ U[0, 1) in x's dtype, and y = x mask."""
    u = random_unit(x.shape, x.dtype)
    scale = x.dtype.type(1 / (1 - rate))
    if is_cupy(x):
        kernel = elementwise_kernel('minidl_dropout', 'T x, T u, T rate, T scale', 'T y, T mask',
                                    'mask = u >= rate ? scale : (T)0; y = x * mask')
        return kernel(x, u, x.dtype.type(rate), scale)
    mask = (u >= rate).astype(x.dtype)
    mask *= scale
    return x * mask, mask


def relu_grad(gy, y):
    """dx = gy where the ReLU's output y > 0, else 0."""
    if is_cupy(gy):
        kernel = elementwise_kernel('minidl_relu_grad', 'T gy, T y', 'T gx', 'gx = y > (T)0 ? gy : (T)0')
        return kernel(gy, y)
    return gy * (y > 0)


# --- GPU-only index kernels: im2col and disjoint max pooling ------------------------------------
# 1-D data (N, W, C) is handled as 2-D with H = 1.

def _as_2d(shape, kernel, strides, pads):
    """(N, H, W, C), (kh, kw), (sh, sw), (ph, pw) for 1-D or 2-D channels-last data."""
    if len(shape) == 3:
        return (shape[0], 1) + tuple(shape[1:]), (1,) + tuple(kernel), (1,) + tuple(strides), (0, pads[0][0])
    return tuple(shape), tuple(kernel), tuple(strides), (pads[0][0], pads[1][0])


_GEOMETRY = 'int32 H, int32 W, int32 C, int32 OH, int32 OW, int32 KH, int32 KW, int32 SH, int32 SW, int32 PH, int32 PW'


def im2col_gpu(x, kernel, strides, pads, out_spatial):
    """col[(n, oh, ow), (a, b, c)] = x[n, oh sh + a - ph, ow sw + b - pw, c], 0 outside x: the
    padding and the window copy of im2col in one kernel, with no padded copy of x."""
    (n, h, w, c), (kh, kw), (sh, sw), (ph, pw) = _as_2d(x.shape, kernel, strides, pads)
    oh, ow = (1,) + tuple(out_spatial) if len(out_spatial) == 1 else out_spatial
    xp = get_array_module(x)
    col = xp.empty((n * oh * ow, kh * kw * c), x.dtype)
    im2col = elementwise_kernel('minidl_im2col', 'raw T x, ' + _GEOMETRY, 'T col', '''
        int c = i % C; ptrdiff_t t = i / C;
        int b = t % KW; t /= KW; int a = t % KH; t /= KH;
        int ow = t % OW; t /= OW; int oh = t % OH; ptrdiff_t n = t / OH;
        int h = oh * SH + a - PH, w = ow * SW + b - PW;
        col = (h >= 0 && h < H && w >= 0 && w < W) ? x[((n * H + h) * W + w) * C + c] : (T)0;''')
    im2col(xp.ascontiguousarray(x).reshape(-1), h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, col)
    return col


def max_pool_fits_gpu(x, pool, strides):
    """The one-kernel max pooling handles disjoint windows (stride >= pool, as Keras' default)
    of at most 127 elements (the arg-max is an int8)."""
    return is_cupy(x) and all(s >= k for k, s in zip(pool, strides)) and math.prod(pool) <= 127


def max_pool_gpu(x, pool, strides, pads, out_spatial):
    """y = the maximum of each window (padding excluded) and arg = its row-major position in
    the window, the first one on ties."""
    (n, h, w, c), (kh, kw), (sh, sw), (ph, pw) = _as_2d(x.shape, pool, strides, pads)
    oh, ow = (1,) + tuple(out_spatial) if len(out_spatial) == 1 else out_spatial
    xp = get_array_module(x)
    y = xp.empty((x.shape[0],) + tuple(out_spatial) + (c,), x.dtype)
    arg = xp.empty(y.shape, xp.int8)
    pool_kernel = elementwise_kernel('minidl_max_pool', 'raw T x, ' + _GEOMETRY, 'T y, int8 arg', '''
        int c = i % C; ptrdiff_t t = i / C;
        int ow = t % OW; t /= OW; int oh = t % OH; ptrdiff_t n = t / OH;
        bool found = false; T best = 0; int best_k = 0;
        for (int a = 0; a < KH; ++a) {
            int h = oh * SH + a - PH;
            if (h < 0 || h >= H) continue;
            for (int b = 0; b < KW; ++b) {
                int w = ow * SW + b - PW;
                if (w < 0 || w >= W) continue;
                T v = x[((n * H + h) * W + w) * C + c];
                if (!found || v > best) { best = v; best_k = a * KW + b; found = true; }
            }
        }
        y = best; arg = best_k;''')
    pool_kernel(xp.ascontiguousarray(x).reshape(-1), h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, y, arg)
    return y, arg


def max_pool_grad_gpu(gy, arg, x_shape, pool, strides, pads):
    """gx[n, h, w, c] = gy at the window that holds (h, w) if the window's arg-max is there, else
    0. Windows are disjoint, so each input has at most one window: no accumulation."""
    (n, h, w, c), (kh, kw), (sh, sw), (ph, pw) = _as_2d(x_shape, pool, strides, pads)
    oh, ow = (1,) + tuple(gy.shape[1:-1]) if gy.ndim == 3 else gy.shape[1:3]
    xp = get_array_module(gy)
    gx = xp.empty(x_shape, gy.dtype)
    grad_kernel = elementwise_kernel('minidl_max_pool_grad', 'raw T gy, raw int8 arg, ' + _GEOMETRY, 'T gx', '''
        int c = i % C; ptrdiff_t t = i / C;
        int w = t % W; t /= W; int h = t % H; ptrdiff_t n = t / H;
        int oh = (h + PH) / SH, a = h + PH - oh * SH, ow = (w + PW) / SW, b = w + PW - ow * SW;
        T g = 0;
        if (a < KH && b < KW && oh < OH && ow < OW) {
            ptrdiff_t o = ((n * OH + oh) * OW + ow) * C + c;
            if (arg[o] == a * KW + b) g = gy[o];
        }
        gx = g;''')
    grad_kernel(xp.ascontiguousarray(gy).reshape(-1), arg.reshape(-1), h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, gx)
    return gx
