"""Recurrent layers: the cells (one time step), ``RNN(cell)`` (the loop over time),
``SimpleRNN``/``LSTM``/``GRU``, ``Bidirectional`` and ``TimeDistributed``. Keras 3's API,
weights, defaults and masking.

How a recurrent layer runs:

* **Fused**: the built-in cells with activations whose derivative can be read off their output
  run through ``minidl.functional.rnn`` (``simple_rnn``, ``lstm``, ``gru``): one Function for the
  whole sequence, with backpropagation through time written out by hand there (one GEMM for
  every step's input projection, one state product per step).
* **Step by step**: any other cell (yours, a ``StackedRNNCells``, a built-in cell with
  ``recurrent_dropout`` while training, an activation without a fused form) is called once per
  time step on Tensors by ``functional.rnn.rnn_loop`` and autograd records every step.

Both give the same numbers (tested); a masked step carries the previous states and output
through, as in Keras.

Dropout as in Keras: one mask per sequence (the same units are dropped at every step), drawn
on the first step. ``dropout`` masks the inputs, ``recurrent_dropout`` the previous state; with
``recurrent_dropout`` the LSTM (GRU) draws four (three) masks of each kind, one per gate.
"""
import numpy as np

from .. import activations
from .. import backend
from .. import constraints
from .. import functional as F
from .. import initializers
from .. import regularizers
from .. import tree
from ..autograd import Tensor, Variable
from ..functional import rnn as rnn_ops
from .base import InputSpec, Layer, format_shape


# --- helpers ----------------------------------------------------------------------------------

def _get_activation(identifier):
    """(Tensor function, its Keras name when it is a built-in of minidl.activations, else None)."""
    fn = activations.get(identifier)
    name = next((n for n, f in activations.ALL_OBJECTS_DICT.items() if f is fn), None)
    return fn, name


def _serialize_activation(fn, name):
    return name if name is not None else activations.serialize(fn)


def _serialize(obj):
    from ..saving import serialize_keras_object
    return serialize_keras_object(obj)


def _positive_units(layer, units):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): units must be a positive integer, "
                         f'got {units!r}.')
    return int(units)


def _rate(layer, what, value):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {what} must be in [0, 1], got {value}.")
    return value


def _zeros(shape, dtype):
    return Tensor(backend.xp().zeros(shape, dtype))


class DropoutRNNCell:
    """Keras' dropout bookkeeping for cells: masks drawn once per sequence (``count`` of each
    kind: one per gate with recurrent dropout), reused at every step, reset by the RNN layer."""
    _dropout_mask = None
    _recurrent_dropout_mask = None

    def _draw_mask(self, like, rate, count):
        shape, dtype = tuple(like.shape), like.dtype
        rng = getattr(self, '_seed_rng', None)

        def one():
            if rng is not None:
                u = backend.as_array(rng.random(shape).astype(dtype))
            else:
                u = backend.random_unit(shape, dtype)
            keep = (u >= rate).astype(dtype)
            return Tensor(keep / dtype.type(1 - rate))
        return one() if count is None else [one() for _ in range(count)]

    def get_dropout_mask(self, step_input):
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._draw_mask(step_input, self.dropout, getattr(self, 'dropout_mask_count', None))
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_input):
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw_mask(step_input, self.recurrent_dropout,
                                                           getattr(self, 'dropout_mask_count', None))
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None


# --- cells ------------------------------------------------------------------------------------

