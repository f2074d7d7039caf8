"""Donsker-Varadhan bound (as in MINE, Belghazi et al. 2018).

I_DV = E_P[f] - log E_Q[e^f],   loss = -I_DV
"""

from dataclasses import dataclass
from typing import ClassVar, Optional

from torch import Tensor

from .._validation import check_knobs, upcast
from ._base import Objective, pooled_log_mean_exp, positive_mean, prepare


@dataclass(frozen=True)
class DV(Objective):
    """Negative DV bound; log E_Q[e^f] is a stable logsumexp over all valid negatives. No knobs.

    >>> import torch
    >>> float(DV()(torch.tensor([2.0]), torch.tensor([[0.0, 0.0]])))
    -2.0
    """

    name: ClassVar[str] = "dv"

    def __post_init__(self):
        check_knobs(self)

    def __call__(
        self, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None, pos_mask: Optional[Tensor] = None
    ) -> Tensor:
        s = prepare("dv", pos, neg, neg_mask, pos_mask)
        return -(positive_mean(s.pos, s) - pooled_log_mean_exp(s.neg, s))

    def without_negatives(self, pos: Tensor) -> Tensor:
        return -upcast(pos).mean()  # log E_Q[e^f] over no negative taken as 0
