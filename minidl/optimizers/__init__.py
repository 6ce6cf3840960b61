"""Keras 3's optimizers (``keras.optimizers``): SGD, Adam, AdamW, Adamax, Nadam, Lion, Ftrl,
RMSprop, Adagrad, Adadelta, with Keras' names, defaults, update rules and state, and
``schedules`` for the learning rate.

    opt = optimizers.AdamW(learning_rate=optimizers.schedules.CosineDecay(1e-3, 10_000, warmup_target=3e-3,
                                                                          warmup_steps=500),
                           weight_decay=0.05, global_clipnorm=1.0, use_ema=True)
    opt.apply(grads, model.trainable_weights)        # or opt.apply_gradients(zip(grads, weights))

Every optimizer takes ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``,
``use_ema``/``ema_momentum``/``ema_overwrite_frequency``, ``loss_scale_factor`` and
``gradient_accumulation_steps`` (see ``base_optimizer``), and Keras 2's ``lr=`` and ``decay=``.
Each rule is written as its paper writes it in the optimizer's ``update_step``; the fused
in-place and CUDA forms are in ``minidl/kernels/optimizers.py``.
"""
import inspect

from . import schedules  # noqa: F401
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .base_optimizer import Optimizer
from .ftrl import Ftrl
from .lion import Lion
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

_CLASSES = (SGD, Adam, AdamW, Adamax, Nadam, Lion, Ftrl, RMSprop, Adagrad, Adadelta)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({cls.__name__.lower(): cls for cls in _CLASSES})
ALL_OBJECTS_DICT['Optimizer'] = Optimizer


def serialize(optimizer):
    from ..saving import serialize_keras_object
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None, use_legacy_format=False):
    """The optimizer a config describes: Keras 3's (any module spelling, e.g. Keras on PyTorch
    writes 'keras.src.backend.torch.optimizers.torch_adam') and Keras 2's (``lr``, ``decay``)."""
    from ..saving import deserialize_keras_object
    if isinstance(config, dict) and 'class_name' in config:
        name = config['class_name']
        if name in ALL_OBJECTS_DICT or name.lower() in ALL_OBJECTS_DICT:
            config = dict(config, class_name=ALL_OBJECTS_DICT.get(name, ALL_OBJECTS_DICT.get(name.lower())).__name__)
            if str(config.get('module', '')).startswith('keras.src.'):
                config['module'] = 'keras.optimizers'
    return deserialize_keras_object(config, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT,
                                    printable_module_name='optimizer')


def get(identifier):
    """An optimizer from a name ('adam', 'sgd', ...: Keras' defaults), an optimizer object or
    class, or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier) or ALL_OBJECTS_DICT.get(identifier.lower())
        if cls is None or cls is Optimizer:
            raise ValueError(f'Unknown optimizer {identifier!r}; known names: '
                             f'{sorted(c.__name__.lower() for c in _CLASSES)}.')
        return cls()
    if inspect.isclass(identifier) and issubclass(identifier, Optimizer) and identifier is not Optimizer:
        return identifier()
    raise ValueError(f"Could not interpret optimizer {identifier!r}: pass a name such as 'adam' or an optimizer "
                     f'object such as minidl.optimizers.Adam(1e-3).')
