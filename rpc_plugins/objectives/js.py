"""Jensen-Shannon (f-GAN) objective (Nowozin et al. 2016; Hjelm et al. 2019, Poole et al. 2019).

    J_JS = E_P[-softplus(-f)] - E_Q[softplus(f)],   loss = -J_JS

This is exactly binary cross-entropy with logits: positives labelled 1, negatives 0.
"""

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch.nn.functional as F
from torch import Tensor

from .._validation import check_knobs, upcast
from ._base import Objective, Scores, pooled_mean, positive_mean, prepare


def binary_pair_loss(s: Scores) -> Tensor:
    """BCE with logits of prepared scores: positives labelled 1, valid negatives 0 (each averaged)."""
    return positive_mean(F.softplus(-s.pos), s) + pooled_mean(F.softplus(s.neg), s)


@dataclass(frozen=True)
class JS(Objective):
    """E_P[softplus(-f)] + E_Q[softplus(f)]. No knobs.

    >>> import torch
    >>> import math
    >>> round(float(JS()(torch.tensor([0.0]), torch.tensor([[0.0]]))), 6) == round(2 * math.log(2), 6)
    True
    """

    name: ClassVar[str] = "js"

    def __post_init__(self):
        check_knobs(self)

    def __call__(
        self, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None, pos_mask: Optional[Tensor] = None
    ) -> Tensor:
        return binary_pair_loss(prepare(self.name, pos, neg, neg_mask, pos_mask))

    def without_negatives(self, pos: Tensor) -> Tensor:
        return F.softplus(-upcast(pos)).mean()  # BCE(pos, 1); the negatives' BCE term is 0
