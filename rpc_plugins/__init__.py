"""rpc_plugins: Relative Predictive Coding and its contrastive peers, for any training library.

Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, "Self-supervised Representation Learning with
Relative Predictive Coding", ICLR 2021 (arXiv 2103.11275).

One sign convention: every entry point returns a loss to minimise. For RPC that is
-J_RPC = -(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2]), on three kinds of input:

* ``RPCLoss()(out0, out1)``: two views' embeddings (SimCLR's 2N layout, fused linear-time path);
* ``rpc_loss(pos, neg, neg_mask)``: critic scores, like every objective in ``OBJECTIVES``;
* ``rpc_loss_from_moments(ScoreMoments(...))``: the six score moments RPC depends on, filled from
  scores by ``ScoreMoments.from_scores`` and from embeddings (every layout and reduction, dense or
  linear-time) by ``embedding_moments``.

Each objective's knobs and their defaults are declared once, in ``OBJECTIVE_KNOBS``; the paper's
presets come from ``RPCLoss.from_paper``.

>>> import torch, rpc_plugins
>>> loss = rpc_plugins.RPCLoss()(torch.randn(8, 32), torch.randn(8, 32))
>>> loss.dim()
0
"""

from ._validation import check_embeddings
from .fused_statistics import view_statistics
from .knobs import OBJECTIVE_KNOBS, objective_options
from .losses import ContrastiveLoss, NoNegativesWarning, RPCLoss
from .moments import ScoreMoments, rpc_loss_from_moments
from .objectives import (
    OBJECTIVE_HYPERPARAMETERS,
    OBJECTIVES,
    dv_loss,
    get_objective,
    infonce_loss,
    js_loss,
    mio_loss,
    nwj_loss,
    rpc_loss,
    smile_loss,
)
from .objectives.no_negatives import positive_only_loss
from .two_view_moments import embedding_moments

__version__ = "0.1.0"

__all__ = [
    "RPCLoss",
    "ContrastiveLoss",
    "rpc_loss",
    "ScoreMoments",
    "rpc_loss_from_moments",
    "embedding_moments",
    "OBJECTIVES",
    "OBJECTIVE_HYPERPARAMETERS",
    "OBJECTIVE_KNOBS",
    "objective_options",
    "get_objective",
    "infonce_loss",
    "nwj_loss",
    "js_loss",
    "dv_loss",
    "smile_loss",
    "mio_loss",
    "view_statistics",
    "check_embeddings",
    "NoNegativesWarning",
    "positive_only_loss",
]
