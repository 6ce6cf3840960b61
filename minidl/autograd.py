"""Floor 1: reverse-mode automatic differentiation.

A ``Tensor`` wraps an array (NumPy or CuPy). Every differentiable operation is a ``Function``
whose ``forward`` and ``backward`` work on raw arrays. Calling a Function on tensors records
it as the ``creator`` of its outputs, which builds the graph; ``Tensor.backward()`` walks that
graph once in reverse topological order (iteratively, so deep graphs do not hit Python's
recursion limit), and the engine, not each op, does the bookkeeping: it undoes broadcasting
with ``sum_to``, checks shapes, accumulates gradients of tensors used twice, and frees every
Function's buffers once its backward has run.
"""
import contextlib
import weakref

from . import backend, kernels

_config = {'grad_enabled': True}


@contextlib.contextmanager
def no_grad():
    """Run a block without recording a graph (inference, optimizer updates)."""
    old = _config['grad_enabled']
    _config['grad_enabled'] = False
    try:
        yield
    finally:
        _config['grad_enabled'] = old


def is_grad_enabled():
    return _config['grad_enabled']


def sum_to(x, shape):
    """Sum array ``x`` down to ``shape``: the adjoint of broadcasting ``shape`` to ``x.shape``
    (sum the leading axes that broadcasting added, and the axes where ``shape`` has a 1)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    fast = kernels.find('sum_to', x, shape)
    if fast is not None:
        return fast(x, shape)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and x.shape[i + lead] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape)


class Tensor:
    """An array that remembers how it was computed, so that gradients can flow back to it."""
    __slots__ = ('data', 'grad', 'requires_grad', 'creator', 'name', 'retains_grad', '_keras_mask', '__weakref__')
    __array_priority__ = 100  # ndarray (op) Tensor dispatches to Tensor's reflected operator

    def __init__(self, data, requires_grad=False, name=None):
        if isinstance(data, Tensor):
            data = data.data
        if type(data) is not backend.xp().ndarray:
            data = backend.as_array(data)
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.creator = None
        self.name = name
        self.retains_grad = False

    # --- array-like properties -------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = str(backend.to_numpy(self.data)).replace('\n', '\n' + ' ' * 7)
        extra = ', requires_grad=True' if self.requires_grad else ''
        return f'Tensor({body}{extra})'

    def numpy(self):
        """The data as a NumPy array (copied to the host under CuPy)."""
        return backend.to_numpy(self.data)

    def item(self):
        return self.data.item()

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(tensor)``: the data on the host (a copy for CuPy arrays)."""
        data = backend.to_numpy(self.data)
        return data if dtype is None else data.astype(dtype, copy=False)

    def detach(self):
        """A new leaf Tensor sharing this one's data, cut off from the graph."""
        return Tensor(self.data)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        self.retains_grad = True
        return self

    def zero_grad(self):
        self.grad = None

    # --- backward ------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is the upstream gradient (ones when omitted). Unless ``retain_graph``, every
        Function's saved arrays are released as soon as its backward has run. The five steps
        are the functions below, in the order they run; inside ``with BackwardTrace() as t:``
        each Function's step is also recorded in ``t`` (for teaching; nothing is recorded, and
        nothing costs, outside it).
        """
        grad = _initial_gradient(self, grad)
        if self.creator is None:          # a leaf: its gradient is the upstream one
            _accumulate(self, grad)
            return
        pending = {self: grad}            # tensor -> gradient, until its creator's backward runs
        for f in _walk_order(self.creator):
            gys = _collect_output_grads(f, pending)
            gxs = _call_backward(f, gys)
            _pass_input_grads(f, gxs, pending)
            if _trace['active'] is not None:
                _trace['active'].record(f, gys, gxs)
            if not retain_graph:
                f.release()

    # --- operators (the functions live in minidl.functional) --------------------------------
    def __add__(self, other): return _F.add(self, other)
    def __radd__(self, other): return _F.add(other, self)
    def __sub__(self, other): return _F.sub(self, other)
    def __rsub__(self, other): return _F.sub(other, self)
    def __mul__(self, other): return _F.mul(self, other)
    def __rmul__(self, other): return _F.mul(other, self)
    def __truediv__(self, other): return _F.div(self, other)
    def __rtruediv__(self, other): return _F.div(other, self)
    def __pow__(self, other): return _F.pow(self, other)
    def __rpow__(self, other): return _F.pow(other, self)
    def __matmul__(self, other): return _F.matmul(self, other)
    def __rmatmul__(self, other): return _F.matmul(other, self)
    def __neg__(self): return _F.neg(self)
    def __abs__(self): return _F.abs(self)
    def __getitem__(self, key): return _F.getitem(self, key)

    # Comparisons give plain boolean arrays: they have no gradient.
    def __lt__(self, other): return self.data < _raw(other)
    def __le__(self, other): return self.data <= _raw(other)
    def __gt__(self, other): return self.data > _raw(other)
    def __ge__(self, other): return self.data >= _raw(other)
    def __eq__(self, other): return self.data == _raw(other)
    def __ne__(self, other): return self.data != _raw(other)
    __hash__ = object.__hash__

    def reshape(self, *shape):
        return _F.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def transpose(self, *axes):
        return _F.transpose(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else (axes or None))

    @property
    def T(self):
        return _F.transpose(self)

    def sum(self, axis=None, keepdims=False): return _F.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _F.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _F.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _F.min(self, axis, keepdims)


class Variable(Tensor):
    """A weight or a piece of state: a leaf Tensor that layers, optimizers and metrics update in
    place. As Keras' ``Variable``: ``name`` ('kernel'), ``path`` ('dense/kernel'), ``trainable``,
    ``assign``/``assign_add``/``assign_sub`` (no gradient is recorded), an optional ``constraint``
    the optimizer applies after each update, and ``numpy()``/``value``."""
    __slots__ = ('path', 'constraint', 'regularizer', 'aggregation', '_trainable')

    def __init__(self, data=None, trainable=True, name=None, path=None, constraint=None, regularizer=None,
                 aggregation='none', requires_grad=None, *, initializer=None, shape=None, dtype=None,
                 autocast=True, synchronization='auto'):
        # Keras' keras.Variable(initializer, shape=None, dtype=None, trainable=True, ..., name=None):
        # the first argument is a value, or an initializer (a name or a callable) with a shape
        data = initializer if initializer is not None else data
        if data is None:
            raise ValueError('Variable: give a value, or an initializer and a shape, e.g. '
                             "Variable(initializer='zeros', shape=(3,)).")
        if isinstance(data, str) or (callable(data) and not hasattr(data, 'shape')):
            if shape is None:
                raise ValueError(f'Variable: the initializer {data!r} needs a shape, e.g. '
                                 f'Variable(initializer={data!r}, shape=(3,)).')
            from . import initializers     # floor 3: imported when a Variable is made from one
            data = initializers.get(data)(tuple(shape), dtype=dtype)
        if dtype is not None:
            data = backend.as_array(data.data if isinstance(data, Tensor) else data).astype(dtype, copy=False)
        super().__init__(data, requires_grad=trainable if requires_grad is None else requires_grad, name=name)
        self._trainable = bool(trainable)
        self.path = path or name
        self.constraint = constraint
        self.regularizer = regularizer
        self.aggregation = aggregation

    @property
    def trainable(self):
        """Whether the variable was made trainable (a frozen layer clears ``requires_grad`` only)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        self.requires_grad = self._trainable

    @property
    def value(self):
        return self

    def _new_value(self, value):
        value = value.data if isinstance(value, Tensor) else value
        if backend.get_array_module(value) is not backend.get_array_module(self.data):
            value = backend.get_array_module(self.data).asarray(backend.to_numpy(value))
        value = backend.get_array_module(self.data).asarray(value, dtype=self.data.dtype)
        if value.shape != self.data.shape:
            raise ValueError(f"Variable '{self.path}' has shape {self.data.shape}; cannot assign a value of "
                             f'shape {value.shape}.')
        return value

    def assign(self, value):
        """Overwrite the value in place (every holder of this variable sees it)."""
        self.data[...] = self._new_value(value)
        return self

    def assign_add(self, value):
        self.data += self._new_value(value)
        return self

    def assign_sub(self, value):
        self.data -= self._new_value(value)
        return self

    def __repr__(self):
        return f'<Variable path={self.path}, shape={tuple(self.shape)}, dtype={self.dtype}, ' \
               f'value={backend.to_numpy(self.data)!r}>'.replace('\n', ' ')


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x):
    """``x`` itself if it is a Tensor, else a constant Tensor (no grad) holding it."""
    return x if isinstance(x, Tensor) else Tensor(x)


