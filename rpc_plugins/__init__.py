"""rpc_plugins: Relative Predictive Coding and its contrastive peers, for any training library.

Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, "Self-supervised Representation Learning with
Relative Predictive Coding", ICLR 2021 (arXiv 2103.11275).

>>> import torch, rpc_plugins
>>> loss = rpc_plugins.RPCLoss()(torch.randn(8, 32), torch.randn(8, 32))
>>> loss.dim()
0
"""
from ._validation import check_embeddings, finite_check_mode
from .losses import PAPER_PRESETS, ContrastiveLoss, NoNegativesWarning, RPCLoss
from .moments import ScoreMoments, rpc_objective
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
from .pairing import split_column0_logits
from .fused_statistics import ViewStatistics, view_statistics

__version__ = "0.1.0"

__all__ = [
    "RPCLoss",
    "ContrastiveLoss",
    "PAPER_PRESETS",
    "ScoreMoments",
    "rpc_objective",
    "OBJECTIVES",
    "OBJECTIVE_HYPERPARAMETERS",
    "get_objective",
    "rpc_loss",
    "infonce_loss",
    "nwj_loss",
    "js_loss",
    "dv_loss",
    "smile_loss",
    "mio_loss",
    "split_column0_logits",
    "view_statistics",
    "ViewStatistics",
    "check_embeddings",
    "finite_check_mode",
    "NoNegativesWarning",
    "positive_only_loss",
]
