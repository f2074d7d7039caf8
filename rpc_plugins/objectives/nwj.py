"""NWJ bound (Nguyen, Wainwright, Jordan 2010; f-divergence form used by Poole et al. 2019).

I_NWJ = E_P[f] - e^{-1} E_Q[e^f],   loss = -I_NWJ
"""

from typing import Optional

from torch import Tensor

from ._common import pooled_log_mean_exp, prepare


def nwj_loss(pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None) -> Tensor:
    """Negative NWJ lower bound; E_Q pools all valid negatives.

    >>> import torch, math
    >>> abs(float(nwj_loss(torch.tensor([1.0]), torch.tensor([[1.0]]))) - 0.0) < 1e-7  # 1 - e^-1 e^1
    True
    """
    s = prepare("nwj", pos, neg, neg_mask)
    # e^{-1} E_Q[e^f] = exp(log E_Q[e^f] - 1), via logsumexp so large scores do not overflow early.
    return -(s.pos.mean() - (pooled_log_mean_exp(s.neg, s) - 1.0).exp())
