"""Attention layers: ``Attention`` (Luong, dot-product), ``AdditiveAttention`` (Bahdanau) and
``MultiHeadAttention`` (Vaswani et al.), with Keras 3's arguments, weights, masks and configs.
The math (and its backward) is in ``functional/attention.py``."""
import math

import numpy as np

from .. import backend
from .. import constraints, initializers, regularizers
from .. import functional as F
from ..autograd import Tensor
from ..functional import attention as att
from .base import Layer, format_shape


def _serialize(obj):
    from ..saving import serialize_keras_object
    return serialize_keras_object(obj)


def _mask_array(mask):
    if mask is None:
        return None
    data = mask.data if isinstance(mask, Tensor) else mask
    data = backend.as_array(data) if not backend.is_cupy(data) else data
    return data if data.dtype == bool else data > 0.5


def _and(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _dropout_mask(shape, rate, dtype, rng=None):
    """1 / (1 - rate) where kept, 0 where dropped (Keras' Dropout on the attention weights)."""
    u = backend.random_unit(shape, dtype) if rng is None else backend.as_array(rng.random(shape).astype(dtype))
    return (u >= rate).astype(dtype) / dtype.type(1 - rate)


class _ReturnsScores:
    """Symbolic calls with ``return_attention_scores=True`` have two outputs."""

    def _symbolic_output_specs(self, args, kwargs, bound):
        specs = super()._symbolic_output_specs(args, kwargs, bound)
        if not kwargs.get('return_attention_scores'):
            return specs
        return [specs, type(specs)((self._scores_shape(args, kwargs), specs[1]))]


class _BaseDenseAttention(_ReturnsScores, Layer):
    """What Attention and AdditiveAttention share: inputs [query, value(, key)], the score mask
    from the value mask (and the causal mask), softmax, dropout, the query mask on the output."""

    def __init__(self, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): dropout must be in [0, 1], got {dropout}.")
        self.dropout, self.seed = float(dropout), seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.supports_masking = True

    def _validate(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' ({name}) must be called on a list [query, value] or "
                             f'[query, value, key], got {type(inputs).__name__}.')
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"Layer '{self.name}' ({name}) takes [query, value] or [query, value, key], got "
                             f'{len(inputs)} inputs.')
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"Layer '{self.name}' ({name}): mask must be a list [query_mask, value_mask], got "
                             f'{mask!r}.')

    def build(self, input_shape):
        self._validate(input_shape)

    def _scores(self, query, key):
        raise NotImplementedError

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        if mask is None:
            mask = [getattr(t, '_keras_mask', None) for t in (q, v)]
        q_mask, v_mask = _mask_array(mask[0]), _mask_array(mask[1])
        scores = self._scores(q, k)
        scores_mask = None if v_mask is None else v_mask[:, None, :]
        if use_causal_mask:
            scores_mask = _and(scores_mask, att.causal_mask(scores.shape[-2], scores.shape[-1],
                                                            backend.get_array_module(scores.data)))
        weights = att.masked_softmax(scores, scores_mask, mode='subtract')
        attended = weights
        if training and self.dropout > 0:
            attended = weights * Tensor(_dropout_mask(weights.shape, self.dropout, weights.dtype, self._rng))
        output = attended @ v
        if q_mask is not None:
            output = F.where(q_mask[..., None], output, output.dtype.type(0))
            output._keras_mask = q_mask
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return _mask_array(mask[0])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def _scores_shape(self, args, kwargs):
        inputs = args[0]
        key = inputs[2] if len(inputs) > 2 else inputs[1]
        return tuple(inputs[0].shape[:-1]) + (key.shape[-2],)

    def get_config(self):
        return {**super().get_config(), 'dropout': self.dropout, 'seed': self.seed}


