"""``Sequential``: a plain stack of layers, each fed the previous one's output."""
from ..layers.base import KerasTensor, Layer, format_shape
from ..layers.core import Input, InputLayer
from .model import Model


class Sequential(Model):
    """``Sequential([layers...])`` or ``add()`` one at a time. Built at once when the first layer
    declares ``input_shape`` (or an ``InputLayer``/``Input`` comes first), else on the first call."""

    def __init__(self, layers=None, trainable=True, name=None, dtype=None):
        Model.__init__(self, name=name, trainable=trainable, dtype=dtype)
        object.__setattr__(self, '_input_batch_shape', None)
        object.__setattr__(self, '_output_shapes', [])   # per layer, once built
        object.__setattr__(self, '_symbolic', None)       # (inputs, outputs) made on demand
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._sublayers)

    def add(self, layer):
        """Append a layer (or an InputLayer / Input tensor to fix the input shape first)."""
        if isinstance(layer, KerasTensor):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            object.__setattr__(self, '_input_name', layer.name)
            if self._sublayers:
                raise ValueError(f"Sequential '{self.name}': an InputLayer can only come first, but the model "
                                 f'already has {len(self._sublayers)} layer(s).')
            object.__setattr__(self, '_input_batch_shape', layer.batch_shape)
            object.__setattr__(self, '_declared_input_dtype', layer.dtype)
            self.built = False
            self.build(layer.batch_shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}'.add() needs a Layer, got {type(layer).__name__}: {layer!r}.")
        if any(other.name == layer.name for other in self._sublayers):
            raise ValueError(f"Sequential '{self.name}': all layers need unique names, and '{layer.name}' is "
                             'already in the model.')
        if not self._sublayers and self._input_batch_shape is None and layer._batch_input_shape is not None:
            object.__setattr__(self, '_input_batch_shape', layer._batch_input_shape)
        self._sublayers.append(layer)
        object.__setattr__(self, '_symbolic', None)
        if self.built:
            shape = self._output_shapes[-1] if self._output_shapes else self._build_input_shape
            try:
                self._output_shapes.append(_build_one(layer, shape))
            except Exception:
                self._sublayers.pop()
                raise
        elif self._input_batch_shape is not None:
            try:
                self.build(self._input_batch_shape)
            except Exception:
                self._sublayers.pop()
                raise

    def pop(self):
        """Remove the last layer."""
        if not self._sublayers:
            raise TypeError(f"Sequential '{self.name}': there are no layers to pop.")
        self._sublayers.pop()
        if self._output_shapes:
            self._output_shapes.pop()
        object.__setattr__(self, '_symbolic', None)
        if not self._sublayers and self._input_batch_shape is None:
            self.built = False

    def build(self, input_shape=None):
        """Build every layer for inputs of ``input_shape`` (batch first), checking each in turn."""
        if input_shape is None:
            input_shape = self._input_batch_shape
        if input_shape is None:
            raise ValueError(f"Sequential '{self.name}' cannot be built without an input shape: give the first "
                             'layer input_shape=..., start with an InputLayer, or call the model on data.')
        input_shape = tuple(input_shape)
        shapes, shape = [], input_shape
        for layer in self._sublayers:
            shape = _build_one(layer, shape)
            shapes.append(shape)
        object.__setattr__(self, '_output_shapes', shapes)
        self._build_input_shape = input_shape
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)

    def call(self, inputs, training=None, mask=None):
        expected = self._build_input_shape
        shape = inputs.shape
        if expected is not None and (len(shape) != len(expected) or any(
                e is not None and e != s for e, s in zip(expected[1:], shape[1:]))):
            raise ValueError(f"Sequential '{self.name}' was built for inputs of shape {format_shape(expected)}, "
                             f'but got data of shape {format_shape(tuple(shape))}.')
        x = inputs
        for layer in self._sublayers:
            x = layer(x) if training is None else layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._sublayers:
            shape = layer.compute_output_shape(shape)
        return shape

    # --- the symbolic view (model.inputs / outputs), made on demand --------------------------------
    def _symbolic_graph(self, what):
        if not self.built or not self._sublayers:
            raise AttributeError(f"Sequential '{self.name}' has no {what} before it is built with layers.")
        if self._symbolic is None:
            x = Input(batch_shape=self._build_input_shape, name=f'{self._sublayers[0].name}_input',
                      dtype=self._input_dtype())
            y = x
            for layer in self._sublayers:
                y = layer(y)
            object.__setattr__(self, '_symbolic', ([x], [y]))
        return self._symbolic

    def _input_dtype(self):
        return getattr(self, '_declared_input_dtype', None)

    @property
    def input(self):
        return self._symbolic_graph('input')[0][0]

    @property
    def output(self):
        return self._symbolic_graph('output')[1][0]

    @property
    def inputs(self):
        return list(self._symbolic_graph('inputs')[0])

    @property
    def outputs(self):
        return list(self._symbolic_graph('outputs')[1])

    @property
    def input_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential '{self.name}' is not built yet, so it has no input_shape.")
        return self._build_input_shape

    @property
    def output_shape(self):
        if not self.built or not self._output_shapes:
            raise AttributeError(f"Sequential '{self.name}' is not built yet, so it has no output_shape.")
        return self._output_shapes[-1]

    @property
    def is_functional(self):
        return False

    saves_layers_as_list = True

    def _summary_class_name(self):
        return type(self).__name__

    # --- configuration (Keras 3's: the layers in order, an InputLayer first when the shape is known) ----
    def get_config(self):
        from ..saving.serialization_lib import serialize_keras_object
        layers = []
        if self._input_batch_shape is not None or (self.built and self._build_input_shape is not None):
            shape = self._input_batch_shape or self._build_input_shape
            layers.append({'module': 'keras.layers', 'class_name': 'InputLayer',
                           'config': {'batch_shape': list(shape), 'dtype': self.dtype, 'sparse': False,
                                      'ragged': False, 'name': self._input_layer_name(), 'optional': False},
                           'registered_name': None})
        layers.extend(serialize_keras_object(layer) for layer in self._sublayers)
        config = {'name': self.name, 'trainable': self.trainable, 'dtype': self.dtype_policy, 'layers': layers}
        if self.built and self._build_input_shape is not None:
            config['build_input_shape'] = list(self._build_input_shape)
        return config

    def _input_layer_name(self):
        return getattr(self, '_input_name', None) or f'{self.name}_input'

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving.serialization_lib import deserialize_keras_object
        from ..layers import deserialize as deserialize_layer
        config = dict(config)
        layer_configs = config.pop('layers')
        dtype = config.pop('dtype', None)
        if isinstance(dtype, dict):
            dtype = dtype.get('config', {}).get('name')
        build_shape = config.pop('build_input_shape', None)
        model = cls(name=config.get('name'), trainable=config.get('trainable', True), dtype=dtype)
        for layer_config in layer_configs:
            layer = deserialize_layer(layer_config, custom_objects=custom_objects)
            if isinstance(layer, InputLayer):
                object.__setattr__(model, '_input_name', layer.name)
            model.add(layer)
        if not model.built and build_shape is not None:
            model.build(tuple(build_shape))
        del deserialize_keras_object
        return model


def _build_one(layer, shape):
    """Build ``layer`` for ``shape`` and return its output shape (recorded on the layer)."""
    layer._maybe_build(shape)
    if layer.input_spec is not None:
        layer.input_spec.check(layer, shape)
    out = layer.compute_output_shape(shape)
    layer._output_shape = out
    return out
