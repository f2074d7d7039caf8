"""Relative Predictive Coding (RPC) on critic scores.

Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, "Self-supervised Representation Learning with
Relative Predictive Coding", ICLR 2021 (arXiv 2103.11275), eq. 2:

    J_RPC = E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2],   loss = -J_RPC

No log and no exp: the objective is a quadratic in the scores, bounded above, and its optimal
critic f* = (r - alpha) / (beta r + gamma) (r the density ratio p(x,y)/p(x)p(y)) is bounded in
[-alpha/gamma, 1/beta].
"""

from typing import Optional

import torch
from torch import Tensor

from .._dtypes import upcast
from ..moments import ScoreMoments, rpc_loss_from_moments
from .._validation import check_nonnegative
from ._common import require_negatives
from ..knobs import RPC_DEFAULTS


def rpc_loss(
    pos: Tensor,
    neg: Tensor,
    neg_mask: Optional[Tensor] = None,
    *,
    alpha: float = RPC_DEFAULTS["alpha"],
    beta: float = RPC_DEFAULTS["beta"],
    gamma: float = RPC_DEFAULTS["gamma"],
) -> Tensor:
    """Negative RPC objective; E_Q pools every valid negative of every anchor.

    Args:
        pos: (A,) positive score of each anchor.
        neg: (A, K) negative scores; -inf entries are ignored.
        neg_mask: optional (A, K) bool, True where a negative is valid.
        alpha, beta, gamma: the relative parameters (>= 0).

    >>> import torch
    >>> float(rpc_loss(torch.tensor([2.0]), torch.tensor([[0.0, 1.0]]), alpha=0.5, beta=0.0, gamma=1.0))
    -1.5
    """
    check_nonnegative(alpha=alpha, beta=beta, gamma=gamma)
    moments = ScoreMoments.from_scores(pos, neg, neg_mask)
    require_negatives("rpc", neg, moments.neg_count)
    # float64 moments; the loss in the scores' accumulation dtype, as every objective's
    return rpc_loss_from_moments(moments, alpha, beta, gamma).to(
        torch.promote_types(upcast(pos).dtype, upcast(neg).dtype)
    )
