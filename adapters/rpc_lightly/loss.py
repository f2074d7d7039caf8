"""RPC and its peers as lightly losses: drop-in replacements for ``lightly.loss.NTXentLoss``.

Relative Predictive Coding: Tsai et al., "Self-supervised Representation Learning with Relative
Predictive Coding", ICLR 2021 (arXiv 2103.11275). The objective itself lives in ``rpc_plugins``;
this module adds lightly's conventions around it:

* ``forward(out0, out1) -> scalar``, the same ValueErrors as ``NTXentLoss``;
* ``gather_distributed=True``: negatives from every rank (``rpc_plugins.distributed``; same
  semantics as lightly's ``GatherLayer``);
* ``memory_bank_size=(M, D)``: a lightly ``MemoryBankModule`` of past ``out1`` (MoCo style). As in
  lightly's NTXentLoss, with a bank the anchors are ``out0``, the positive of ``out0[i]`` is
  ``out1[i]`` and the negatives are the bank's M entries only; so
  ``ContrastiveLoss("infonce", memory_bank_size=...)`` equals ``NTXentLoss(memory_bank_size=...)``;
* a batch of one sample without a bank (the last batch of a ``drop_last=False`` loader): a finite
  loss and a one-time ``rpc_plugins.NoNegativesWarning``, as NTXentLoss is finite there (the
  negative terms over the empty set are 0; see ``rpc_plugins.Objective.without_negatives``).

Only the core's public API is used: ``rpc_plugins.ContrastiveLoss`` (its ``queue_loss`` for the
bank layout) and ``rpc_plugins.check_embeddings``.
"""

from typing import Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rpc_plugins

BankSize = Union[int, Sequence[int]]
_RPC = rpc_plugins.OBJECTIVE_KNOBS["rpc"]  # RPC's defaults, declared once in the core


class ContrastiveLoss(nn.Module):
    """Any ``rpc_plugins`` objective with lightly's loss interface.

    Args:
        objective: "rpc", "infonce", "nwj", "js", "dv", "smile" or "mio". The defaults are
            ``rpc_plugins.ContrastiveLoss``'s: infonce at T = 0.5 is lightly's ``NTXentLoss()``.
        temperature: critic scale T, f(x, y) = <x, y> / T on L2-normalised outputs.
        memory_bank_size: 0 (no bank) or ``(M, D)``, as for lightly 1.6's ``MemoryBankModule``.
        gather_distributed: negatives from all ranks (needs torch.distributed).
        **knobs: the objective's knobs (``rpc_plugins.OBJECTIVE_KNOBS``, with their defaults; rpc:
            alpha, beta, gamma; smile: clip; mio: pos_temperature, neg_temperature, l2_weight).

    >>> import torch
    >>> loss_fn = ContrastiveLoss("rpc", temperature=0.1, alpha=0.3, beta=0.01, gamma=0.1)
    >>> loss_fn(torch.randn(8, 16), torch.randn(8, 16)).shape
    torch.Size([])
    """

    def __init__(
        self,
        objective: str = "infonce",
        temperature: float = 0.5,
        memory_bank_size: BankSize = 0,
        gather_distributed: bool = False,
        **knobs,
    ):
        super().__init__()
        if abs(temperature) < 1e-8:
            raise ValueError("Illegal temperature: abs({}) < 1e-8".format(temperature))
        if gather_distributed and not torch.distributed.is_available():
            raise ValueError(
                "gather_distributed is True but torch.distributed is not available. Please set "
                "gather_distributed=False or install a torch version with distributed support."
            )
        from lightly.models.modules.memory_bank import MemoryBankModule  # lazy: only this adapter needs lightly

        self.temperature = temperature
        self.gather_distributed = gather_distributed
        # validates the objective name, knobs and temperature the same way for both paths
        self.in_batch = rpc_plugins.ContrastiveLoss(
            objective, temperature=temperature, gather_distributed=gather_distributed, **knobs
        )
        self.objective = self.in_batch.objective  # the declaration (``rpc_plugins.OBJECTIVES``), with its knobs
        self.memory_bank = MemoryBankModule(
            size=memory_bank_size, gather_distributed=gather_distributed, feature_dim_first=False
        )

    def forward(self, out0: Tensor, out1: Tensor) -> Tensor:
        """Loss of the two views ``out0, out1`` of shape (batch_size, embedding_size)."""
        if self.memory_bank.size[0] == 0:
            return self.in_batch(out0, out1)
        rpc_plugins.check_embeddings(out0, out1)
        # the bank stores normalised out1 (lightly's convention); the core normalises out0 itself
        out1, bank = self.memory_bank(F.normalize(out1, dim=1), update=out0.requires_grad)
        return self.in_batch.queue_loss(out0, out1, bank.to(out0.device))


class RPCLoss(ContrastiveLoss):
    """Relative Predictive Coding as a lightly loss (Tsai et al., ICLR 2021, eq. 2).

    ``-(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2])`` over the SimCLR 2N layout
    (or the memory-bank layout, see the module docstring). Without a bank it is
    ``rpc_plugins.RPCLoss`` (linear-time Gram path when it is cheaper).

    >>> import torch
    >>> RPCLoss()(torch.randn(8, 16), torch.randn(8, 16)).dim()
    0
    """

    def __init__(
        self,
        alpha: float = _RPC["alpha"],
        beta: float = _RPC["beta"],
        gamma: float = _RPC["gamma"],
        temperature: float = 0.1,
        memory_bank_size: BankSize = 0,
        gather_distributed: bool = False,
        **knobs,
    ):
        super().__init__(
            "rpc",
            temperature=temperature,
            memory_bank_size=memory_bank_size,
            gather_distributed=gather_distributed,
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            **knobs,
        )
