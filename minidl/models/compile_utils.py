"""What ``compile`` turns its ``loss``, ``loss_weights``, ``metrics`` and ``weighted_metrics``
into, for models with one output or several (a list, or a dict keyed by output name).

Keras 3's rules: a single loss applies to every output; a list gives one per output in order;
a dict maps output names (the keys of a dict of outputs, else the output layers' names) to
losses, outputs without an entry get no loss. The total is ``sum(weight_i * loss_i)``. With
several outputs each output's loss is also logged as ``<output>_loss`` and each metric as
``<output>_<metric>``. ``metrics`` ignore ``sample_weight``; ``weighted_metrics`` use it.
Everything is resolved from names at ``compile`` (unknown names fail there, listing the known
ones), except 'accuracy'/'acc', which need the shapes of the first batch.
"""
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import tree


def output_structure_names(model):
    """The names Keras gives the outputs (None for a model whose outputs are not known yet)."""
    try:
        return model.output_names
    except AttributeError:
        return None


class CompileLoss:
    """``compile``'s losses, matched to the model's outputs at the first batch."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        self.spec, self.weights_spec = loss, loss_weights
        self.output_names = output_names
        self._check(loss, 'loss')
        self.built = False
        self.entries = None        # [(output index, loss object, weight)]
        self.trackers = []         # per-output Mean of the loss, when there are several outputs
        self.multi = False

    @staticmethod
    def _check(spec, what):
        for value in (spec.values() if isinstance(spec, dict) else spec if isinstance(spec, (list, tuple))
                      else [spec]):
            if value is not None and what == 'loss':
                losses_module.get(value)  # raises for an unknown name, listing the known ones

    def build(self, y_true, y_pred):
        """Match losses to outputs. ``y_pred`` is the model's output structure."""
        preds = tree.flatten(y_pred)
        n = len(preds)
        names = _names_for(y_pred, self.output_names, n)
        spec = self.spec
        if isinstance(spec, dict):
            unknown = [k for k in spec if k not in names]
            if unknown:
                raise ValueError(f'compile(loss=...): the keys {unknown} are not output names of the model; its '
                                 f'outputs are {names}.')
            losses = [spec.get(name) for name in names]
        elif isinstance(spec, (list, tuple)):
            if len(spec) != n:
                raise ValueError(f'compile(loss=...) got a list of {len(spec)} losses, but the model has {n} '
                                 f'output(s) {names}: give one loss per output, or a dict keyed by output name.')
            losses = list(spec)
        else:
            losses = [spec] * n
        weights = self.weights_spec
        if weights is None:
            weights = [1.0] * n
        elif isinstance(weights, dict):
            unknown = [k for k in weights if k not in names]
            if unknown:
                raise ValueError(f'compile(loss_weights=...): the keys {unknown} are not output names of the model '
                                 f'{names}.')
            weights = [float(weights.get(name, 1.0)) for name in names]
        elif isinstance(weights, (list, tuple)):
            if len(weights) != n:
                raise ValueError(f'compile(loss_weights=...) has {len(weights)} entries for {n} output(s) {names}.')
            weights = [float(w) for w in weights]
        else:
            weights = [float(weights)] * n
        self.entries = [(i, losses_module.get(loss), w) for i, (loss, w) in enumerate(zip(losses, weights))
                        if loss is not None]
        self.multi = n > 1
        self.names = names
        if self.multi:
            self.trackers = [(i, metrics_module.Mean(name=f'{names[i]}_loss')) for i, _, _ in self.entries]
        self.built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The weighted total loss (a scalar Tensor), updating the per-output trackers."""
        if not self.built:
            self.build(y_true, y_pred)
        preds = tree.flatten(y_pred)
        trues = match_structure(y_true, y_pred, self.names, 'y')
        weights = match_structure(sample_weight, y_pred, self.names, 'sample_weight', allow_single=True)
        total = None
        batch = preds[0].shape[0] if preds and preds[0].ndim else 1
        trackers = dict(self.trackers)
        for i, loss, weight in self.entries:
            if trues[i] is None:
                raise ValueError(f"The model's output '{self.names[i]}' has a loss but no target: give y for it "
                                 '(a list in output order, or a dict keyed by output name).')
            value = call_loss(loss, trues[i], preds[i], weights[i])
            if i in trackers:
                trackers[i].update_state(value.data, sample_weight=batch)
            if weight != 1.0:
                value = value * weight
            total = value if total is None else total + value
        return total

    @property
    def metrics(self):
        return [m for _, m in self.trackers]

    def entry_loss(self, index):
        """The loss object of output ``index`` (None when it has none)."""
        for i, loss, _ in self.entries or []:
            if i == index:
                return loss
        return None


def call_loss(loss, y_true, y_pred, sample_weight):
    """``loss(y_true, y_pred, sample_weight)``: a Keras loss object or a plain function."""
    if sample_weight is None:
        return loss(y_true, y_pred)
    return loss(y_true, y_pred, sample_weight=sample_weight)


def _names_for(y_pred, output_names, n):
    if isinstance(y_pred, dict):
        return list(y_pred)
    if output_names is not None and len(output_names) == n:
        return list(output_names)
    return [f'output_{i}' for i in range(n)] if n > 1 else ['output']


def match_structure(values, y_pred, names, what, allow_single=False):
    """``values`` (targets or sample weights) as a list aligned with the flattened outputs:
    from a matching structure, a list in output order, a dict keyed by output name, or (for
    one output, or ``allow_single``) a single array."""
    preds = tree.flatten(y_pred)
    n = len(preds)
    if values is None:
        return [None] * n
    if isinstance(values, dict):
        unknown = [k for k in values if k not in names]
        if unknown:
            raise ValueError(f'{what} is a dict with keys {unknown} that are not output names of the model; its '
                             f'outputs are {names}.')
        return [values.get(name) for name in names]
    if isinstance(values, (list, tuple)) and n > 1:
        if len(values) != n:
            raise ValueError(f'{what} has {len(values)} entries, but the model has {n} outputs {names}.')
        return list(values)
    if n == 1:
        if isinstance(values, (list, tuple)) and len(values) == 1 and _is_array_like(values[0]):
            return [values[0]]
        return [values]
    if allow_single:
        return [values] * n
    raise ValueError(f'The model has {n} outputs {names}, but {what} is a single array: give a list in output '
                     'order or a dict keyed by output name.')


def _is_array_like(x):
    return hasattr(x, 'shape') and hasattr(x, 'dtype')


class CompileMetrics:
    """``compile``'s metrics per output, built at the first batch."""

    def __init__(self, metrics, weighted_metrics=None, output_names=None):
        self.spec, self.weighted_spec = metrics, weighted_metrics
        self.output_names = output_names
        for spec in (metrics, weighted_metrics):
            for name in _all_specs(spec):
                if isinstance(name, str) and name.lower() not in ('accuracy', 'acc'):
                    metrics_module.get(name)  # raises for an unknown name, listing the known ones
        self.built = False
        self.entries = []          # [(output index, metric, weighted)]

    def build(self, y_true, y_pred, loss):
        preds = tree.flatten(y_pred)
        n = len(preds)
        names = _names_for(y_pred, self.output_names, n)
        trues = match_structure(y_true, y_pred, names, 'y')
        self.entries = []
        for spec, weighted in ((self.spec, False), (self.weighted_spec, True)):
            per_output = _per_output(spec, names, 'weighted_metrics' if weighted else 'metrics')
            for i, specs in enumerate(per_output):
                for s in specs:
                    metric = _resolve(s, loss.entry_loss(i) if loss is not None else None, trues[i], preds[i])
                    if n > 1:
                        metric.name = f'{names[i]}_{metric.name}'
                    if weighted and any(m.name == metric.name for _, m, _ in self.entries):
                        metric.name = f'weighted_{metric.name}'
                    self.entries.append((i, metric, weighted))
        self.names = names
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        preds = tree.flatten(y_pred)
        trues = match_structure(y_true, y_pred, self.names, 'y')
        weights = match_structure(sample_weight, y_pred, self.names, 'sample_weight', allow_single=True)
        for i, metric, weighted in self.entries:
            if trues[i] is None:
                continue
            pred = preds[i]
            sw = weights[i] if weighted else None
            mask = getattr(pred, '_keras_mask', None)
            if mask is not None:
                sw = mask if sw is None else _broadcast_weight(sw, mask)
            if sw is None:
                metric.update_state(trues[i], pred)
            else:
                metric.update_state(trues[i], pred, sample_weight=sw)

    @property
    def metrics(self):
        return [m for _, m, _ in self.entries]


