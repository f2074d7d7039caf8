"""Shared machinery of the two-view losses: validation, normalisation, autocast, gathering."""
import contextlib
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .. import distributed
from .._dtypes import accumulation_dtype, upcast
from .._validation import check_embeddings, check_positive
from ..pairing import TwoViewPairs, prepare_views, two_view_pairs


def autocast_disabled(device_type: str):
    """Run the loss in full precision even inside ``torch.autocast`` (moments stay >= float32)."""
    if hasattr(torch, "autocast"):
        try:
            return torch.autocast(device_type=device_type, enabled=False)
        except RuntimeError:  # device type without autocast support
            return contextlib.nullcontext()
    if device_type == "cuda":  # torch < 1.10
        return torch.cuda.amp.autocast(enabled=False)
    return contextlib.nullcontext()


class TwoViewLoss(nn.Module):
    """Base of the losses called as ``loss(out0, out1, negatives=None)`` (lightly's convention).

    Args:
        temperature: critic scale T in f(x, y) = <x, y> / T.
        normalize: L2-normalise the outputs first (cosine critic).
        gather_distributed: anchors also see every other rank's views as negatives.
    """

    def __init__(self, temperature: float, normalize: bool, gather_distributed: bool):
        super().__init__()
        check_positive(temperature=temperature)
        if gather_distributed and not torch.distributed.is_available():
            raise ValueError("gather_distributed is True but torch.distributed is not available")
        self.temperature = float(temperature)
        self.normalize = bool(normalize)
        self.gather_distributed = bool(gather_distributed)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, normalize={self.normalize}, gather_distributed={self.gather_distributed}"

    def _views(self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor]) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        check_embeddings(out0, out1, negatives)
        z0, z1 = prepare_views(out0, out1, self.normalize)
        if negatives is not None:
            negatives = upcast(negatives).to(z0.dtype)
            if self.normalize:
                negatives = torch.nn.functional.normalize(negatives, dim=1)
        return z0, z1, negatives

    def _gathered_pairs(self, z0: Tensor, z1: Tensor) -> TwoViewPairs:
        """Local anchors against the candidates of every rank (or just the local ones)."""
        if self.gather_distributed and distributed.is_distributed():
            offset = distributed.rank() * z0.shape[0]
            return two_view_pairs(z0, z1, distributed.all_gather(z0), distributed.all_gather(z1), offset)
        return two_view_pairs(z0, z1)

    @staticmethod
    def _output_dtype(out0: Tensor) -> torch.dtype:
        return accumulation_dtype(out0.dtype)
