"""Shared plumbing of the objectives: validation, dtype policy, pooled means over valid negatives."""

from typing import NamedTuple, Optional

import torch
from torch import Tensor

from .._dtypes import upcast
from .._validation import check_scores, too_few_negatives
from ..moments import _known_value, valid_negatives


class Scores(NamedTuple):
    pos: Tensor  # (A,)
    neg: Tensor  # (A, K), invalid entries replaced by 0 (finite, so no NaN gradients)
    valid: Tensor  # (A, K) bool
    neg_count: Tensor  # number of valid negatives, as a float tensor


def prepare(name: str, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor]) -> Scores:
    """Validate, upcast to the accumulation dtype and mask out invalid negatives."""
    check_scores(pos, neg, neg_mask)
    pos, neg = upcast(pos), upcast(neg)
    valid = valid_negatives(neg, neg_mask)
    count = valid.sum()
    require_negatives(name, neg, count)
    neg = torch.where(valid, neg, torch.zeros_like(neg))
    return Scores(pos, neg, valid, count.to(neg.dtype))


def require_negatives(name: str, neg: Tensor, count) -> None:
    """On scores, a set without any valid negative is the caller's error (a count on an accelerator is
    not read back: that check is skipped there rather than synchronising)."""
    if neg.shape[1] == 0 or _known_value(count) == 0:
        raise too_few_negatives(name)


def pooled_mean(values: Tensor, s: Scores) -> Tensor:
    """Mean of ``values`` (A, K) over the valid negatives of every anchor (E_Q)."""
    return torch.where(s.valid, values, torch.zeros_like(values)).sum() / s.neg_count


def pooled_log_mean_exp(values: Tensor, s: Scores) -> Tensor:
    """log E_Q[exp(values)] over valid negatives, computed stably with logsumexp."""
    masked = values.masked_fill(~s.valid, float("-inf"))
    return torch.logsumexp(masked.reshape(-1), dim=0) - torch.log(s.neg_count)
