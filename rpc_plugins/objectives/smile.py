"""SMILE (Song & Ermon, "Understanding the Limitations of Variational MI Estimators", ICLR 2020).

Value: the DV bound with e^f clipped to [e^-clip, e^clip] in the partition term,

    I_SMILE = E_P[f] - log E_Q[clip(e^f, e^-clip, e^clip)],

gradient: the Jensen-Shannon objective's, as in the authors' code (the critic is trained with JS
and SMILE is read off it): ``loss = js + (smile_value - js).detach()``.
"""

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import Tensor

from .._validation import check_knobs, upcast
from ._base import Objective, knob, pooled_log_mean_exp, positive_mean, prepare
from .js import binary_pair_loss


@dataclass(frozen=True)
class SMILE(Objective):
    """Negative SMILE value with the JS gradient.

    >>> import math
    >>> value = float(SMILE(clip=1.0)(torch.tensor([2.0]), torch.tensor([[9.0, -9.0]])))
    >>> abs(value + (2 - math.log((math.e + 1 / math.e) / 2))) < 1e-6  # e^9 clipped to e, e^-9 to 1/e
    True
    """

    name: ClassVar[str] = "smile"
    clip: float = knob(5.0, "positive", "log-ratio clip of the partition term, e^f clipped to [e^-clip, e^clip]")

    def __post_init__(self):
        check_knobs(self)

    def __call__(
        self, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None, pos_mask: Optional[Tensor] = None
    ) -> Tensor:
        s = prepare("smile", pos, neg, neg_mask, pos_mask)
        value = -(positive_mean(s.pos, s) - pooled_log_mean_exp(torch.clamp(s.neg, -self.clip, self.clip), s))
        js = binary_pair_loss(s)
        return js + (value - js).detach()

    def without_negatives(self, pos: Tensor) -> Tensor:
        return -upcast(pos).mean()  # log E_Q[e^f] over no negative taken as 0
