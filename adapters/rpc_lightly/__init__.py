"""lightly adapter: RPC and its peers as lightly losses, and a SimCLR-style model helper.

>>> import torch, rpc_lightly
>>> loss_fn = rpc_lightly.RPCLoss(temperature=0.1)         # instead of lightly.loss.NTXentLoss()
>>> loss_fn(torch.randn(8, 32), torch.randn(8, 32)).dim()
0
"""

from .loss import ContrastiveLoss, RPCLoss
from .model import SimCLRModel

__all__ = ["ContrastiveLoss", "RPCLoss", "SimCLRModel"]
