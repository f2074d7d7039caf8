"""Relative Predictive Coding (RPC): the objective, declared once.

Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, "Self-supervised Representation Learning with
Relative Predictive Coding", ICLR 2021 (arXiv 2103.11275), eq. 2:

    J_RPC = E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2],   loss = -J_RPC

over positive pairs P and negative pairs Q. No log and no exp: the objective is a quadratic in the
scores, bounded above, and its optimal critic f* = (r - alpha) / (beta r + gamma) (r the density
ratio p(x,y)/p(x)p(y)) lies in [-alpha/gamma, 1/beta]. It reads the scores only through six numbers
(``rpc_plugins.ScoreMoments``), so ``RPC.on_moments`` is the whole objective; the defaults are the
paper's ImageNet ResNet-50 values.
"""

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import Tensor

from .._validation import check_knobs, known_value, too_few_negatives, upcast
from ..moments import ScoreMoments
from ._base import Objective, knob, require_negatives


@dataclass(frozen=True)
class RPC(Objective):
    """RPC's relative parameters; ``RPC()(pos, neg, neg_mask)`` is -J_RPC on critic scores.

    >>> loss = RPC(alpha=0.5, beta=0.0, gamma=1.0)(torch.tensor([2.0]), torch.tensor([[0.0, 1.0]]))
    >>> float(loss)  # -(2 - 0.5 * 0.5 - 0.5 * 0.5)
    -1.5
    """

    name: ClassVar[str] = "rpc"
    alpha: float = knob(0.3, "nonnegative", "weight of E_Q[f], the mean negative score")
    beta: float = knob(0.01, "nonnegative", "weight of E_P[f^2] / 2, the positives' second moment")
    gamma: float = knob(0.1, "nonnegative", "weight of E_Q[f^2] / 2, the negatives' second moment")

    def __post_init__(self):
        check_knobs(self)

    def on_moments(self, moments: ScoreMoments) -> Tensor:
        """-J_RPC from the score moments (float64). With no negative pair at all (a count of exactly 0)
        the negative terms are expectations over an empty set and count as 0: J = E_P[f] - beta/2 E_P[f^2].
        Counts held on an accelerator are never read back to the host."""
        pos_count, neg_count = known_value(moments.pos_count), known_value(moments.neg_count)
        if pos_count is not None and pos_count <= 0:
            raise ValueError("rpc: no positive pair")
        if neg_count is not None and neg_count < 0:
            raise too_few_negatives("rpc")
        objective = (moments.pos_sum - 0.5 * self.beta * moments.pos_sq_sum) / moments.pos_count
        if neg_count != 0:
            objective = objective - (self.alpha * moments.neg_sum + 0.5 * self.gamma * moments.neg_sq_sum) / (
                moments.neg_count
            )
        return -objective

    def __call__(
        self, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None, pos_mask: Optional[Tensor] = None
    ) -> Tensor:
        moments = ScoreMoments.from_scores(pos, neg, neg_mask, pos_mask)
        require_negatives("rpc", neg, moments.neg_count)
        return self.on_moments(moments).to(torch.promote_types(upcast(pos).dtype, upcast(neg).dtype))

    def without_negatives(self, pos: Tensor) -> Tensor:
        pos = upcast(pos)
        moments = ScoreMoments.from_scores(pos, pos.new_zeros(pos.shape[0], 0), check_finite=False)
        return self.on_moments(moments).to(pos.dtype)


def rpc_loss(
    pos: Tensor,
    neg: Tensor,
    neg_mask: Optional[Tensor] = None,
    *,
    alpha: float = RPC.alpha,
    beta: float = RPC.beta,
    gamma: float = RPC.gamma,
) -> Tensor:
    """-J_RPC on scores, ``RPC(alpha, beta, gamma)(pos, neg, neg_mask)``; E_Q pools every valid negative of every anchor.

    >>> float(rpc_loss(torch.tensor([2.0]), torch.tensor([[0.0, 1.0]]), alpha=0.5, beta=0.0, gamma=1.0))
    -1.5
    """
    return RPC(alpha, beta, gamma)(pos, neg, neg_mask)


def rpc_loss_from_moments(
    moments: ScoreMoments, alpha: float = RPC.alpha, beta: float = RPC.beta, gamma: float = RPC.gamma
) -> Tensor:
    """-J_RPC from the six score moments, ``RPC(alpha, beta, gamma).on_moments(moments)``.

    >>> m = ScoreMoments.from_scores(torch.tensor([2.0]), torch.tensor([[0.0, 1.0]]))
    >>> float(rpc_loss_from_moments(m, alpha=0.5, beta=0.0, gamma=1.0))
    -1.5
    """
    return RPC(alpha, beta, gamma).on_moments(moments)
