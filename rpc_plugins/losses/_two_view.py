"""Shared machinery of the two-view losses: validation, normalisation, autocast, gathering."""

import contextlib
import warnings
from typing import Optional, Set, Tuple

import torch
from torch import Tensor, nn

from .._dtypes import accumulation_dtype, upcast
from .._validation import check_embeddings, check_finite_option, check_positive, check_values
from ..pairing import TwoViewPairs, prepare_views, two_view_pairs, two_view_pairs_across_ranks


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


class NoNegativesWarning(UserWarning):
    """A two-view batch had no negative pair (a batch of one sample without other negatives)."""


_warned: Set[str] = set()


def warn_no_negatives(where: str) -> None:
    """Warn once per loss class: the negative terms of this batch are taken over an empty set (0)."""
    if where in _warned:
        return
    _warned.add(where)
    warnings.warn(
        f"{where}: a batch of one sample has no negative pair; its negative terms are taken as 0 "
        "(expectations over an empty set), as lightly's NTXentLoss gives a finite loss there. "
        "Use drop_last=True, a memory bank or gather_distributed to avoid such batches.",
        NoNegativesWarning,
        stacklevel=3,
    )


class TwoViewLoss(nn.Module):
    """Base of the losses called as ``loss(out0, out1, negatives=None)`` (lightly's convention).

    Args:
        temperature: critic scale T in f(x, y) = <x, y> / T.
        normalize: L2-normalise the outputs first (cosine critic).
        gather_distributed: anchors also see every other rank's views as negatives.
        check_finite: NaN/Inf policy for the inputs ("auto", True, False or "async"; see
            ``_validation.finite_check_mode``): by default a ValueError for CPU inputs and no
            host synchronisation on an accelerator.
    """

    def __init__(self, temperature: float, normalize: bool, gather_distributed: bool, check_finite="auto"):
        super().__init__()
        check_positive(temperature=temperature)
        check_finite_option(check_finite)
        self.check_finite = check_finite
        if gather_distributed and not torch.distributed.is_available():
            raise ValueError("gather_distributed is True but torch.distributed is not available")
        self.temperature = float(temperature)
        self.normalize = bool(normalize)
        self.gather_distributed = bool(gather_distributed)

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, normalize={self.normalize}, gather_distributed={self.gather_distributed}"
        )

    def _views(
        self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor]
    ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        check_embeddings(out0, out1, negatives)
        check_values(self.check_finite, {"out0": out0, "out1": out1, "negatives": negatives})
        z0, z1 = prepare_views(out0, out1, self.normalize)
        if negatives is not None:
            negatives = upcast(negatives).to(z0.dtype)
            if self.normalize:
                negatives = torch.nn.functional.normalize(negatives, dim=1)
        return z0, z1, negatives

    def _gathered_pairs(self, z0: Tensor, z1: Tensor) -> TwoViewPairs:
        """Local anchors against the candidates of every rank (or just the local ones)."""
        return two_view_pairs_across_ranks(z0, z1) if self.gather_distributed else two_view_pairs(z0, z1)

    @staticmethod
    def _output_dtype(out0: Tensor) -> torch.dtype:
        return accumulation_dtype(out0.dtype)