class _Cell(Layer, DropoutRNNCell):
    """What the three built-in cells share: arguments, weights, config."""
    gates = 1
    _config_keys = ()

    def __init__(self, units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
                 kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal', bias_initializer='zeros',
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        self.implementation = kwargs.pop('implementation', 2)
        super().__init__(**kwargs)
        self.units = _positive_units(self, units)
        self.activation, self._activation_name = _get_activation(activation)
        self.recurrent_activation, self._recurrent_activation_name = _get_activation(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _rate(self, 'dropout', dropout)
        self.recurrent_dropout = _rate(self, 'recurrent_dropout', recurrent_dropout)
        self.seed = seed
        self._seed_rng = np.random.default_rng(seed) if seed is not None else None
        self.state_size = self.units
        self.output_size = self.units

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) needs a known feature size (last axis), "
                             f'got input shape {format_shape(input_shape)}.')
        self.kernel = self.add_weight(shape=(input_dim, self.gates * self.units), name='kernel',
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.gates * self.units), name='recurrent_kernel',
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight(shape=self._bias_shape(), name='bias', initializer=self._bias_initializer(),
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint) \
            if self.use_bias else None

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [_zeros((batch_size, d), self.dtype) for d in sizes]

    def _fused_ok(self, training):
        """Whether the whole-sequence op of functional.rnn computes this cell."""
        if training and self.recurrent_dropout > 0:
            return False
        names = [self._activation_name] + ([self._recurrent_activation_name] if self.gates > 1 else [])
        return all(n in rnn_ops.ACTIVATIONS for n in names)

    def _common_config(self):
        return {
            'kernel_initializer': _serialize(self.kernel_initializer),
            'recurrent_initializer': _serialize(self.recurrent_initializer),
            'bias_initializer': _serialize(self.bias_initializer),
            'kernel_regularizer': _serialize(self.kernel_regularizer),
            'recurrent_regularizer': _serialize(self.recurrent_regularizer),
            'bias_regularizer': _serialize(self.bias_regularizer),
            'kernel_constraint': _serialize(self.kernel_constraint),
            'recurrent_constraint': _serialize(self.recurrent_constraint),
            'bias_constraint': _serialize(self.bias_constraint),
        }


