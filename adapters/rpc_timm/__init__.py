"""timm adapter: backbones for contrastive pretraining, small-image stems included.

>>> import torch, rpc_timm
>>> backbone = rpc_timm.create_backbone("resnet18", in_chans=1, small_input=True)
>>> backbone(torch.randn(2, 1, 28, 28)).shape[1] == backbone.num_features
True
"""

from .backbone import create_backbone

__all__ = ["create_backbone"]