class Attention(_BaseDenseAttention):
    """Dot-product attention: scores = query key^T (times a learned scalar with ``use_scale``);
    ``score_mode='concat'``: scores = c sum tanh(scale (q + k))."""

    def __init__(self, use_scale=False, score_mode='dot', dropout=0.0, seed=None, **kwargs):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if score_mode not in ('dot', 'concat'):
            raise ValueError(f"Layer '{self.name}' (Attention): score_mode must be 'dot' or 'concat', got "
                             f'{score_mode!r}.')
        self.use_scale, self.score_mode = bool(use_scale), score_mode

    def build(self, input_shape):
        self._validate(input_shape)
        self.scale = self.add_weight(name='scale', shape=(), initializer='ones') if self.use_scale else None
        self.concat_score_weight = self.add_weight(name='concat_score_weight', shape=(), initializer='ones') \
            if self.score_mode == 'concat' else None

    def _scores(self, query, key):
        if self.score_mode == 'dot':
            scores = query @ F.transpose(key, (0, 2, 1))
            return scores * self.scale if self.scale is not None else scores
        ones = Tensor(backend.xp().ones(query.shape[-1], query.dtype))
        if self.scale is not None:
            query, key = query * self.scale, key * self.scale
        return att.additive_scores(query, key, ones) * self.concat_score_weight

    def get_config(self):
        base = super().get_config()
        dropout, seed = base.pop('dropout'), base.pop('seed')
        return {**base, 'use_scale': self.use_scale, 'score_mode': self.score_mode, 'dropout': dropout, 'seed': seed}