# --- the steps of Tensor.backward, in the order they run -------------------------------------
def _initial_gradient(tensor, grad):
    """Step 0: the upstream gradient of the tensor backward starts from, as an array (ones by
    default: d tensor / d tensor)."""
    if not tensor.requires_grad:
        raise RuntimeError('backward() called on a tensor that does not require grad: '
                           'no input of its graph has requires_grad=True.')
    if grad is None:
        return backend.get_array_module(tensor.data).ones_like(tensor.data)
    return grad.data if isinstance(grad, Tensor) else backend.as_array(grad, tensor.dtype)


def _walk_order(root):
    """Step 1, the walk order: the Functions reachable from ``root``, each one before the
    Functions that produced its inputs (a reverse topological order, found with an explicit
    stack, so deep graphs do not hit Python's recursion limit). Then, when a Function's turn
    comes, every consumer of its outputs has already passed their gradients back."""
    _check_not_released(root)
    order, seen = [], {id(root)}
    stack = [(root, iter(root.inputs))]
    while stack:
        f, inputs = stack[-1]
        for x in inputs:
            c = x.creator
            if c is not None and id(c) not in seen:
                _check_not_released(c)
                seen.add(id(c))
                stack.append((c, iter(c.inputs)))
                break
        else:                              # all of f's producers are placed: f comes before them
            stack.pop()
            order.append(f)
    order.reverse()
    return order


