"""How the transfer-learning scripts (cifar10_muestras.py --muestra 9, cifar10_transfer.py,
birds_resnet50.py) find the ImageNet weights of their backbone, and what they say without them.

The backbones are ``minidl.applications`` models, which read Keras' own weight files. Without
``--weights`` a script asks for ``weights='imagenet'``: the official file is taken from
``~/.minidl/models/`` or from ``~/.keras/models/`` (where Keras keeps it, when its md5 is the
official one), or downloaded once from Keras' address (``MINIDL_OFFLINE=1`` forbids downloads). To get the files onto an offline
machine, on one with internet run::

    python -c "from minidl.applications import VGG16, ResNet50, DenseNet121; \\
    [f(include_top=False) for f in (VGG16, ResNet50, DenseNet121)]"

and copy ``~/.minidl/models/`` over (or copy ``~/.keras/models/`` from a Keras installation, or
fetch the URLs that ``minidl.applications.weights_file(name, include_top=False)`` gives).
``--weights FILE`` takes any Keras HDF5 weights of the same network instead: the official
file, a Keras 2 ``model.save('m.h5')`` file, or a Keras 3 ``model.save_weights('m.weights.h5')``.
"""
import os

from minidl import applications


def find_weights(name, path=None, include_top=False):
    """``(weights, None)`` to pass as ``weights=`` to ``applications.<name>``, or ``(None,
    problem)`` with what is missing: ``path`` (``--weights``) when given, else the official
    no-top file from the models cache (or a download)."""
    fname, url, md5 = applications.weights_file(name, include_top=include_top)
    what = f"Keras' {name} ImageNet weights{'' if include_top else ' without the top'} ({fname})"
    if path:
        return (path, None) if os.path.isfile(path) else (None, f'{what} (not found: {path})')
    try:
        applications.imagenet_utils.get_model_file(fname, url, md5)
    except FileNotFoundError as exc:
        looked = ', '.join(getattr(exc, 'dirs', None) or ['the models cache'])
        return None, f'{what}: not in {looked}, and {getattr(exc, "reason", exc)}'
    return 'imagenet', None


def missing_inputs(script, needs):
    """Explain what a pretrained-model script needs and return exit status 2. ``needs`` maps a
    flag to the thing it must point at."""
    lines = [f'{script}: cannot run, this model starts from data that is not bundled with minidl:']
    lines += [f'  {flag} {what}' for flag, what in needs.items()]
    lines.append('How to get the ImageNet weights: see the docstring of examples/imagenet_weights.py '
                 '(in short: run the application once where there is internet, or copy ~/.keras/models/).')
    print('\n'.join(lines))
    return 2


def freeze(model, trainable=False):
    """Set every layer's ``trainable`` flag (layer by layer, so single layers can be unfrozen
    later, which a flag on the whole model would override)."""
    for layer in model.layers:
        layer.trainable = trainable
    return model
