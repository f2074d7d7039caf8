"""SMILE (Song & Ermon, "Understanding the Limitations of Variational MI Estimators", ICLR 2020).

Value: the DV bound with e^f clipped to [e^-clip, e^clip] in the partition term,

    I_SMILE = E_P[f] - log E_Q[clip(e^f, e^-clip, e^clip)],

gradient: the Jensen-Shannon objective's, as in the authors' code (the critic is trained with JS
and SMILE is read off it): ``loss = js + (smile_value - js).detach()``.
"""

from typing import Optional

import torch
from torch import Tensor

from .._validation import check_positive
from ._common import pooled_log_mean_exp, prepare
from .js import binary_pair_loss
from ..knobs import SMILE_DEFAULTS


def smile_loss(
    pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None, *, clip: float = SMILE_DEFAULTS["clip"]
) -> Tensor:
    """Negative SMILE value with the JS gradient.

    >>> import math, torch
    >>> value = float(smile_loss(torch.tensor([2.0]), torch.tensor([[9.0, -9.0]]), clip=1.0))
    >>> abs(value + (2 - math.log((math.e + 1 / math.e) / 2))) < 1e-6  # e^9 clipped to e, e^-9 to 1/e
    True
    """
    check_positive(clip=clip)
    s = prepare("smile", pos, neg, neg_mask)
    value = -(s.pos.mean() - pooled_log_mean_exp(torch.clamp(s.neg, -clip, clip), s))
    js = binary_pair_loss(s)
    return js + (value - js).detach()