def _broadcast_weight(sw, mask):
    from .. import backend
    xp = backend.get_array_module(mask)
    sw = xp.asarray(backend.to_numpy(sw) if xp.__name__ == 'numpy' else sw)
    while sw.ndim < mask.ndim:
        sw = sw[..., None]
    return sw * mask


def _all_specs(spec):
    if spec is None:
        return []
    if isinstance(spec, dict):
        return [s for v in spec.values() for s in (v if isinstance(v, (list, tuple)) else [v])]
    if isinstance(spec, (list, tuple)):
        return [s for v in spec for s in (v if isinstance(v, (list, tuple)) else [v])]
    return [spec]


def _per_output(spec, names, what):
    """Metric specs for each output (Keras 3's forms: a list for one output, a list of lists or
    a dict keyed by output name for several)."""
    n = len(names)
    if spec is None:
        return [[] for _ in range(n)]
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(f'compile({what}=...): the keys {unknown} are not output names of the model {names}.')
        return [_as_list(spec.get(name)) for name in names]
    if not isinstance(spec, (list, tuple)):
        spec = [spec]
    if n == 1:
        if len(spec) == 1 and isinstance(spec[0], (list, tuple)):
            return [list(spec[0])]
        return [list(spec)]
    if len(spec) == n and all(s is None or isinstance(s, (list, tuple, str)) or callable(s) for s in spec) and \
            any(isinstance(s, (list, tuple)) or s is None for s in spec):
        return [_as_list(s) for s in spec]
    raise ValueError(f'Invalid `{what}`: for a model with several outputs {names}, give a dict keyed by output '
                     f'name or a list of {n} lists (one per output), got {spec!r}.')


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _resolve(spec, loss, y_true, y_pred):
    if isinstance(spec, str) and spec.lower() in ('accuracy', 'acc') and spec != 'Accuracy':
        shape_true = tuple(getattr(y_true, 'shape', ()))
        return metrics_module.resolve_accuracy(spec, loss, shape_true, tuple(y_pred.shape))
    return metrics_module.get(spec)
