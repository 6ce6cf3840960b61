"""Collectives as differentiable Functions, for Tensors.

Data-parallel training minimises the sum of the ranks' losses, L = sum_s L_s, each rank
computing its own L_r. The backward of a collective therefore returns, on rank r, the gradient
of that whole sum with respect to rank r's input, which needs the gradients of every rank
(another collective, in the same order on every rank as the graphs are the same):

  all-reduce   y = sum_s x_s (same y everywhere):  dL/dx_r = sum_s gy_s
  average      y = sum_s x_s / R:                   dL/dx_r = sum_s gy_s / R
  broadcast    y = x_root:                          dL/dx_root = sum_s gy_s, 0 on other ranks
  all-gather   y = [x_0; x_1; ...]:                 dL/dx_r = rank r's rows of sum_s gy_s
"""
from ..autograd import Function
from . import core
from .core import Average, Sum


class AllReduce(Function):
    """y = prescale * postscale * op_s(x_s), op the sum or the average over ranks."""

    def __init__(self, op, prescale_factor=1.0, postscale_factor=1.0):
        if op not in (Sum, Average):
            raise ValueError(f'minidl.distributed.allreduce: a Tensor reduced with op={op} has no gradient here; '
                             f'pass its .data (an array) instead, or use op=Sum or Average.')
        self.op, self.scale = op, (prescale_factor, postscale_factor)

    def forward(self, x):
        return core._allreduce_array(x, self.op, *self.scale)

    def backward(self, gy):
        return core._allreduce_array(gy, self.op, *self.scale)


class Broadcast(Function):
    """y = x of ``root_rank`` on every rank."""

    def __init__(self, root_rank):
        self.root_rank = root_rank

    def forward(self, x):
        core._check_same_layout('broadcast', x.shape, x.dtype)
        return core._broadcast_buffer(core._contiguous_copy(x), self.root_rank).reshape(x.shape)

    def backward(self, gy):
        g = core._allreduce_array(gy, Sum)
        return g if core._world.rank == self.root_rank else g * 0


class AllGather(Function):
    """y = the x of every rank stacked along the first axis, in rank order."""

    def forward(self, x):
        y, self.sizes = core._allgather_array(x)
        return y.reshape((sum(self.sizes),) + x.shape[1:]) if x.ndim else y

    def backward(self, gy):
        g = core._allreduce_array(gy, Sum)
        start = sum(self.sizes[:core._world.rank])
        part = g[start:start + self.sizes[core._world.rank]]
        return part if self.inputs[0].ndim else part.reshape(())
