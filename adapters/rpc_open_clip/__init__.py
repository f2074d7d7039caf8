"""open_clip adapter: RPC (Tsai et al., ICLR 2021, arXiv 2103.11275) and its peers as open_clip losses.

``ObjectiveClipLoss`` has ``open_clip.ClipLoss``'s call signature; with RPC it all-reduces the d x d
statistics of the features instead of gathering them. ``python -m rpc_open_clip.train --loss rpc ...``
is open_clip_train with the loss swapped.

>>> import torch, torch.nn.functional as F
>>> from rpc_open_clip import ObjectiveClipLoss
>>> image, text = F.normalize(torch.randn(4, 8), dim=1), F.normalize(torch.randn(4, 8), dim=1)
>>> float(ObjectiveClipLoss("rpc", alpha=0.5)(image, text, torch.tensor(1.0))) < 1.0
True
"""

from .loss import MOMENT_OBJECTIVES, OBJECTIVES, REDUCTIONS, ObjectiveClipLoss, create_loss

__all__ = ["ObjectiveClipLoss", "create_loss", "OBJECTIVES", "MOMENT_OBJECTIVES", "REDUCTIONS"]
