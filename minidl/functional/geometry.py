"""Window geometry, written once: how a sliding window (a convolution kernel, a pooling window)
meets an input along each spatial axis.

Everything here is arithmetic on sizes; no arrays. The ops (``functional/conv.py``,
``functional/pool.py``, the fast forms in ``minidl/kernels/``) and the layers
(``layers/conv.py``, ``layers/pooling.py``) all ask this module, so the rules live in one place.

Along one axis, with input size ``n``, kernel size ``k``, stride ``s`` and dilation ``d``:

* the kernel covers ``k_eff = (k - 1) d + 1`` input positions;
* the input is padded by ``(before, after)`` zeros, chosen by the padding rule:

  ============  =========================================  ==================================
  padding       output size                                padding (before, after)
  ============  =========================================  ==================================
  ``'valid'``   ``floor((n - k_eff) / s) + 1``             ``(0, 0)``
  ``'same'``    ``ceil(n / s)``                            ``total = max((out - 1) s + k_eff - n, 0)``,
                                                           ``before = total // 2`` (TensorFlow's rule:
                                                           the extra zero goes after)
  ``'causal'``  ``ceil(n / s)`` (1-D only)                 ``(k_eff - 1, 0)``: output t sees inputs <= t
  ============  =========================================  ==================================

* output position ``o`` reads the padded input at ``o s + i d`` for the kernel offsets
  ``i = 0 .. k - 1``, so the padded size must hold ``(out - 1) s + k_eff`` positions.

The transposed convolution (``Conv2DTranspose``) is the adjoint of a strided convolution: it
maps a size ``n`` back to ``L = transposed_output_length(n, ...)`` (Keras' rule), and is exactly
the input gradient of the convolution that maps a size ``L`` to ``n``. That convolution's pads
(``transposed_pad_amounts``) come from one rule for both paddings: the ``(n - 1) s + k_eff``
positions the windows span, less ``L``, is the total; ``before = max(total, 0) // 2`` and
``after = total - before``. ``after`` is negative when ``L`` is longer than the windows reach
(``output_padding``, or 'valid' with ``s > k_eff``): those last outputs receive only the bias.
"""
import numpy as np

PADDINGS = ('valid', 'same', 'causal')


def normalize_tuple(value, n, name, owner=None):
    """An int, or a sequence of ``n`` positive ints (kernel size, strides, pool size, dilation),
    as an ``n``-tuple of Python ints. ``owner`` ('conv2d', "Layer 'conv2d'") starts the error."""
    values = (value,) * n if isinstance(value, (int, np.integer)) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if len(values) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                                   for v in values):
        where = f'{owner}: ' if owner else ''
        raise ValueError(f'{where}{name} must be a positive int or a sequence of {n} positive ints, got {value!r}.')
    return tuple(int(v) for v in values)


def normalize_padding(padding, owner=None, allowed=('valid', 'same')):
    """``padding`` lower-cased, if it is one of ``allowed``; else a ValueError naming ``owner``."""
    rule = str(padding).lower()
    if rule not in allowed:
        where = f'{owner}: ' if owner else ''
        choices = ' or '.join(repr(a) for a in allowed)
        raise ValueError(f'{where}padding must be {choices}, got {padding!r}.')
    return rule


def effective_kernel(kernel, dilation=1):
    """How many input positions a dilated kernel spans: (k - 1) d + 1."""
    return (kernel - 1) * dilation + 1