def _collect_output_grads(f, pending):
    """Step 2: the gradient of each of ``f``'s outputs, taken out of ``pending``. An output that
    nothing downstream used (or that was freed) gets zeros; an output that asked for
    ``retain_grad()`` keeps its gradient in ``.grad``."""
    gys = []
    for i, ref in enumerate(f.outputs):
        out = ref()
        gy = pending.pop(out, None) if out is not None else None
        if gy is not None and out.retains_grad:
            _accumulate(out, gy)
        gys.append(gy if gy is not None else f.zeros_like_output(i))
    return gys


def _call_backward(f, gys):
    """Step 3: the op's own backward, one gradient (or None) per input, always as a tuple."""
    gxs = f.backward(*gys)
    return gxs if isinstance(gxs, tuple) else (gxs,)


def _pass_input_grads(f, gxs, pending):
    """Step 4: check each input gradient (shape, device, dtype; broadcasting undone) and add it
    where it belongs: into ``.grad`` for a leaf, into ``pending`` for a tensor that a Function
    made (a tensor used twice receives the sum of both gradients)."""
    for x, gx in zip(f.inputs, gxs):
        if gx is None or not x.requires_grad:
            continue
        gx = _check_gradient(f, x, gx)
        if x.creator is None:
            _accumulate(x, gx)
        elif x in pending:
            pending[x] = pending[x] + gx
        else:
            pending[x] = gx


def _accumulate(t, g):
    """``t.grad += g`` (a new Tensor each time: a caller may hold the old one)."""
    if t.grad is None:
        t.grad = Tensor(g)
    else:
        t.grad = Tensor(t.grad.data + g)


