"""Every objective's value when a batch has positive pairs but no negative pair at all.

A two-view batch of one sample (the last batch of a ``drop_last=False`` DataLoader) has no
negatives unless a memory bank or other ranks supply them. lightly's NTXentLoss returns a finite
loss there (the cross-entropy of the positive among candidates {positive} is 0) and training goes
on, so the two-view losses do the same. The rule, for every objective: an expectation over the
empty set of negatives contributes 0 (InfoNCE's partition sum over no negative is its positive
alone). For RPC (``rpc_plugins.rpc_loss_from_moments``) J = E_P[f] - beta/2 E_P[f^2].

The objectives on scores (``rpc_plugins.get_objective(name)(pos, neg, mask)``) still reject a
score set without negatives: there it is a caller's error, not a batch-size edge.

>>> import torch
>>> float(positive_only_loss("infonce", torch.tensor([3.0, 1.0])))
0.0
>>> float(positive_only_loss("nwj", torch.tensor([3.0, 1.0])))
-2.0
"""

import torch.nn.functional as F
from torch import Tensor

from .._dtypes import upcast
from ..knobs import score_options
from ..moments import ScoreMoments, rpc_loss_from_moments


def positive_only_loss(name: str, pos: Tensor, **hyper) -> Tensor:
    """Loss of objective ``name`` on positive scores ``pos (A,)`` with an empty negative set."""
    pos = upcast(pos)
    if name == "infonce":
        return (pos - pos).mean()  # -log(e^f / e^f): 0, still attached to the graph
    if name in ("nwj", "dv", "smile"):
        return -pos.mean()  # E_Q[e^f] (NWJ), log E_Q[e^f] (DV, SMILE) taken as 0
    if name in ("js", "mio"):
        return F.softplus(-pos).mean()  # BCE(pos, 1); the negatives' BCE term is 0
    if name == "rpc":  # an empty neg gives the count 0: J = E_P[f] - beta/2 E_P[f^2]
        moments = ScoreMoments.from_scores(pos, pos.new_zeros(pos.shape[0], 0), check_finite=False)
        return rpc_loss_from_moments(moments, **score_options("rpc", hyper)).to(pos.dtype)
    raise ValueError(f"unknown objective {name!r}")
