"""Jensen-Shannon (f-GAN) objective (Nowozin et al. 2016; Hjelm et al. 2019, Poole et al. 2019).

    J_JS = E_P[-softplus(-f)] - E_Q[softplus(f)],   loss = -J_JS

This is exactly binary cross-entropy with logits: positives labelled 1, negatives 0.
"""

from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from ._common import Scores, pooled_mean, prepare


def js_loss(pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None) -> Tensor:
    """E_P[softplus(-f)] + E_Q[softplus(f)].

    >>> import torch, math
    >>> round(float(js_loss(torch.tensor([0.0]), torch.tensor([[0.0]]))), 6) == round(2 * math.log(2), 6)
    True
    """
    return binary_pair_loss(prepare("js", pos, neg, neg_mask))


def binary_pair_loss(s: Scores) -> Tensor:
    """BCE with logits of prepared scores: positives labelled 1, valid negatives 0 (each averaged)."""
    return F.softplus(-s.pos).mean() + pooled_mean(F.softplus(s.neg), s)
