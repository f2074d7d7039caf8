"""Input checks shared by every objective and loss.

Every check raises ``ValueError`` with a message that names the offending argument, so that a bad
batch never turns silently into a NaN loss.
"""
from typing import Optional

import torch
from torch import Tensor


def check_nonnegative(**values: float) -> None:
    """Raise if any named hyperparameter (e.g. alpha, beta, gamma) is negative or not finite.

    >>> check_nonnegative(alpha=0.3, beta=0.0)
    """
    for name, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{name} must be a real number, got {value!r}")
        if not value >= 0 or value == float("inf"):
            raise ValueError(f"{name} must be finite and >= 0, got {value}")


def check_positive(**values: float) -> None:
    """Raise if any named hyperparameter (e.g. temperature) is not a finite number > 1e-8.

    >>> check_positive(temperature=0.5)
    """
    for name, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{name} must be a real number, got {value!r}")
        if not value > 1e-8 or value == float("inf"):
            raise ValueError(f"{name} must be finite and > 1e-8, got {value}")


def check_floating(name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype, got {x.dtype}")


def check_no_nan(name: str, x: Tensor, allow_neg_inf: bool = False) -> None:
    """Raise on NaN or +inf (and on -inf unless ``allow_neg_inf``: -inf marks a masked negative)."""
    if allow_neg_inf:
        bad = torch.isnan(x) | (x == float("inf"))
        what = "NaN or +Inf"
    else:
        bad = ~torch.isfinite(x)
        what = "NaN or Inf"
    if bool(bad.any()):
        raise ValueError(f"{name} contains {what} values ({int(bad.sum())} of {x.numel()})")


def check_embeddings(out0: Tensor, out1: Tensor, negatives: Optional[Tensor] = None) -> None:
    """Validate the two views ``(N, D)`` (and optional extra negatives ``(M, D)``)."""
    check_floating("out0", out0)
    check_floating("out1", out1)
    if out0.dim() != 2 or out1.dim() != 2:
        raise ValueError(
            f"out0 and out1 must be 2-D (batch, dim), got shapes {tuple(out0.shape)} and {tuple(out1.shape)}"
        )
    if out0.shape != out1.shape:
        raise ValueError(f"out0 and out1 must have the same shape, got {tuple(out0.shape)} and {tuple(out1.shape)}")
    if out0.shape[0] == 0 or out0.shape[1] == 0:
        raise ValueError(f"out0 and out1 must be non-empty, got shape {tuple(out0.shape)}")
    check_no_nan("out0", out0)
    check_no_nan("out1", out1)
    if negatives is not None:
        check_floating("negatives", negatives)
        if negatives.dim() != 2 or negatives.shape[1] != out0.shape[1]:
            raise ValueError(
                f"negatives must be (M, {out0.shape[1]}) to match out0's dim, got {tuple(negatives.shape)}"
            )
        check_no_nan("negatives", negatives)


def check_scores(pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor]) -> None:
    """Validate per-anchor scores: ``pos (A,)``, ``neg (A, K)``, ``neg_mask (A, K)`` bool or None."""
    check_floating("pos", pos)
    check_floating("neg", neg)
    if pos.dim() != 1:
        raise ValueError(f"pos must be 1-D (anchors,), got shape {tuple(pos.shape)}")
    if neg.dim() != 2 or neg.shape[0] != pos.shape[0]:
        raise ValueError(
            f"neg must be 2-D (anchors, negatives) with {pos.shape[0]} rows to match pos, got {tuple(neg.shape)}"
        )
    if pos.shape[0] == 0:
        raise ValueError("pos is empty: need at least one anchor")
    if neg_mask is not None:
        if neg_mask.dtype != torch.bool:
            raise ValueError(f"neg_mask must be a bool tensor, got {neg_mask.dtype}")
        if neg_mask.shape != neg.shape:
            raise ValueError(f"neg_mask shape {tuple(neg_mask.shape)} must equal neg shape {tuple(neg.shape)}")
    check_no_nan("pos", pos)
    check_no_nan("neg", neg, allow_neg_inf=True)


def too_few_negatives(where: str) -> ValueError:
    return ValueError(
        f"{where}: no valid negative pair. A batch needs N >= 2 (or extra negatives from a memory bank "
        "or other ranks) and at least one negative that is not masked/-inf."
    )
