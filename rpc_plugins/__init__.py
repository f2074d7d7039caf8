"""rpc_plugins: Relative Predictive Coding and its contrastive peers, for any training library.

Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, "Self-supervised Representation Learning with
Relative Predictive Coding", ICLR 2021 (arXiv 2103.11275).

One sign convention: every entry point returns a loss to minimise. For RPC that is
-J_RPC = -(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2]), on three kinds of input:

* ``RPCLoss()(out0, out1)``: two views' embeddings (``losses``; any objective: ``ContrastiveLoss``);
* ``rpc_loss(pos, neg, neg_mask)``: critic scores, like every objective in ``OBJECTIVES`` (``objectives``);
* ``rpc_loss_from_moments(ScoreMoments(...))``: the six score moments RPC depends on, filled from scores
  by ``ScoreMoments.from_scores`` and from embeddings by ``embedding_moments`` (``moments``).

Each objective is declared once (``OBJECTIVES[name]``, a dataclass of its knobs); ``OBJECTIVE_KNOBS``
and ``get_objective`` are read off those declarations.

>>> import torch, rpc_plugins
>>> loss = rpc_plugins.RPCLoss()(torch.randn(8, 32), torch.randn(8, 32))
>>> loss.dim()
0
"""

from ._validation import check_embeddings, full_precision
from .losses import ContrastiveLoss, NoNegativesWarning, RPCLoss
from .moments import ScoreMoments, embedding_moments
from .objectives import (
    DV,
    JS,
    MIO,
    NWJ,
    OBJECTIVE_KNOBS,
    OBJECTIVES,
    RPC,
    SMILE,
    InfoNCE,
    Objective,
    get_objective,
    objective_options,
    rpc_loss,
    rpc_loss_from_moments,
)

__version__ = "0.1.0"

__all__ = [
    "RPCLoss",
    "ContrastiveLoss",
    "NoNegativesWarning",
    "ScoreMoments",
    "embedding_moments",
    "Objective",
    "RPC",
    "InfoNCE",
    "NWJ",
    "JS",
    "DV",
    "SMILE",
    "MIO",
    "OBJECTIVES",
    "OBJECTIVE_KNOBS",
    "get_objective",
    "objective_options",
    "rpc_loss",
    "rpc_loss_from_moments",
    "check_embeddings",
    "full_precision",
]