class SimpleRNNCell(_Cell):
    """h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias)."""
    gates = 1

    def __init__(self, units, activation='tanh', use_bias=True, kernel_initializer='glorot_uniform',
                 recurrent_initializer='orthogonal', bias_initializer='zeros', kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation='sigmoid', use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)

    def call(self, sequence, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        dp_mask = self.get_dropout_mask(sequence)
        rec_mask = self.get_recurrent_dropout_mask(h_prev)
        if training and dp_mask is not None:
            sequence = sequence * dp_mask
        h = sequence @ self.kernel
        if self.bias is not None:
            h = h + self.bias
        if training and rec_mask is not None:
            h_prev = h_prev * rec_mask
        output = self.activation(h + h_prev @ self.recurrent_kernel)
        return output, [output] if isinstance(states, (list, tuple)) else output

    def get_config(self):
        return {**super().get_config(), 'units': self.units,
                'activation': _serialize_activation(self.activation, self._activation_name),
                'use_bias': self.use_bias, **self._common_config(), 'dropout': self.dropout,
                'recurrent_dropout': self.recurrent_dropout, 'seed': self.seed}


class LSTMCell(_Cell):
    """One LSTM step (gates i, f, c, o; see functional/rnn.py for the math and its backward)."""
    gates = 4

    def __init__(self, units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
                 kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal', bias_initializer='zeros',
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        if self.recurrent_dropout != 0.0:
            self.implementation = 1
        if self.implementation == 1:
            self.dropout_mask_count = 4
        self.state_size = [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def bias_initializer(shape, dtype=None):
            xp = backend.xp()
            parts = [base((units,), dtype), xp.ones((units,), dtype), base((2 * units,), dtype)]
            return xp.concatenate([backend.as_array(p, dtype) for p in parts])
        return bias_initializer

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        u, act, ract = self.units, self.activation, self.recurrent_activation
        if self.implementation == 1:
            dp = self.get_dropout_mask(inputs) if training and 0 < self.dropout < 1 else None
            x = [inputs * m for m in dp] if dp is not None else [inputs] * 4
            rdp = self.get_recurrent_dropout_mask(h_prev) if training and 0 < self.recurrent_dropout < 1 else None
            h = [h_prev * m for m in rdp] if rdp is not None else [h_prev] * 4
            z = []
            for k in range(4):
                zk = x[k] @ self.kernel[:, k * u:(k + 1) * u] + h[k] @ self.recurrent_kernel[:, k * u:(k + 1) * u]
                if self.bias is not None:
                    zk = zk + self.bias[k * u:(k + 1) * u]
                z.append(zk)
        else:
            if training and 0 < self.dropout < 1:
                inputs = inputs * self.get_dropout_mask(inputs)
            zz = inputs @ self.kernel + h_prev @ self.recurrent_kernel
            if self.bias is not None:
                zz = zz + self.bias
            z = [zz[:, k * u:(k + 1) * u] for k in range(4)]
        i, f, g, o = ract(z[0]), ract(z[1]), act(z[2]), ract(z[3])
        c = f * c_prev + i * g
        h_new = o * act(c)
        return h_new, [h_new, c]

    def get_config(self):
        return {**super().get_config(), 'units': self.units,
                'activation': _serialize_activation(self.activation, self._activation_name),
                'recurrent_activation': _serialize_activation(self.recurrent_activation,
                                                              self._recurrent_activation_name),
                'use_bias': self.use_bias, 'unit_forget_bias': self.unit_forget_bias,
                **{k: v for k, v in self._common_config().items()}, 'dropout': self.dropout,
                'recurrent_dropout': self.recurrent_dropout, 'seed': self.seed}


class GRUCell(_Cell):
    """One GRU step (gates z, r, h; ``reset_after`` both ways; see functional/rnn.py)."""
    gates = 3

    def __init__(self, units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
                 kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal', bias_initializer='zeros',
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        self.reset_after = bool(reset_after)
        if self.recurrent_dropout != 0.0:
            self.implementation = 1
        if self.implementation == 1:
            self.dropout_mask_count = 3

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        h_prev = states[0] if nested else states
        u, act, ract = self.units, self.activation, self.recurrent_activation
        input_bias = recurrent_bias = None
        if self.bias is not None:
            input_bias, recurrent_bias = (self.bias[0], self.bias[1]) if self.reset_after else (self.bias, None)
        dp = self.get_dropout_mask(inputs) if training and 0 < self.dropout < 1 else None
        if self.implementation == 1:
            x = [inputs * m for m in dp] if dp is not None else [inputs] * 3
            rdp = self.get_recurrent_dropout_mask(h_prev) if training and 0 < self.recurrent_dropout < 1 else None
            h = [h_prev * m for m in rdp] if rdp is not None else [h_prev] * 3
            xw = [x[k] @ self.kernel[:, k * u:(k + 1) * u] for k in range(3)]
            if input_bias is not None:
                xw = [xw[k] + input_bias[k * u:(k + 1) * u] for k in range(3)]
            rz = h[0] @ self.recurrent_kernel[:, :u]
            rr = h[1] @ self.recurrent_kernel[:, u:2 * u]
            if self.reset_after and recurrent_bias is not None:
                rz, rr = rz + recurrent_bias[:u], rr + recurrent_bias[u:2 * u]
            z, r = ract(xw[0] + rz), ract(xw[1] + rr)
            if self.reset_after:
                rh = h[2] @ self.recurrent_kernel[:, 2 * u:]
                if recurrent_bias is not None:
                    rh = rh + recurrent_bias[2 * u:]
                rh = r * rh
            else:
                rh = (r * h[2]) @ self.recurrent_kernel[:, 2 * u:]
            hh = act(xw[2] + rh)
        else:
            if dp is not None:
                inputs = inputs * dp
            xw = inputs @ self.kernel
            if input_bias is not None:
                xw = xw + input_bias
            if self.reset_after:
                hw = h_prev @ self.recurrent_kernel
                if recurrent_bias is not None:
                    hw = hw + recurrent_bias
            else:
                hw = h_prev @ self.recurrent_kernel[:, :2 * u]
            z = ract(xw[:, :u] + hw[:, :u])
            r = ract(xw[:, u:2 * u] + hw[:, u:2 * u])
            rh = r * hw[:, 2 * u:] if self.reset_after else (r * h_prev) @ self.recurrent_kernel[:, 2 * u:]
            hh = act(xw[:, 2 * u:] + rh)
        h_new = z * h_prev + (1 - z) * hh
        return h_new, [h_new] if nested else h_new

    def get_config(self):
        return {**super().get_config(), 'units': self.units,
                'activation': _serialize_activation(self.activation, self._activation_name),
                'recurrent_activation': _serialize_activation(self.recurrent_activation,
                                                              self._recurrent_activation_name),
                'use_bias': self.use_bias, **self._common_config(), 'dropout': self.dropout,
                'recurrent_dropout': self.recurrent_dropout, 'reset_after': self.reset_after, 'seed': self.seed}


class StackedRNNCells(Layer):
    """Several cells as one: the output of each is the input of the next at every step."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if not hasattr(cell, 'call') or not hasattr(cell, 'state_size'):
                raise ValueError(f"Layer '{self.name}' (StackedRNNCells): every cell needs a `call` method and a "
                                 f'`state_size` attribute; got {cell!r}.')
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        if getattr(last, 'output_size', None) is not None:
            return last.output_size
        return last.state_size[0] if isinstance(last.state_size, (list, tuple)) else last.state_size

    def get_initial_state(self, batch_size=None):
        out = []
        for cell in self.cells:
            fn = getattr(cell, 'get_initial_state', None)
            if fn is not None:
                out.append(fn(batch_size=batch_size))
            else:
                sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
                out.append([_zeros((batch_size, d), self.dtype) for d in sizes])
        return out

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(input_shape)
                cell.built = True
            size = getattr(cell, 'output_size', None)
            if size is None:
                size = cell.state_size[0] if isinstance(cell.state_size, (list, tuple)) else cell.state_size
            input_shape = (input_shape[0], size)

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            listed = isinstance(cell_states, (list, tuple))
            cell_states = list(cell_states) if listed else [cell_states]
            inputs, out_states = cell(inputs, cell_states, training=training)
            out_states = list(out_states) if isinstance(out_states, (list, tuple)) else [out_states]
            new_states.append(out_states if listed or len(out_states) > 1 else out_states[0])
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), 'cells': [_serialize(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_keras_object
        config = dict(config)
        cells = [deserialize_keras_object(c, custom_objects=custom_objects) for c in config.pop('cells')]
        return cls(cells, **config)


# --- the loop over time -------------------------------------------------------------------------

class RNN(Layer):
    """Keras' ``RNN(cell)``: runs ``cell`` over the time axis of (batch, timesteps, features).

    Returns the last output (batch, units), or every output (batch, timesteps, units) with
    ``return_sequences``, followed by the final states with ``return_state``.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, 'call'):
            raise ValueError(f'RNN: the cell must have a `call` method, got {cell!r}.')
        if getattr(cell, 'state_size', None) is None:
            raise ValueError('RNN: the cell must have a `state_size` attribute (an int, or a list of ints, one per '
                             f'state), got {cell!r}.')
        super().__init__(**kwargs)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        self.supports_masking = True
        self.input_spec = None
        self.states = None
        state_size = cell.state_size
        if not isinstance(state_size, (list, tuple, int, np.integer)):
            raise ValueError(f'RNN: state_size must be an int or a list of ints, got {state_size!r}.')
        self.single_state = isinstance(state_size, (int, np.integer))
        self.state_size = [int(state_size)] if self.single_state else list(state_size)

    # --- shapes and masks -------------------------------------------------------------------
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, length = sequences_shape[0], sequences_shape[1]
        if self.stateful and batch is None and self.states is None:
            raise ValueError(f"Layer '{self.name}': stateful=True needs a fixed batch size; got input shape "
                             f'{format_shape(sequences_shape)}. Give Input(batch_size=...) (and the same '
                             'batch_size to fit, with shuffle=False).')
        states = []
        for size in self.state_size:
            states.append([(batch, s) for s in size] if isinstance(size, (list, tuple)) else (batch, size))
        out_size = getattr(self.cell, 'output_size', None)
        if out_size is None:
            out_size = self.state_size[0]
        output = (batch, length, out_size) if self.return_sequences else (batch, out_size)
        return (output, *states) if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        mask = tree.flatten(mask)[0] if tree.is_nested(mask) else mask
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None for _ in self.state_size]
        return output_mask

    # --- building and state ------------------------------------------------------------------
    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) < 3:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects inputs of shape (batch, timesteps, "
                             f'features), got {format_shape(sequences_shape)}. Add a time axis, e.g. with '
                             'Reshape, or use the cell directly for one step.')
        step_shape = (sequences_shape[0],) + tuple(sequences_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True
        if self.stateful:
            if self.states is not None:
                self.reset_state()
            elif sequences_shape[0] is not None:     # else on the first call, from its batch
                self._create_state_variables(sequences_shape[0])

    def _flat_state_sizes(self):
        return [int(s) for s in tree.flatten(self.state_size)]

    def _create_state_variables(self, batch_size):
        dtype = getattr(self.cell, 'dtype', None) or self.dtype
        self.states = [Variable(backend.xp().zeros((batch_size, size), dtype), trainable=False, name='rnn_state',
                                path=f'{self.name}/rnn_state') for size in self._flat_state_sizes()]

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, 'get_initial_state', None)
        if fn is not None:
            state = fn(batch_size=batch_size)
            return list(state) if isinstance(state, (list, tuple)) else [state]
        return [_zeros((batch_size, d), self.dtype) for d in self.state_size]

    def reset_state(self, states=None):
        """Zero the states of a stateful layer, or set them to ``states`` (arrays, one per state)."""
        if self.states is None:
            if self.stateful:
                return
            raise AttributeError(f"Layer '{self.name}' is not stateful: create it with stateful=True to keep states "
                                 'between batches.')
        if states is None:
            for v in self.states:
                v.assign(backend.xp().zeros(v.shape, v.dtype))
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != len(self.states):
            raise ValueError(f"Layer '{self.name}' has {len(self.states)} state(s); reset_states received "
                             f'{len(states)} value(s).')
        for v, value in zip(self.states, states):
            v.assign(value)

    def reset_states(self, states=None):
        self.reset_state(states)

    # --- the call -----------------------------------------------------------------------------
    def _initial_states(self, sequences, initial_state):
        if initial_state is None:
            if self.stateful:
                if self.states is None:
                    self._create_state_variables(sequences.shape[0])
                if self.states[0].shape[0] != sequences.shape[0]:
                    raise ValueError(f"Layer '{self.name}' is stateful with batch size {self.states[0].shape[0]}, "
                                     f'but received a batch of {sequences.shape[0]}; keep the batch size fixed '
                                     '(drop the last partial batch).')
                return [Tensor(v.data.copy()) for v in self.states]   # assigned in place after the call
            return tree.flatten(self.get_initial_state(sequences.shape[0]))
        states = tree.flatten(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        states = [s if isinstance(s, Tensor) else Tensor(backend.as_array(s, sequences.dtype)) for s in states]
        sizes = self._flat_state_sizes()
        if len(states) != len(sizes):
            raise ValueError(f"Layer '{self.name}' has {len(sizes)} state(s) of sizes {sizes}, but initial_state "
                             f'holds {len(states)} tensor(s).')
        for i, (s, size) in enumerate(zip(states, sizes)):
            if tuple(s.shape) != (sequences.shape[0], size):
                raise ValueError(f"Layer '{self.name}': initial_state[{i}] must have shape "
                                 f'{(sequences.shape[0], size)} (batch, state size), got {tuple(s.shape)}.')
        return states

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if sequences.ndim < 3:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects inputs of shape (batch, timesteps, "
                             f'features), got {tuple(sequences.shape)}.')
        if tree.is_nested(mask):
            mask = tree.flatten(mask)[0]
        if mask is None:
            mask = getattr(sequences, '_keras_mask', None)
        states = self._initial_states(sequences, initial_state)
        cell = self.cell
        fused = type(cell) in _FUSED and cell._fused_ok(training)
        if fused:
            last, seq, final = self._fused_loop(sequences, states, mask, training)
        else:
            last, seq, final = self._step_loop(sequences, states, mask, training)
        for c in (cell.cells if isinstance(cell, StackedRNNCells) else [cell]):
            if isinstance(c, DropoutRNNCell):
                c.reset_dropout_mask()
                c.reset_recurrent_dropout_mask()
        if self.stateful:
            for v, s in zip(self.states, final):
                v.assign(s.data)
        output = seq if self.return_sequences else last
        if self.return_state:
            return (output, *final)
        return output

    def _fused_loop(self, sequences, states, mask, training):
        cell = self.cell
        x = sequences
        if training and 0 < cell.dropout < 1:      # one input mask, the same at every step
            x = x * F.reshape(cell.get_dropout_mask(F.getitem(x, (slice(None), 0))), (x.shape[0], 1, x.shape[2]))
        op = _FUSED[type(cell)]
        kw = dict(mask=mask, go_backwards=self.go_backwards, return_sequences=self.return_sequences,
                  zero_output_for_mask=self.zero_output_for_mask, activation=cell._activation_name)
        if op is not rnn_ops.simple_rnn:
            kw['recurrent_activation'] = cell._recurrent_activation_name
        if op is rnn_ops.gru:
            kw['reset_after'] = cell.reset_after
        outs = op(x, cell.kernel, cell.recurrent_kernel, cell.bias, *states, **kw)
        first, final = outs[0], list(outs[1:])
        if self.return_sequences:
            last = F.getitem(first, (slice(None), -1))
            return last, first, final
        return first, None, final

    def _step_loop(self, sequences, states, mask, training):
        cell = self.cell
        structure = self._state_structure(states)
        call_kwargs = {'training': training} if _takes(cell, 'training') else {}

        def step(x_t, flat_states):
            nested = tree.pack_sequence_as(structure, list(flat_states))
            out, new = cell(x_t, nested, **call_kwargs) if isinstance(cell, Layer) else cell.call(x_t, nested)
            new = new if isinstance(new, (list, tuple)) else [new]
            return out, tree.flatten(new)
        return rnn_ops.rnn_loop(step, sequences, states, mask=mask, go_backwards=self.go_backwards,
                                return_sequences=self.return_sequences,
                                zero_output_for_mask=self.zero_output_for_mask)

    def _state_structure(self, flat_states):
        """Placeholders shaped like the states the cell expects (a list, nested for stacked cells)."""
        def shape_of(size):
            return [0 for _ in size] if isinstance(size, (list, tuple)) else 0
        return [shape_of(s) for s in self.state_size]

    # --- config -------------------------------------------------------------------------------
    def _rnn_config(self):
        return {'return_sequences': self.return_sequences, 'return_state': self.return_state,
                'go_backwards': self.go_backwards, 'stateful': self.stateful, 'unroll': self.unroll,
                'zero_output_for_mask': self.zero_output_for_mask}

    def get_config(self):
        base = super().get_config()
        base.pop('activity_regularizer', None)
        return {**base, **self._rnn_config(), 'cell': _serialize(self.cell)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_keras_object
        config = dict(config)
        if isinstance(config.get('dtype'), dict):
            config['dtype'] = config['dtype'].get('config', {}).get('name')
        cell = deserialize_keras_object(config.pop('cell'), custom_objects=custom_objects)
        return cls(cell, **config)


def _takes(layer, argument):
    import inspect
    try:
        return argument in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


_FUSED = {SimpleRNNCell: rnn_ops.simple_rnn, LSTMCell: rnn_ops.lstm, GRUCell: rnn_ops.gru}


class _RecurrentLayer(RNN):
    """SimpleRNN, LSTM and GRU: an RNN over their own cell, its arguments as properties."""
    _cell_class = None
    _cell_name = None
    _cell_arguments = ()

    def __init__(self, units, cell_kwargs, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, activity_regularizer=None, use_cudnn='auto', **kwargs):
        if use_cudnn not in ('auto', True, False):
            raise ValueError(f"{type(self).__name__}: use_cudnn must be 'auto', True or False, got {use_cudnn!r}.")
        zero_output = kwargs.pop('zero_output_for_mask', False)
        implementation = kwargs.pop('implementation', 2)
        dtype = kwargs.get('dtype')
        cell = self._cell_class(units, dtype=dtype, trainable=kwargs.get('trainable', True), name=self._cell_name,
                                implementation=implementation, **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output, activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3, describe=' (batch, timesteps, features)')
        self.use_cudnn = use_cudnn

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def __getattr__(self, name):
        # units, activation, kernel_initializer, dropout, ... are the cell's
        if name in type(self)._cell_arguments and 'cell' in self.__dict__:
            return getattr(self.__dict__['cell'], name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self):
        base = Layer.get_config(self)
        activity = base.pop('activity_regularizer', None)
        cell_config = self.cell.get_config()
        for key in ('name', 'trainable', 'dtype'):
            cell_config.pop(key, None)
        order = list(self._cell_arguments)
        config = {**base, **self._rnn_config()}
        for key in order:
            if key == 'activity_regularizer':
                config[key] = activity
            elif key in cell_config:
                config[key] = cell_config[key]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get('dtype'), dict):
            config['dtype'] = config['dtype'].get('config', {}).get('name')
        return cls(**config)


_COMMON_ARGS = ('kernel_initializer', 'recurrent_initializer', 'bias_initializer')
_REG_ARGS = ('kernel_regularizer', 'recurrent_regularizer', 'bias_regularizer', 'activity_regularizer',
             'kernel_constraint', 'recurrent_constraint', 'bias_constraint', 'dropout', 'recurrent_dropout')


class SimpleRNN(_RecurrentLayer):
    """Fully connected RNN: h_t = activation(x_t W + h_{t-1} U + b)."""
    _cell_class, _cell_name = SimpleRNNCell, 'simple_rnn_cell'
    _cell_arguments = ('units', 'activation', 'use_bias') + _COMMON_ARGS + _REG_ARGS

    def __init__(self, units, activation='tanh', use_bias=True, kernel_initializer='glorot_uniform',
                 recurrent_initializer='orthogonal', bias_initializer='zeros', kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 seed=None, **kwargs):
        cell_kwargs = dict(activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                           recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                           kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                           recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                           dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed)
        super().__init__(units, cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)


class LSTM(_RecurrentLayer):
    """Long Short-Term Memory (Hochreiter 1997), Keras 3's layer."""
    _cell_class, _cell_name = LSTMCell, 'lstm_cell'
    _cell_arguments = ('units', 'activation', 'recurrent_activation', 'use_bias') + _COMMON_ARGS + \
        ('unit_forget_bias',) + _REG_ARGS + ('seed',)

    def __init__(self, units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
                 kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal', bias_initializer='zeros',
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn='auto', **kwargs):
        cell_kwargs = dict(activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                           kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                           bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                           kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                           recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                           dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed)
        super().__init__(units, cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, use_cudnn=use_cudnn, **kwargs)


class GRU(_RecurrentLayer):
    """Gated Recurrent Unit (Cho et al. 2014), Keras 3's layer (``reset_after=True`` by default)."""
    _cell_class, _cell_name = GRUCell, 'gru_cell'
    _cell_arguments = ('units', 'activation', 'recurrent_activation', 'use_bias') + _COMMON_ARGS + _REG_ARGS + \
        ('reset_after', 'seed')

    def __init__(self, units, activation='tanh', recurrent_activation='sigmoid', use_bias=True,
                 kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal', bias_initializer='zeros',
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn='auto', **kwargs):
        cell_kwargs = dict(activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                           kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                           bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                           recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                           kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                           bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                           reset_after=reset_after, seed=seed)
        super().__init__(units, cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, use_cudnn=use_cudnn, **kwargs)


# --- wrappers ---------------------------------------------------------------------------------

def _clone(layer, **changes):
    """A new layer of the same class and config (new weights), with ``changes`` applied."""
    config = dict(layer.get_config())
    config.update(changes)
    return type(layer).from_config(config)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence and merges
    the two outputs (``merge_mode`` 'concat', 'sum', 'mul', 'ave' or None for both)."""

    def __init__(self, layer, merge_mode='concat', weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f'Bidirectional needs a layer instance, got {layer!r}.')
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f'Bidirectional: backward_layer must be a layer instance, got {backward_layer!r}.')
        if merge_mode not in ('sum', 'mul', 'ave', 'concat', None):
            raise ValueError(f"Bidirectional: merge_mode must be 'sum', 'mul', 'ave', 'concat' or None, got "
                             f'{merge_mode!r}.')
        super().__init__(**kwargs)
        strip = lambda name, prefix: name[len(prefix):] if name.startswith(prefix) else name  # noqa: E731
        self.forward_layer = _clone(layer, name=f"forward_{strip(layer.name, 'forward_')}")
        if backward_layer is None:
            self.backward_layer = _clone(layer, name=f"backward_{strip(layer.name, 'backward_')}",
                                         go_backwards=not layer.go_backwards)
        else:
            self.backward_layer = backward_layer
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError('Bidirectional: the forward and backward layers need different go_backwards values; got '
                             f'{self.forward_layer.go_backwards} for both.')
        for attr in ('stateful', 'return_sequences', 'return_state'):
            if getattr(self.forward_layer, attr) != getattr(self.backward_layer, attr):
                raise ValueError(f'Bidirectional: the forward and backward layers must agree on {attr}; got '
                                 f'{getattr(self.forward_layer, attr)} and {getattr(self.backward_layer, attr)}.')
        for sub in (self.forward_layer, self.backward_layer):
            if getattr(sub, 'zero_output_for_mask', None) is not None:
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self._pending_weights = list(weights) if weights else None
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = layer.input_spec

    @property
    def states(self):
        if self.forward_layer.states and self.backward_layer.states:
            return tuple(self.forward_layer.states + self.backward_layer.states)
        return None

    def reset_state(self):
        if not self.stateful:
            raise AttributeError(f"Layer '{self.name}' must be stateful to reset its states.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    def build(self, sequences_shape, initial_state_shape=None):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(sequences_shape)
                sub.built = True
        if self._pending_weights:
            half = len(self._pending_weights) // 2
            self.forward_layer.set_weights(self._pending_weights[:half])
            self.backward_layer.set_weights(self._pending_weights[half:])
            self._pending_weights = None

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = self.forward_layer.compute_output_shape(sequences_shape)
        states = ()
        if self.return_state:
            shape, states = shape[0], tuple(shape[1:])
        if self.merge_mode == 'concat':
            shape = tuple(shape[:-1]) + (shape[-1] * 2,)
        elif self.merge_mode is None:
            shape = [tuple(shape), tuple(shape)]
        if self.return_state:
            if self.merge_mode is None:
                return tuple(shape) + states + states
            return (tuple(shape),) + states + states
        return tuple(shape) if self.merge_mode is not None else shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.return_sequences:
            output_mask = mask if self.merge_mode else [mask, mask]
        else:
            output_mask = None if self.merge_mode else [None, None]
        if self.return_state:
            n = len(self.forward_layer.state_size) * 2
            head = output_mask if isinstance(output_mask, list) else [output_mask]
            return head + [None] * n
        return output_mask

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if mask is None:
            mask = getattr(sequences, '_keras_mask', None)
        forward_state = backward_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        kwargs = {'training': training} if training is not None else {}
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask, **kwargs)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask, **kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = F.getitem(y_rev, (slice(None), slice(None, None, -1)))
        if self.merge_mode == 'concat':
            output = F.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == 'sum':
            output = y + y_rev
        elif self.merge_mode == 'ave':
            output = (y + y_rev) * 0.5
        elif self.merge_mode == 'mul':
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            return (output + states) if self.merge_mode is None else (output,) + states
        return output

    def get_config(self):
        base = super().get_config()
        base.pop('activity_regularizer', None)
        return {**base, 'merge_mode': self.merge_mode, 'layer': _serialize(self.forward_layer),
                'backward_layer': _serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_keras_object
        config = dict(config)
        if isinstance(config.get('dtype'), dict):
            config['dtype'] = config['dtype'].get('config', {}).get('name')
        config['layer'] = deserialize_keras_object(config['layer'], custom_objects=custom_objects)
        backward = config.pop('backward_layer', None)
        if backward is not None:
            config['backward_layer'] = deserialize_keras_object(backward, custom_objects=custom_objects)
        return cls(**config)


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: (batch, timesteps, ...) -> (batch, timesteps, ...').

    As in Keras, ``layer.call`` runs once per time step (so a layer with batch statistics sees
    each step as its own batch); layers that treat samples independently (Dense, activations,
    convolutions, pooling, Flatten, Reshape, Embedding) run once on the (batch * timesteps, ...)
    view instead, which gives the same numbers faster.
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f'TimeDistributed needs a layer instance, got {layer!r}.')
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _child_input_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f"Layer '{self.name}' (TimeDistributed) needs inputs of at least 3 dimensions "
                             f'(batch, timesteps, ...), got {input_shape}.')
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape):
        if not self.layer.built:
            self.layer._maybe_build(self._child_input_shape(input_shape)) if hasattr(self.layer, '_maybe_build') \
                else self.layer.build(self._child_input_shape(input_shape))
            self.layer.built = True

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_input_shape(input_shape))
        return (child[0], input_shape[1], *child[1:])

    def _per_sample(self):
        from . import core, conv, pooling, embedding
        kinds = tuple(getattr(m, n) for m, names in (
            (core, ('Dense', 'Flatten', 'Reshape', 'Activation', 'ReLU', 'LeakyReLU', 'Softmax')),
            (conv, ('Conv1D', 'Conv2D')),
            (pooling, ('MaxPooling1D', 'MaxPooling2D', 'AveragePooling1D', 'AveragePooling2D',
                       'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D')),
            (embedding, ('Embedding',))) for n in names if hasattr(m, n))
        return type(self.layer) in kinds and getattr(self.layer, 'activity_regularizer', None) is None

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            mask_data = getattr(mask, 'data', mask)
            if len(mask_data.shape) < 2 or tuple(mask_data.shape[:2]) != tuple(inputs.shape[:2]):
                raise ValueError(f"Layer '{self.name}' (TimeDistributed): the mask of shape {tuple(mask_data.shape)} "
                                 f'does not match the (batch, timesteps) = {tuple(inputs.shape[:2])} of the input.')
        n, steps = inputs.shape[0], inputs.shape[1]
        kwargs = {}
        if _takes(self.layer, 'training') and training is not None:
            kwargs['training'] = training
        if self._per_sample() and mask is None:
            flat = F.reshape(inputs, (n * steps,) + tuple(inputs.shape[2:]))
            out = self.layer.call(flat, **kwargs)
            return F.reshape(out, (n, steps) + tuple(out.shape[1:]))
        takes_mask = _takes(self.layer, 'mask')
        outputs = []
        for t in range(steps):
            step_kwargs = dict(kwargs)
            if takes_mask and mask is not None:
                step_kwargs['mask'] = getattr(mask, 'data', mask)[:, t]
            outputs.append(self.layer.call(F.getitem(inputs, (slice(None), t)), **step_kwargs))
        return F.stack(outputs, axis=1)

    def get_config(self):
        base = super().get_config()
        base.pop('activity_regularizer', None)
        return {**base, 'layer': _serialize(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_keras_object
        config = dict(config)
        if isinstance(config.get('dtype'), dict):
            config['dtype'] = config['dtype'].get('config', {}).get('name')
        layer = deserialize_keras_object(config.pop('layer'), custom_objects=custom_objects)
        return cls(layer, **config)
