"""NWJ bound (Nguyen, Wainwright, Jordan 2010; f-divergence form used by Poole et al. 2019).

I_NWJ = E_P[f] - e^{-1} E_Q[e^f],   loss = -I_NWJ
"""

from dataclasses import dataclass
from typing import ClassVar, Optional

from torch import Tensor

from .._validation import check_knobs, upcast
from ._base import Objective, pooled_log_mean_exp, positive_mean, prepare


@dataclass(frozen=True)
class NWJ(Objective):
    """Negative NWJ lower bound; E_Q pools all valid negatives. No knobs.

    >>> import torch
    >>> abs(float(NWJ()(torch.tensor([1.0]), torch.tensor([[1.0]])))) < 1e-7  # 1 - e^-1 e^1
    True
    """

    name: ClassVar[str] = "nwj"

    def __post_init__(self):
        check_knobs(self)

    def __call__(
        self, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None, pos_mask: Optional[Tensor] = None
    ) -> Tensor:
        s = prepare("nwj", pos, neg, neg_mask, pos_mask)
        # e^{-1} E_Q[e^f] = exp(log E_Q[e^f] - 1), via logsumexp so large scores do not overflow early.
        return -(positive_mean(s.pos, s) - (pooled_log_mean_exp(s.neg, s) - 1.0).exp())

    def without_negatives(self, pos: Tensor) -> Tensor:
        return -upcast(pos).mean()  # E_Q[e^f] over no negative taken as 0
