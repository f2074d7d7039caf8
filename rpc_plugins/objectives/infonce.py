"""InfoNCE / CPC (Oord et al. 2018): cross-entropy of the positive among its candidates.

Per anchor i: -log( e^{pos_i} / (e^{pos_i} + sum_k e^{neg_ik}) ) over valid negatives, averaged
over anchors. With the SimCLR 2N layout and f = cos/T this is NT-Xent (lightly's NTXentLoss).
"""

from typing import Optional

import torch
from torch import Tensor

from ._common import prepare


def infonce_loss(pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None) -> Tensor:
    """Mean over anchors of the cross-entropy with the positive as the target class.

    >>> import torch, math
    >>> round(float(infonce_loss(torch.tensor([0.0]), torch.tensor([[0.0]]))), 6) == round(math.log(2), 6)
    True
    """
    s = prepare("infonce", pos, neg, neg_mask)
    neg_logits = s.neg.masked_fill(~s.valid, float("-inf"))
    logits = torch.cat([s.pos[:, None], neg_logits], dim=1)
    return (torch.logsumexp(logits, dim=1) - s.pos).mean()