class AdditiveAttention(_BaseDenseAttention):
    """Bahdanau attention: scores_ij = sum_d scale_d tanh(query_id + key_jd)."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(dropout=dropout, **kwargs)
        self.use_scale = bool(use_scale)

    def build(self, input_shape):
        self._validate(input_shape)
        dim = input_shape[0][-1]
        self.scale = self.add_weight(name='scale', shape=(dim,), initializer='glorot_uniform') \
            if self.use_scale else None

    def _scores(self, query, key):
        scale = self.scale if self.scale is not None else Tensor(backend.xp().ones(query.shape[-1], query.dtype))
        return att.additive_scores(query, key, scale)

    def get_config(self):
        base = super().get_config()
        dropout, seed = base.pop('dropout'), base.pop('seed')
        return {**base, 'use_scale': self.use_scale, 'dropout': dropout, 'seed': seed}


class _Projection(Layer):
    """Keras' EinsumDense as MultiHeadAttention uses it: the last ``bound`` axes of the input are
    contracted with a kernel of shape (those axes..., *out_shape); bias of shape out_shape.
    Written as one matrix product on the flattened axes."""

    def __init__(self, out_shape, bound, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, kernel_constraint, bias_constraint, **kwargs):
        super().__init__(**kwargs)
        self.out_shape, self.bound, self.use_bias = tuple(int(d) for d in out_shape), int(bound), bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint

    def build(self, input_shape):
        contracted = tuple(input_shape[-self.bound:])
        if any(d is None for d in contracted):
            raise ValueError(f"Layer '{self.name}' needs known sizes on its last {self.bound} axes, got input shape "
                             f'{format_shape(input_shape)}.')
        shape = contracted + self.out_shape
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and getattr(init, 'input_axes', 0) is None:
            config = dict(init.get_config(), input_axes=list(range(self.bound)),
                          output_axes=list(range(self.bound, len(shape))))
            init = type(init)(**{k: v for k, v in config.items()})
        self.kernel = self.add_weight(name='kernel', shape=shape, initializer=init,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight(name='bias', shape=self.out_shape, initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None

    def call(self, inputs):
        lead = tuple(inputs.shape[:-self.bound])
        n_in = int(np.prod(inputs.shape[-self.bound:]))
        n_out = int(np.prod(self.out_shape))
        y = F.reshape(inputs, (-1, n_in)) @ F.reshape(self.kernel, (n_in, n_out))
        if self.bias is not None:
            y = y + F.reshape(self.bias, (n_out,))
        return F.reshape(y, lead + self.out_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-self.bound]) + self.out_shape


class MultiHeadAttention(_ReturnsScores, Layer):
    """Keras' MultiHeadAttention: ``num_heads`` attention heads of size ``key_dim`` (values of
    ``value_dim``) over ``attention_axes`` (default: every axis but batch and features), then an
    output projection to ``output_shape`` (default: the query's feature size).

    Weights (Keras' order and shapes): query/kernel (Dq, H, key_dim), query/bias (H, key_dim),
    key/kernel (Dk, H, key_dim), key/bias, value/kernel (Dv, H, value_dim), value/bias,
    attention_output/kernel (H, value_dim, *output_shape), attention_output/bias (output_shape).
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        for what, value, optional in (('num_heads', num_heads, False), ('key_dim', key_dim, False),
                                      ('value_dim', value_dim, True)):
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f'MultiHeadAttention: {what} must be a positive integer, got {value!r}.')
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.supports_masking = True
        self._num_heads, self._key_dim = int(num_heads), int(key_dim)
        self._value_dim = int(value_dim) if value_dim else int(key_dim)
        self._dropout, self._use_bias, self._use_gate = float(dropout), bool(use_bias), bool(use_gate)
        if output_shape:
            output_shape = (output_shape,) if isinstance(output_shape, (int, np.integer)) else tuple(output_shape)
        self._output_shape_arg = output_shape or None
        if flash_attention:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): flash_attention=True is not available in "
                             'minidl; leave it at None.')
        self._flash_attention = False
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        if isinstance(attention_axes, (int, np.integer)):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): attention_axes must be an int, list or "
                             f'tuple, got {attention_axes!r}.')
        self._attention_axes = None if attention_axes is None else tuple(attention_axes)
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(sliding_window, int)
                                           or sliding_window <= 0):
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): sliding_window must be None or a positive "
                             f'integer, got {sliding_window!r}.')
        self._sliding_window = sliding_window
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    def _sublayer(self, name, out_shape, bound):
        def fresh(init):
            return type(init).from_config(init.get_config()) if hasattr(init, 'get_config') else init
        return _Projection(out_shape, bound, self._use_bias, fresh(self._kernel_initializer),
                           fresh(self._bias_initializer), self._kernel_regularizer, self._bias_regularizer,
                           self._kernel_constraint, self._bias_constraint, name=name, dtype=self.dtype)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): value and key must agree on every axis but "
                             f'the last; got value {format_shape(value_shape)} and key {format_shape(key_shape)}.')
        h = self._num_heads
        self._query_dense = self._sublayer('query', (h, self._key_dim), 1)
        self._query_dense._maybe_build(tuple(query_shape))
        self._key_dense = self._sublayer('key', (h, self._key_dim), 1)
        self._key_dense._maybe_build(tuple(key_shape))
        if self._use_gate:
            self._gate_dense = self._sublayer('gate', (h, self._value_dim), 1)
            self._gate_dense._maybe_build(tuple(query_shape))
        self._value_dense = self._sublayer('value', (h, self._value_dim), 1)
        self._value_dense._maybe_build(tuple(value_shape))
        rank = len(query_shape) + 1                   # of the projected (..., heads, dim) tensors
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(a if a >= 0 else (rank - 1) + a for a in self._attention_axes)
        if any(not 1 <= a <= rank - 3 for a in self._attention_axes):
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): attention_axes {self._attention_axes} must "
                             f'name axes of the query between 1 and {rank - 3} (query shape '
                             f'{format_shape(query_shape)}).')
        out = self._output_shape_arg or (query_shape[-1],)
        self._output_dense = self._sublayer('attention_output', out, 2)
        self._output_dense._maybe_build(tuple(query_shape[:-1]) + (h, self._value_dim))
        # Keras' public names of the projections (its .keras files store the weights under them)
        self.query_dense, self.key_dense = self._query_dense, self._key_dense
        self.value_dense, self.output_dense = self._value_dense, self._output_dense

    # --- masks ------------------------------------------------------------------------------
    def _compute_attention_mask(self, query, value, query_mask=None, value_mask=None, key_mask=None,
                                attention_mask=None, use_causal_mask=False):
        xp = backend.get_array_module(query.data)
        auto = None
        if query_mask is not None:
            auto = _mask_array(query_mask)[:, :, None]
        for m in (value_mask, key_mask):
            if m is not None:
                auto = _and(auto, _mask_array(m)[:, None, :])
        tq, tv = query.shape[1], value.shape[1]
        if use_causal_mask:
            auto = _and(auto, att.causal_mask(tq, tv, xp))
        if self._sliding_window is not None:
            rows, cols = xp.arange(tq)[None, :, None], xp.arange(tv)[None, None, :]
            auto = _and(auto, abs(rows - cols) < self._sliding_window)
        if attention_mask is not None:
            attention_mask = _mask_array(attention_mask)
        return _and(attention_mask, auto)

    # --- the attention itself -------------------------------------------------------------------
    def _compute_attention(self, query, key, value, attention_mask=None, training=None):
        """query (B, ..., H, key_dim) etc. -> (output (B, ..., H, value_dim), scores in Keras' layout
        (batch dims, H, query attention dims, key attention dims))."""
        rank = len(query.shape)
        axes = self._attention_axes
        batch_dims = [i for i in range(rank) if i not in axes and i != rank - 1]
        order = batch_dims + list(axes) + [rank - 1]

        def flatten(t):
            t = F.transpose(t, order)
            lead = tuple(t.shape[:len(batch_dims)])
            return F.reshape(t, lead + (int(np.prod(t.shape[len(batch_dims):-1])), t.shape[-1]))
        q, k, v = flatten(query), flatten(key), flatten(value)
        q_attn = tuple(query.shape[a] for a in axes)
        k_attn = tuple(key.shape[a] for a in axes)
        scores_shape = tuple(query.shape[i] for i in batch_dims) + q_attn + k_attn
        mask = None
        if attention_mask is not None:
            mask = attention_mask
            while mask.ndim < len(scores_shape):
                mask = backend.get_array_module(mask).expand_dims(mask, -2 * len(axes) - 1)
            mask = backend.get_array_module(mask).broadcast_to(mask, scores_shape)
            mask = mask.reshape(scores_shape[:len(batch_dims)] + (q.shape[-2], k.shape[-2]))
        drop = None
        if training and self._dropout > 0:
            drop = _dropout_mask(tuple(q.shape[:-1]) + (k.shape[-2],), self._dropout, q.dtype, self._rng)
        out, probs = att.dot_product_attention(q, k, v, mask, scale=self._inverse_sqrt_key_dim, dropout_mask=drop)
        out = F.reshape(out, tuple(out.shape[:-2]) + q_attn + (out.shape[-1],))
        out = F.transpose(out, list(np.argsort(order)))
        return out, F.reshape(probs, scores_shape)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        if key is None:
            key = value
        own = getattr(query, '_keras_mask', None)
        query_mask = own if own is not None else query_mask
        if value_mask is None:
            value_mask = getattr(value, '_keras_mask', None)
        if key_mask is None and key is not value:
            key_mask = getattr(key, '_keras_mask', None)
        mask = self._compute_attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask,
                                            use_causal_mask)
        gate = self._gate_dense.call(query) if self._use_gate else None
        q, k, v = self._query_dense.call(query), self._key_dense.call(key), self._value_dense.call(value)
        out, scores = self._compute_attention(q, k, v, mask, training)
        if gate is not None:
            out = out * F.sigmoid(gate)
        out = self._output_dense.call(out)
        if query_mask is not None:
            out._keras_mask = _mask_array(query_mask)
        return (out, scores) if return_attention_scores else out

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention): value and key must agree on every axis but "
                             f'the last; got value {format_shape(value_shape)} and key {format_shape(key_shape)}.')
        if self._output_shape_arg:
            return tuple(query_shape[:-1]) + tuple(self._output_shape_arg)
        return tuple(query_shape)

    def _scores_shape(self, args, kwargs):
        query = args[0]
        value = args[1] if len(args) > 1 else kwargs['value']
        key = args[2] if len(args) > 2 else kwargs.get('key')
        key = value if key is None else key
        rank = len(query.shape) + 1
        axes = self._attention_axes or tuple(range(1, rank - 2))
        proj_q = tuple(query.shape[:-1]) + (self._num_heads,)
        proj_k = tuple(key.shape[:-1]) + (self._num_heads,)
        batch_dims = [i for i in range(rank - 1) if i not in axes]
        return tuple(proj_q[i] for i in batch_dims) + tuple(proj_q[a] for a in axes) + tuple(proj_k[a] for a in axes)

    def get_config(self):
        base = super().get_config()
        base.pop('activity_regularizer', None)
        return {**base, 'num_heads': self._num_heads, 'key_dim': self._key_dim, 'value_dim': self._value_dim,
                'dropout': self._dropout, 'use_bias': self._use_bias, 'use_gate': self._use_gate,
                'output_shape': self._output_shape_arg, 'attention_axes': self._attention_axes,
                'sliding_window': self._sliding_window,
                'kernel_initializer': _serialize(self._kernel_initializer),
                'bias_initializer': _serialize(self._bias_initializer),
                'kernel_regularizer': _serialize(self._kernel_regularizer),
                'bias_regularizer': _serialize(self._bias_regularizer),
                'activity_regularizer': _serialize(self.activity_regularizer),
                'kernel_constraint': _serialize(self._kernel_constraint),
                'bias_constraint': _serialize(self._bias_constraint), 'seed': self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get('dtype'), dict):
            config['dtype'] = config['dtype'].get('config', {}).get('name')
        return cls(**config)
