"""MIO (Manna, Bhattacharya, Pal, arXiv 2111.12664): JS on the scores plus an L2 term on the views.

MIO classifies pairs with binary cross-entropy, BCE(positives, 1) + BCE(negatives, 0), each averaged
separately: on scores that is the JS objective. Its own ingredients act on the pairs: positives are
scored at 1/pos_temperature and negatives at 1/neg_temperature (both default to the critic's
temperature), and ``l2_weight`` * MSE between the two views' L2-normalised embeddings is added
(``MIO.l2_term``, the one place it is written).
"""

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch.nn.functional as F
from torch import Tensor

from .._validation import check_knobs
from ._base import knob
from .js import JS


@dataclass(frozen=True)
class MIO(JS):
    """MIO: JS on scores, its temperatures and L2 term acting on the pairs.

    >>> import torch
    >>> float(MIO()(torch.tensor([20.0]), torch.tensor([[-20.0]]))) < 1e-8
    True
    """

    name: ClassVar[str] = "mio"
    pair_knobs: ClassVar[tuple] = ("pos_temperature", "neg_temperature", "l2_weight")
    pos_temperature: Optional[float] = knob(
        None, "positive or None", "temperature of the positive pairs (None: the critic's)"
    )
    neg_temperature: Optional[float] = knob(
        None, "positive or None", "temperature of the negative pairs (None: the critic's)"
    )
    l2_weight: float = knob(1.0, "nonnegative", "weight of the MSE between the two views' normalised embeddings")

    def __post_init__(self):
        check_knobs(self)

    def l2_term(self, out0: Tensor, out1: Tensor) -> Tensor:
        """``l2_weight`` * MSE between the L2-normalised views (0, and no work, when the weight is 0)."""
        if self.l2_weight == 0:
            return out0.new_zeros(())
        return self.l2_weight * F.mse_loss(F.normalize(out0, dim=1), F.normalize(out1, dim=1))
