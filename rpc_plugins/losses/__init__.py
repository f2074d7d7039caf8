"""Two-view losses with lightly's call convention ``loss(out0, out1)``."""

from .contrastive_loss import ContrastiveLoss
from ._two_view import NoNegativesWarning
from .rpc_loss import RPCLoss

__all__ = ["ContrastiveLoss", "RPCLoss", "NoNegativesWarning"]
