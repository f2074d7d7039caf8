"""MIO's binary contrastive term (Manna, Bhattacharya, Pal, arXiv 2111.12664).

MIO classifies pairs: BCEWithLogits(positives, 1) + BCEWithLogits(negatives, 0), each averaged
separately. On scores that is the JS objective; MIO's own ingredients live in the two-view loss
(separate temperatures for positives and negatives, and lambda * MSE between the normalised
projections of the two views; see ``rpc_plugins.ContrastiveLoss(objective="mio")``).
"""

from typing import Optional

from torch import Tensor

from ._common import prepare
from .js import binary_pair_loss


def mio_loss(pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None) -> Tensor:
    """BCE(pos, 1).mean() + BCE(neg, 0).mean() over valid negatives.

    >>> import torch
    >>> float(mio_loss(torch.tensor([20.0]), torch.tensor([[-20.0]]))) < 1e-8
    True
    """
    return binary_pair_loss(prepare("mio", pos, neg, neg_mask))
