"""Input, Dense, Flatten, Reshape, Lambda and Identity (the activation layers are in activations.py)."""
import builtins
import codecs
import inspect
import marshal
import types

import numpy as np

from .. import functional as F
from .. import activations
from ..saving.serialization_lib import deserialize_keras_object, in_safe_mode, serialize_keras_object
from .base import Layer, InputSpec, KerasTensor, Node, _Spec, _is_shape_list, format_shape, unique_name
from .options import channels_last, option_weight, positive_int, reject_unsupported, serialized, weight_options


class InputLayer(Layer):
    """The entry point of a graph: holds the batch shape and creates the symbolic input."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, input_shape=None, **kwargs):
        if kwargs.pop('batch_input_shape', None) is not None and batch_shape is None:
            batch_shape = kwargs.get('batch_input_shape')
        unknown = set(kwargs) - {'trainable'}
        if unknown:
            raise TypeError(f'InputLayer got unexpected keyword argument(s): {", ".join(sorted(unknown))}.')
        for flag, value in (('sparse', sparse), ('ragged', ragged)):
            if value:
                raise ValueError(f'InputLayer: {flag} tensors are not supported by minidl; pass dense arrays.')
        if input_tensor is not None:
            raise ValueError('InputLayer: input_tensor= is not supported; use the tensor itself as the input.')
        Layer.__init__(self, name=name or unique_name('input', zero_based=False), dtype=dtype)
        if batch_shape is None:
            shape = shape if shape is not None else input_shape
            if shape is None:
                raise ValueError('InputLayer needs a shape (without the batch dimension), '
                                 'e.g. InputLayer((28, 28, 1)).')
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.optional = bool(optional)
        self.built = True
        self._build_input_shape = self.batch_shape
        self._output_shape = [self.batch_shape]  # Keras 2 prints InputLayer shapes as a list
        Node(self, (), {}, _Spec((self.batch_shape, self._dtype)))

    @property
    def output(self):
        return self._inbound_nodes[0].outputs[0]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {'batch_shape': list(self.batch_shape), 'dtype': self.dtype, 'sparse': False, 'ragged': False,
                'name': self.name, 'optional': self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic input tensor of ``shape`` (without the batch dimension), as ``keras.Input``."""
    return InputLayer(shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                      batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name).output