def output_length(size, kernel, stride, padding, dilation=1):
    """The output size along one axis (None for an unknown input size), by the table above."""
    if size is None:
        return None
    if padding in ('same', 'causal'):
        return -(-size // stride)
    return (size - effective_kernel(kernel, dilation)) // stride + 1


def output_shape(spatial, kernel, strides, padding, dilation=None):
    """``output_length`` for every spatial axis."""
    dilation = dilation or (1,) * len(spatial)
    return tuple(output_length(n, k, s, padding, d) for n, k, s, d in zip(spatial, kernel, strides, dilation))


def pad_amounts(spatial, kernel, strides, padding, dilation=None, owner=None, allowed=PADDINGS):
    """((before, after), ...) zeros per spatial axis for the padding rule, which is checked here
    (against ``allowed``; ``owner`` names the op in the error): the ops call this once, and pass
    on only the numbers."""
    rule = normalize_padding(padding, owner, allowed)
    dilation = dilation or (1,) * len(spatial)
    pads = []
    for n, k, s, d in zip(spatial, kernel, strides, dilation):
        k_eff = effective_kernel(k, d)
        if rule == 'valid':
            pads.append((0, 0))
        elif rule == 'causal':
            pads.append((k_eff - 1, 0))
        else:
            total = max((-(-n // s) - 1) * s + k_eff - n, 0)
            pads.append((total // 2, total - total // 2))
    return tuple(pads)


def padded_output_shape(spatial, pads, kernel, strides, op='conv', dilation=None):
    """The output's spatial shape for an input padded by ``pads``:
    ``(n + before + after - k_eff) // s + 1`` per axis, or a ValueError naming ``op`` when the
    window does not fit."""
    dilation = dilation or (1,) * len(spatial)
    padded = tuple(n + before + after for n, (before, after) in zip(spatial, pads))
    out = tuple((n - effective_kernel(k, d)) // s + 1 for n, k, s, d in zip(padded, kernel, strides, dilation))
    if min(out, default=1) < 1:
        raise ValueError(f'{op}: the window {tuple(kernel)} does not fit in the (padded) input of spatial size '
                         f'{padded}; use a smaller window or padding="same".')
    return out


def transposed_output_length(size, kernel, stride, padding, output_padding=None, dilation=1):
    """The output size of a transposed convolution along one axis (Keras' rule; None stays None):
    'valid': (n - 1) s + k_eff + output_padding, with output_padding = max(k_eff, s) - k_eff
    by default; 'same': n s by default, else (n - 1) s + k_eff % 2 + output_padding."""
    if size is None:
        return None
    rule = normalize_padding(padding)
    k_eff = effective_kernel(kernel, dilation)
    if rule == 'valid':
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        return (size - 1) * stride + k_eff + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + k_eff % 2 + output_padding


def transposed_pad_amounts(spatial, kernel, strides, padding, output_padding=None, dilation=None, owner=None):
    """((before, after), ...) per spatial axis: the pads of the convolution whose input gradient
    is this transposed convolution (see the module docstring; ``after`` may be negative, which
    means the convolution's input is that much longer than its windows read). The padding rule
    ('valid' or 'same') is checked here, naming ``owner``."""
    rule = normalize_padding(padding, owner, ('valid', 'same'))
    nd = len(spatial)
    dilation = dilation or (1,) * nd
    output_padding = (None,) * nd if output_padding is None else output_padding
    pads = []
    for n, k, s, extra, d in zip(spatial, kernel, strides, output_padding, dilation):
        total = (n - 1) * s + effective_kernel(k, d) - transposed_output_length(n, k, s, rule, extra, d)
        before = max(total, 0) // 2
        pads.append((before, total - before))
    return tuple(pads)


def normalize_output_padding(output_padding, strides, owner=None):
    """None, or an ``len(strides)``-tuple of ints with 0 <= output_padding < stride (Keras' rule)."""
    if output_padding is None:
        return None
    n = len(strides)
    values = (output_padding,) * n if isinstance(output_padding, (int, np.integer)) else output_padding
    where = f'{owner}: ' if owner else ''
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if len(values) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0
                                   for v in values):
        raise ValueError(f'{where}output_padding must be None, a non-negative int or a sequence of {n} of them, '
                         f'got {output_padding!r}.')
    for axis, (extra, s) in enumerate(zip(values, strides)):
        if extra >= s:
            raise ValueError(f'{where}output_padding must be smaller than the stride on every axis; on axis {axis} '
                             f'it is {extra} with stride {s} (output_padding={values}, strides={tuple(strides)}).')
    return tuple(int(v) for v in values)
