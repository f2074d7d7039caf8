"""Mutual-information estimation with RPC and its peers (Tsai et al., ICLR 2021, Section 4.3).

Train any critic (separable or concat) with any objective from ``rpc_plugins.OBJECTIVES`` and read
off an MI estimate from its score matrix; for RPC, invert the optimal critic
f* = (r - alpha)/(beta r + gamma) into a density ratio r and average log r over the positive pairs
(``rpc_estimate``'s default ``form="per_sample"``; the authors' readout is ``form="batch_mean"``).
``gaussian.log_ratio`` gives the true ratio of the benchmark tasks (Poole et al. 2019), so any readout
can be checked on an exact optimal critic.

>>> import torch
>>> from rpc_plugins.mi import estimate
>>> round(float(estimate("infonce", torch.zeros(8, 8))), 6)  # an uninformative critic: I_NCE = 0
0.0
"""

from . import gaussian
from .critics import ConcatCritic, RPCRatioHead, SeparableCritic, rpc_score_from_log_ratio
from .estimators import (
    DEFAULT_KNOBS,
    ESTIMATES,
    RPC_FORMS,
    estimate,
    rpc_estimate,
    rpc_log_ratio,
    rpc_ratio,
    split_scores,
    training_loss,
)
from .train import train_critic

__all__ = [
    "gaussian",
    "SeparableCritic",
    "ConcatCritic",
    "RPCRatioHead",
    "rpc_score_from_log_ratio",
    "estimate",
    "rpc_estimate",
    "rpc_ratio",
    "rpc_log_ratio",
    "RPC_FORMS",
    "split_scores",
    "training_loss",
    "train_critic",
    "ESTIMATES",
    "DEFAULT_KNOBS",
]