def _check_gradient(f, x, gx):
    """Undo broadcasting and insist that the gradient looks like its input."""
    if gx.shape != x.shape:
        try:
            gx = sum_to(gx, x.shape)
        except ValueError:
            pass
        if gx.shape != x.shape:
            raise ValueError(f'Function {type(f).__name__} returned a gradient of shape {gx.shape} '
                             f'for an input of shape {x.shape}.')
    if backend.is_cupy(gx) != backend.is_cupy(x.data):
        raise TypeError(f'Function {type(f).__name__} returned a gradient on another device '
                        f'({type(gx).__module__}) than its input ({type(x.data).__module__}).')
    if gx.dtype != x.dtype:
        gx = gx.astype(x.dtype)
    return gx


def _check_not_released(f):
    if f.inputs is None:
        raise RuntimeError('Trying to backward through a graph a second time: its buffers were '
                           'freed. Call backward(retain_graph=True) the first time.')


# --- recording what backward did ---------------------------------------------------------------
_trace = {'active': None}


class BackwardStep:
    """One Function's turn in a backward pass: its name, the shapes of the gradients it
    received (one per output) and of those it returned (one per input; None where no gradient
    was asked for)."""
    __slots__ = ('function', 'output_grad_shapes', 'input_grad_shapes')

    def __init__(self, function, output_grad_shapes, input_grad_shapes):
        self.function = function
        self.output_grad_shapes = output_grad_shapes
        self.input_grad_shapes = input_grad_shapes

    def __repr__(self):
        return (f'{self.function}: received {_shapes(self.output_grad_shapes)}, '
                f'returned {_shapes(self.input_grad_shapes)}')


def _shapes(shapes):
    return ', '.join('-' if s is None else str(tuple(s)) for s in shapes)


class BackwardTrace:
    """``with BackwardTrace() as trace: loss.backward()`` records, for every Function in the
    order the engine ran it, a ``BackwardStep``; ``print(trace)`` shows one line per step.
    Outside such a block backward records nothing."""

    def __init__(self):
        self.steps = []
        self._previous = None

    def __enter__(self):
        self._previous = _trace['active']
        _trace['active'] = self
        return self

    def __exit__(self, *exc):
        _trace['active'] = self._previous
        return False

    def record(self, f, gys, gxs):
        self.steps.append(BackwardStep(type(f).__name__, [tuple(g.shape) for g in gys],
                                       [None if g is None else tuple(g.shape) for g in gxs]))

    @property
    def functions(self):
        """The names of the Functions, in the order their backward ran."""
        return [step.function for step in self.steps]

    def __len__(self):
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __str__(self):
        return '\n'.join(f'{i + 1:>3}. {step!r}' for i, step in enumerate(self.steps))


class Function:
    """A differentiable operation. Subclasses define ``forward(*arrays)`` returning an array or
    a tuple of arrays, and ``backward(*grads)`` returning one gradient array (or None) per
    input. Whatever ``backward`` needs it stores on ``self`` during ``forward``; the inputs are
    available there as ``self.inputs`` (Tensors)."""
    inputs = None
    outputs = None

    def __call__(self, *inputs):
        inputs = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
        ys = self.forward(*[x.data for x in inputs])
        single = not isinstance(ys, tuple)
        if single:
            ys = (ys,)
        needs_grad = _config['grad_enabled'] and any(x.requires_grad for x in inputs)
        outputs = [Tensor(y, requires_grad=needs_grad) for y in ys]
        if needs_grad:
            self.inputs = inputs
            self.outputs = [weakref.ref(y) for y in outputs]
            self._output_meta = [(y.shape, y.dtype) for y in ys]
            for y in outputs:
                y.creator = self
        return outputs[0] if single else tuple(outputs)

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    def zeros_like_output(self, i):
        shape, dtype = self._output_meta[i]
        return backend.get_array_module(self.inputs[0].data).zeros(shape, dtype)

    def release(self):
        """Drop everything this Function holds (its inputs and saved arrays)."""
        self.__dict__.clear()


from . import functional as _F  # noqa: E402  (operators above dispatch to it)
