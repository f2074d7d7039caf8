"""The one declaration of an objective, and the plumbing its function on scores shares.

Every objective is a frozen dataclass subclassing ``Objective``:

* its fields are its knobs, each made by ``knob(default, check, help)``: the default, the check
  (``"nonnegative"``, ``"positive"``, or ``"positive or None"`` for a temperature that defaults to the
  critic's) and a help line. Adapters build their configs from these fields (``dataclasses.fields``);
* ``__call__(pos, neg, neg_mask=None, pos_mask=None)`` is its loss on critic scores: ``pos (A,)`` the
  positive score of each anchor, ``neg (A, K)`` its negatives, ``-inf`` or a False in ``neg_mask``
  marking an invalid one; with ``pos_mask (A, P)``, ``pos (A, P)`` holds several positives per anchor and
  E_P pools the masked ones (the multi-positive layout of SupCon and multi-crop; no boolean indexing);
* ``without_negatives(pos)`` is its loss for a batch that has positive pairs but no negative pair (a
  two-view batch of one sample): every expectation over the empty set of negatives counts as 0, as
  lightly's NTXentLoss gives a finite loss there.

Objectives that act on the pairs as well as on the scores (MIO) list those knobs in ``pair_knobs``.
"""

import dataclasses
from typing import Any, ClassVar, Dict, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .._validation import check_scores, known_value, too_few_negatives, upcast
from ..moments import valid_negatives


def knob(default: Any, check: str, help: str) -> Any:
    """A dataclass field declaring one knob: its default, its check and its help text."""
    return dataclasses.field(default=default, metadata={"check": check, "help": help})


class Objective:
    """Base of the objective declarations (see the module docstring); subclasses are frozen dataclasses."""

    name: ClassVar[str]
    pair_knobs: ClassVar[Tuple[str, ...]] = ()

    def __call__(
        self, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor] = None, pos_mask: Optional[Tensor] = None
    ) -> Tensor:
        raise NotImplementedError

    def without_negatives(self, pos: Tensor) -> Tensor:
        raise NotImplementedError

    def knobs(self) -> Dict[str, Any]:
        """Every knob's value, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def score_knobs(self) -> Dict[str, Any]:
        """The knobs that act on the scores (all but ``pair_knobs``)."""
        return {k: v for k, v in self.knobs().items() if k not in self.pair_knobs}


class Scores(NamedTuple):
    pos: Tensor  # (A,), or (A, P) with pos_valid, non-positive entries replaced by 0
    neg: Tensor  # (A, K), invalid entries replaced by 0 (finite, so no NaN gradients)
    valid: Tensor  # (A, K) bool
    neg_count: Tensor  # number of valid negatives, as a float tensor
    pos_valid: Optional[Tensor] = None  # (A, P) bool: which entries of pos are positives


def prepare(
    name: str, pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor], pos_mask: Optional[Tensor] = None
) -> Scores:
    """Validate, upcast to the accumulation dtype and mask out invalid negatives (and non-positives)."""
    check_scores(pos, neg, neg_mask, pos_mask)
    pos, neg = upcast(pos), upcast(neg)
    valid = valid_negatives(neg, neg_mask)
    count = valid.sum()
    require_negatives(name, neg, count)
    neg = torch.where(valid, neg, torch.zeros_like(neg))
    if pos_mask is not None:
        pos = torch.where(pos_mask, pos, torch.zeros_like(pos))
    return Scores(pos, neg, valid, count.to(neg.dtype), pos_mask)


def positive_mean(values: Tensor, s: Scores) -> Tensor:
    """Mean of ``values`` (shaped like ``s.pos``) over the positives (E_P)."""
    if s.pos_valid is None:
        return values.mean()
    return torch.where(s.pos_valid, values, torch.zeros_like(values)).sum() / s.pos_valid.sum()


def require_negatives(name: str, neg: Tensor, count) -> None:
    """On scores, a set without any valid negative is the caller's error (a count on an accelerator is
    not read back: that check is skipped there rather than synchronising)."""
    if neg.shape[1] == 0 or known_value(count) == 0:
        raise too_few_negatives(name)


def pooled_mean(values: Tensor, s: Scores) -> Tensor:
    """Mean of ``values`` (A, K) over the valid negatives of every anchor (E_Q)."""
    return torch.where(s.valid, values, torch.zeros_like(values)).sum() / s.neg_count


def pooled_log_mean_exp(values: Tensor, s: Scores) -> Tensor:
    """log E_Q[exp(values)] over valid negatives, computed stably with logsumexp."""
    masked = values.masked_fill(~s.valid, float("-inf"))
    return torch.logsumexp(masked.reshape(-1), dim=0) - torch.log(s.neg_count)
