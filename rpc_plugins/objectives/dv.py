"""Donsker-Varadhan bound (as in MINE, Belghazi et al. 2018).

I_DV = E_P[f] - log E_Q[e^f],   loss = -I_DV
"""

from typing import Optional

from torch import Tensor

from ._common import pooled_log_mean_exp, prepare


def dv_loss(pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None) -> Tensor:
    """Negative DV bound; log E_Q[e^f] is a stable logsumexp over all valid negatives.

    >>> import torch
    >>> float(dv_loss(torch.tensor([2.0]), torch.tensor([[0.0, 0.0]])))
    -2.0
    """
    s = prepare("dv", pos, neg, neg_mask)
    return -(s.pos.mean() - pooled_log_mean_exp(s.neg, s))