class Dense(Layer):
    """y = activation(x @ kernel + bias), applied to the last axis of x."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = positive_int(self, 'units', units)
        reject_unsupported(self, lora_rank=lora_rank, quantization_config=quantization_config)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        weight_options(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                       bias=(bias_initializer, bias_regularizer, bias_constraint))

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Layer '{self.name}' (Dense) needs inputs of at least 2 dimensions with a known last "
                             f'dimension, but got input shape {format_shape(input_shape)}.')
        n_in = input_shape[-1]
        self.kernel = option_weight(self, 'kernel', (n_in, self.units))
        self.bias = option_weight(self, 'bias', (self.units,)) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: n_in})

    def call(self, inputs, training=False):
        x = inputs
        if x.ndim > 2:
            lead = x.shape[:-1]
            y = F.matmul(F.reshape(x, (-1, x.shape[-1])), self.kernel)
            if self.bias is not None:
                y = y + self.bias
            y = F.reshape(y, lead + (self.units,))
        else:
            y = F.matmul(x, self.kernel)
            if self.bias is not None:
                y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), 'units': self.units, 'activation': activations.serialize(self.activation),
                'use_bias': self.use_bias, **serialized(self, 'kernel_initializer', 'bias_initializer',
                                                        'kernel_regularizer', 'bias_regularizer',
                                                        'kernel_constraint', 'bias_constraint'),
                'quantization_config': None}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last(self, data_format)

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format}

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"Layer '{self.name}' (Flatten) needs inputs with a batch and at least one more "
                             f'dimension, but got input shape {format_shape(input_shape)}.')
        if any(d is None for d in input_shape[1:]):
            raise ValueError(f"Layer '{self.name}' (Flatten) needs every non-batch dimension known, but got input "
                             f'shape {format_shape(input_shape)}.')

    def call(self, inputs, training=False):
        return F.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); one entry of target_shape may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(f"Layer '{self.name}' (Reshape): target_shape {self.target_shape} may hold positive "
                             'sizes and at most one -1.')

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        known = [d for d in input_shape[1:]]
        if any(d is None for d in known):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        size = int(np.prod(known))
        fixed = int(np.prod([d for d in self.target_shape if d != -1]))
        if -1 in self.target_shape:
            if size % fixed:
                raise self._mismatch(input_shape, size)
            target = tuple(size // fixed if d == -1 else d for d in self.target_shape)
        else:
            if size != fixed:
                raise self._mismatch(input_shape, size)
            target = self.target_shape
        return (input_shape[0],) + target

    def _mismatch(self, input_shape, size):
        return ValueError(f"Layer '{self.name}' (Reshape) cannot reshape input of shape {format_shape(input_shape)} "
                          f'({size} values per sample) to target shape {self.target_shape}.')

    def call(self, inputs, training=False):
        return F.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), 'target_shape': list(self.target_shape)}


class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer: any expression on minidl tensors
    (``Lambda(lambda x: x ** 2)``, ``Lambda(lambda xs: xs[0] - xs[1])`` on a list of inputs).

    ``output_shape``: the output shape without the batch dimension (a tuple, or a list of tuples
    for several outputs), or a function of the full input shape; when omitted it is found by
    running ``function`` once on zeros. ``mask``: a function ``(inputs, mask) -> mask`` or a fixed
    mask. If ``function`` takes ``mask`` or ``training`` arguments they are passed on.

    Saving follows Keras: a named function is saved by name (register your own with
    ``@minidl.saving.register_keras_serializable()``); a Python ``lambda`` is saved as its
    bytecode, which runs code when loaded, so loading one needs ``safe_mode=False``. Loaded lambdas
    see ``minidl``, ``F`` (``minidl.functional``), ``np`` and ``math`` as globals.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Layer '{self.name}' (Lambda): function must be callable, got {function!r}.")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._lambda_output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_expects_mask = 'mask' in params
        self._fn_expects_training = 'training' in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask:
            kwargs['mask'] = mask
        if self._fn_expects_training:
            kwargs['training'] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        spec = self._lambda_output_shape
        if spec is None:
            return Layer.compute_output_shape(self, input_shape)
        if callable(spec):
            return spec(input_shape)
        batch = input_shape[0][0] if _is_shape_list(input_shape) else input_shape[0]
        if isinstance(spec, list) and spec and all(isinstance(s, (list, tuple)) for s in spec):
            return [(batch,) + tuple(s) for s in spec]
        return (batch,) + tuple(spec)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self):
        config = {'function': _serialize_function(self.function)}
        if self._lambda_output_shape is not None:
            spec = self._lambda_output_shape
            config['output_shape'] = _serialize_function(spec) if callable(spec) else spec
        if self.mask is not None:
            config['mask'] = _serialize_function(self.mask) if callable(self.mask) \
                else serialize_keras_object(self.mask)
        config['arguments'] = serialize_keras_object(self.arguments)
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        config = dict(config)
        safe = in_safe_mode() if safe_mode is None else safe_mode
        safe = safe is not False
        config['function'] = _deserialize_function(config['function'], custom_objects, safe)
        if 'output_shape' in config:
            shape = config['output_shape']
            if isinstance(shape, dict):
                shape = _deserialize_function(shape, custom_objects, safe)
            elif isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape):
                shape = tuple(shape)
            config['output_shape'] = shape
        if isinstance(config.get('mask'), dict):
            config['mask'] = _deserialize_function(config['mask'], custom_objects, safe)
        if 'arguments' in config:
            config['arguments'] = deserialize_keras_object(config['arguments'], custom_objects=custom_objects)
        return super().from_config(config)


def _serialize_function(fn):
    """Keras' form: a lambda as {'class_name': '__lambda__', 'config': {'code', 'defaults', 'closure'}}
    (the code is the base64 of its marshalled bytecode), any other function by name."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == '<lambda>':
        code = codecs.encode(marshal.dumps(fn.__code__), 'base64').decode('ascii')
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        return {'class_name': '__lambda__', 'config': {'code': code, 'defaults': fn.__defaults__, 'closure': closure}}
    return serialize_keras_object(fn)


def _deserialize_function(config, custom_objects, safe):
    if isinstance(config, dict) and config.get('class_name') == '__lambda__':
        if safe:
            raise ValueError('This Lambda layer holds a Python lambda, saved as bytecode: loading it would run code '
                             'from the file. Only if you trust the file, load it with safe_mode=False '
                             '(e.g. minidl.models.load_model(path, safe_mode=False)).')
        inner = config['config']
        code = marshal.loads(codecs.decode(inner['code'].encode('ascii'), 'base64'))
        defaults = tuple(inner['defaults']) if inner.get('defaults') else None
        closure = inner.get('closure')
        if closure is not None:
            closure = tuple((lambda value: (lambda: value).__closure__[0])(v) for v in closure)
        return types.FunctionType(code, _lambda_globals(), code.co_name, defaults, closure)
    return deserialize_keras_object(config, custom_objects=custom_objects)


def _lambda_globals():
    import math
    import minidl
    return {'__builtins__': builtins, 'minidl': minidl, 'F': F, 'np': np, 'math': math}


class Identity(Layer):
    """Returns its inputs unchanged (a placeholder layer); masks pass through."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask


__all__ = ['InputLayer', 'Input', 'Dense', 'Flatten', 'Reshape', 'KerasTensor', 'Lambda', 'Identity']
