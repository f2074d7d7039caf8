"""InfoNCE / CPC (Oord et al. 2018): cross-entropy of the positive among its candidates.

Per anchor i: -log( e^{pos_i} / (e^{pos_i} + sum_k e^{neg_ik}) ) over valid negatives, averaged
over anchors. With the SimCLR 2N layout and f = cos/T this is NT-Xent (lightly's NTXentLoss).
"""

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import Tensor

from .._validation import check_knobs, upcast
from ._base import Objective, prepare


@dataclass(frozen=True)
class InfoNCE(Objective):
    """InfoNCE has no knobs (the critic's temperature belongs to the pairing).

    >>> import math
    >>> round(float(InfoNCE()(torch.tensor([0.0]), torch.tensor([[0.0]]))), 6) == round(math.log(2), 6)
    True
    """

    name: ClassVar[str] = "infonce"

    def __post_init__(self):
        check_knobs(self)

    def __call__(
        self, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None, pos_mask: Optional[Tensor] = None
    ) -> Tensor:
        if pos_mask is not None:
            raise ValueError("infonce scores each positive against its own row: use multi_positive_loss for pos_mask")
        s = prepare("infonce", pos, neg, neg_mask)
        logits = torch.cat([s.pos[:, None], s.neg.masked_fill(~s.valid, float("-inf"))], dim=1)
        return (torch.logsumexp(logits, dim=1) - s.pos).mean()

    def without_negatives(self, pos: Tensor) -> Tensor:
        pos = upcast(pos)
        return (pos - pos).mean()  # -log(e^f / e^f): 0, still attached to the graph
