"""Autograd-aware collectives (gloo or nccl) for losses that span ranks.

Both keep lightly's convention (``lightly.utils.dist.GatherLayer``): every rank computes a loss
whose input gradient is ``world_size`` times the single-process one, which DDP's gradient
*averaging* turns into exactly the single-process parameter gradient on the global batch. Tensors
go to the collectives as they come, on the inputs' device (NCCL takes only CUDA tensors).
"""

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class _AllReduceSum(torch.autograd.Function):
    """Forward: sum over ranks. Backward: sum of every rank's gradient (each rank used the sum)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        x = x.clone().contiguous()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.clone().contiguous()
        dist.all_reduce(grad)
        return grad


class _AllGather(torch.autograd.Function):
    """Forward: concatenate every rank's (n, ...) tensor. Backward: all-reduce, keep own slice."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.n, ctx.rank = x.shape[0], dist.get_rank()
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.clone().contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def all_reduce_sum(x: Tensor) -> Tensor:
    """Differentiable sum over ranks (identity without torch.distributed).

    >>> all_reduce_sum(torch.ones(2)).tolist()
    [1.0, 1.0]
    """
    return _AllReduceSum.apply(x) if is_distributed() else x


def all_gather(x: Tensor) -> Tensor:
    """Differentiable concatenation of every rank's ``x`` along dim 0 (equal sizes required).

    >>> all_gather(torch.ones(2, 3)).shape
    torch.Size([2, 3])
    """
    return _AllGather.apply(x) if is_distributed() else x
